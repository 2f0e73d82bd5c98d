import { intOrUndef, isoTime, parseJsonObject, str } from './fields.ts';
import { httpEvent, type LineParser, type LogFormat, NOMATCH } from './types.ts';

/**
 * Traefik JSON access log: `ClientHost`, `RequestMethod`, `RequestPath` (path and query), `RequestHost`,
 * `DownstreamStatus`, `DownstreamContentSize`, `StartUTC`, and kept headers as `request_<Name>`.
 */
export const traefikFormat: LogFormat = {
  name: 'traefik',
  sniff: (line) => line.includes('"RequestPath"') && line.includes('"DownstreamStatus"'),
  create(): LineParser {
    return {
      format: 'traefik',
      parse(text, origin) {
        const o = parseJsonObject(text);
        if (!o || !('RequestPath' in o)) return NOMATCH;
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(o)) {
          if (k.startsWith('request_') && typeof v === 'string') headers[k.slice(8).toLowerCase()] = v;
        }
        const { referer, 'user-agent': ua, host: _h, ...others } = headers;
        const ev = httpEvent({
          origin: { file: origin.file, line: origin.line, format: 'traefik' },
          time: isoTime(str(o.StartUTC) ?? str(o.time)),
          clientIp: str(o.ClientHost),
          method: str(o.RequestMethod),
          target: str(o.RequestPath),
          host: str(o.RequestHost),
          referer,
          userAgent: ua,
          status: intOrUndef(o.DownstreamStatus as number),
          bytes: intOrUndef(o.DownstreamContentSize as number),
          ...(Object.keys(others).length > 0 ? { headers: others } : {}),
        });
        return { kind: 'event', event: ev };
      },
    };
  },
};
