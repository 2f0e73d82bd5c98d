import { epochTime, intOrUndef, parseJsonObject, str } from './fields.ts';
import { httpEvent, type LineParser, type LogFormat, NOMATCH } from './types.ts';

/**
 * AWS WAF logs (JSON per line): `httpRequest.{clientIp, headers[{name,value}], uri, args, httpMethod}`, `action`,
 * and, when logged, `responseCodeSent`. WAF records no response size, so a WAF line never proves success.
 */
interface WafRequest {
  clientIp?: string;
  headers?: Array<{ name?: string; value?: string }>;
  uri?: string;
  args?: string;
  httpMethod?: string;
}

export const awswafFormat: LogFormat = {
  name: 'awswaf',
  sniff: (line) => line.includes('"httpRequest"') && line.includes('"webaclId"'),
  create(): LineParser {
    return {
      format: 'awswaf',
      parse(text, origin) {
        const o = parseJsonObject(text);
        const req = o?.httpRequest as WafRequest | undefined;
        if (!o || !req || typeof req !== 'object') return NOMATCH;
        const headers: Record<string, string> = {};
        for (const h of Array.isArray(req.headers) ? req.headers : []) {
          if (typeof h?.name === 'string' && typeof h.value === 'string') headers[h.name.toLowerCase()] = h.value;
        }
        const { host, referer, 'user-agent': ua, ...others } = headers;
        const uri = str(req.uri);
        const args = str(req.args);
        const ev = httpEvent({
          origin: { file: origin.file, line: origin.line, format: 'awswaf' },
          time: epochTime(o.timestamp, true),
          clientIp: str(req.clientIp),
          method: str(req.httpMethod),
          target: uri !== undefined ? (args ? `${uri}?${args}` : uri) : undefined,
          host,
          referer,
          userAgent: ua,
          status: intOrUndef(o.responseCodeSent as number | undefined),
          headers: others,
          extra: { action: String(o.action ?? '') },
        });
        return { kind: 'event', event: ev };
      },
    };
  },
};
