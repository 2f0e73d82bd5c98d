import { intOrUndef, isoTime, orUndef, splitQuoted, splitRequestLine } from './fields.ts';
import { httpEvent, type LineParser, type LogFormat, NOMATCH } from './types.ts';

/**
 * Envoy's default access log format:
 * `[%START_TIME%] "%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%" %RESPONSE_CODE% %RESPONSE_FLAGS%
 * %BYTES_RECEIVED% %BYTES_SENT% %DURATION% %RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)% "%REQ(X-FORWARDED-FOR)%"
 * "%REQ(USER-AGENT)%" "%REQ(X-REQUEST-ID)%" "%REQ(:AUTHORITY)%" "%UPSTREAM_HOST%"` (newer releases append fields).
 * The upstream host is Envoy's own routing decision, not attacker input, so it is not classified.
 */
const HEAD = /^\[\d{4}-\d{2}-\d{2}T[\d:.]+(?:Z|[+-]\d{2}:?\d{2})\] "/;

export const envoyFormat: LogFormat = {
  name: 'envoy',
  sniff: (line) => HEAD.test(line),
  create(): LineParser {
    return {
      format: 'envoy',
      parse(text, origin) {
        if (!HEAD.test(text)) return NOMATCH;
        const f = splitQuoted(text);
        if (f.length < 13) return NOMATCH;
        const req = splitRequestLine(f[1]!);
        const xff = orUndef(f[8]);
        return {
          kind: 'event',
          event: httpEvent({
            origin: { file: origin.file, line: origin.line, format: 'envoy' },
            time: isoTime(f[0]),
            method: req.method,
            target: req.target,
            status: intOrUndef(f[2]),
            bytes: intOrUndef(f[5]),
            clientIp: xff?.split(',')[0]?.trim(),
            userAgent: orUndef(f[9]),
            host: orUndef(f[11]),
          }),
        };
      },
    };
  },
};
