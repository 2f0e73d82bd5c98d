import { intOrUndef, isoTime, parseJsonObject, str } from './fields.ts';
import { httpEvent, type LineParser, type LogFormat, NOMATCH } from './types.ts';

/**
 * Suricata eve.json: one JSON object per line with `event_type`; `http` events carry `http.{hostname, url,
 * http_refer, http_method, status, length}` and, when enabled, `request_headers` and `http_request_body_printable`.
 * Other event types (flow, dns, alert, stats, …) are interleaved and ignored here: an `alert` repeats the request of
 * an `http` event, so reading both would report it twice.
 */
interface EveHttp {
  hostname?: string;
  url?: string;
  http_refer?: string;
  http_user_agent?: string;
  http_method?: string;
  status?: number | string;
  length?: number;
  request_headers?: Array<{ name?: string; value?: string }>;
  http_request_body_printable?: string;
}

export const eveFormat: LogFormat = {
  name: 'eve',
  sniff: (line) => line.includes('"event_type"') && line.includes('"flow_id"'),
  create(): LineParser {
    return {
      format: 'eve',
      parse(text, origin) {
        const o = parseJsonObject(text);
        if (!o || typeof o.event_type !== 'string') return NOMATCH;
        if (o.event_type !== 'http') return { kind: 'ignore', reason: `eve ${o.event_type} event` };
        const h = (o.http ?? {}) as EveHttp;
        const headers: Record<string, string> = {};
        for (const x of Array.isArray(h.request_headers) ? h.request_headers : []) {
          if (typeof x?.name === 'string' && typeof x.value === 'string') headers[x.name.toLowerCase()] = x.value;
        }
        delete headers.host;
        delete headers.referer;
        delete headers['user-agent'];
        const ev = httpEvent({
          origin: { file: origin.file, line: origin.line, format: 'eve' },
          time: isoTime(str(o.timestamp)),
          clientIp: str(o.src_ip),
          method: str(h.http_method),
          target: str(h.url),
          host: str(h.hostname),
          referer: str(h.http_refer),
          userAgent: str(h.http_user_agent),
          status: intOrUndef(h.status),
          bytes: intOrUndef(h.length),
          ...(Object.keys(headers).length > 0 ? { headers } : {}),
          ...(h.http_request_body_printable ? { body: h.http_request_body_printable } : {}),
        });
        return { kind: 'event', event: ev };
      },
    };
  },
};
