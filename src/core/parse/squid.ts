import { epochTime, intOrUndef, orUndef } from './fields.ts';
import { httpEvent, type LineParser, type LogFormat, NOMATCH } from './types.ts';

/**
 * Squid native access.log: `time elapsed client action/status bytes method URL user hierarchy/peer type`.
 * The URL is what the proxy fetched (absolute-form, or `host:port` for CONNECT): an internal destination here was
 * reached by the proxy itself, so it is classified as a fetched URL.
 */
const RE = /^(\d{9,11}\.\d{1,3})\s+(-?\d+) (\S+) ([A-Z_]+)\/(\d{3}) (\d+) (\S+) (\S+)(?: (\S+))?(?: (\S+))?(?: (\S+))?/;

export const squidFormat: LogFormat = {
  name: 'squid',
  sniff: (line) => RE.test(line),
  create(): LineParser {
    return {
      format: 'squid',
      parse(text, origin) {
        const m = RE.exec(text);
        if (!m) return NOMATCH;
        return {
          kind: 'event',
          event: httpEvent({
            origin: { file: origin.file, line: origin.line, format: 'squid' },
            time: epochTime(m[1]),
            clientIp: m[3],
            status: intOrUndef(m[5]),
            bytes: intOrUndef(m[6]),
            method: m[7],
            // Absolute-form proxy target: classified as a URL the proxy fetched.
            extra: { proxy_url: m[8]! },
            ...(orUndef(m[10]) ? { headers: { hierarchy: m[10]! } } : {}),
          }),
        };
      },
    };
  },
};
