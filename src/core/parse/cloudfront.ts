import type { LineParser, LogFormat } from './types.ts';
import { W3cState, w3cParse, w3cPlaces } from './w3c.ts';

/**
 * CloudFront standard logs: W3C, tab-separated, `#Version: 1.0` and `#Fields:` first. CloudFront percent-encodes
 * spaces, control characters and `%` itself in logged values (a `%` the client sent is written `%25`), so an
 * encoded attack arrives double-encoded: one layer is undone here, and the classifier sees what the client sent.
 */
export const CLOUDFRONT_FIELDS =
  'date time x-edge-location sc-bytes c-ip cs-method cs(Host) cs-uri-stem sc-status cs(Referer) cs(User-Agent) cs-uri-query cs(Cookie) x-edge-result-type x-edge-request-id x-host-header cs-protocol cs-bytes time-taken x-forwarded-for ssl-protocol ssl-cipher x-edge-response-result-type cs-protocol-version fle-status fle-encrypted-fields c-port time-to-first-byte x-edge-detailed-result-type sc-content-type sc-content-len sc-range-start sc-range-end'.split(
    ' ',
  );

/** Undo CloudFront's own encoding layer: `%25` → `%`, `%20` → space, escaped non-ASCII bytes → their UTF-8 text. */
export function cloudfrontUnescape(v: string): string {
  if (!v.includes('%')) return v;
  const out: number[] = [];
  const src = Buffer.from(v, 'utf8');
  for (let i = 0; i < src.length; i++) {
    const b = src[i]!;
    if (b === 0x25 && i + 2 < src.length && /^[0-9A-Fa-f]{2}$/.test(String.fromCharCode(src[i + 1]!, src[i + 2]!))) {
      const c = Number.parseInt(String.fromCharCode(src[i + 1]!, src[i + 2]!), 16);
      // CloudFront escapes only bytes outside printable ASCII plus a few delimiters; the rest is as the client wrote.
      if (c <= 0x20 || c >= 0x7f || c === 0x25 || c === 0x22 || c === 0x5c) {
        out.push(c);
        i += 2;
        continue;
      }
    }
    out.push(b);
  }
  return Buffer.from(out).toString('utf8');
}

export const cloudfrontFormat: LogFormat = {
  name: 'cloudfront',
  sniff: (line) =>
    /^#Fields:.*x-edge-location/i.test(line) ||
    /^#Version: 1\.0$/.test(line) ||
    /^\d{4}-\d{2}-\d{2}\t\d{2}:\d{2}:\d{2}\t[A-Z]{3}\d+(?:-[A-Z0-9]+)?\t/.test(line),
  create(): LineParser {
    const state = new W3cState('\t', CLOUDFRONT_FIELDS);
    const map = { format: 'cloudfront', unescape: cloudfrontUnescape };
    const looksRight = (r: Record<string, string>) => Boolean(r.date && r['cs-uri-stem']);
    return {
      format: 'cloudfront',
      parse: (text, origin) => w3cParse(state, text, origin, map, looksRight),
      quickPlaces: (text) => w3cPlaces(state, text, map, looksRight),
    };
  },
};
