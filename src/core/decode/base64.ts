/** Base64 and base64url values that carry a URL (e.g. `?u=aHR0cDovLzE2OS4yNTQuMTY5LjI1NC8=`). */

const RUN = /[A-Za-z0-9+/_-]{12,}={0,2}/g;
/**
 * What a decoded value must contain to be worth a view: a URL, a metadata marker, or an encoded URL. Exact strings
 * (case-sensitive), so that the prefilter can look for their base64 forms without decoding.
 */
export const BASE64_MARKERS = [
  '://',
  ':\\\\',
  'http:',
  'HTTP:',
  '169.254',
  '100.100',
  '[::',
  'ffff:',
  'a9fe',
  '&#x',
  '&#1',
  '&#2',
  '&#3',
  '&#4',
  '&#5',
  '&#6',
  '&#7',
  '&#8',
  '&#9',
  '%3A',
  '%3a',
  '%2F',
  '%2f',
  '%25',
  '%26',
  '%23',
  '%3D',
  '%3d',
  '%u00',
  ':\\/',
  'credentials',
  'meta-data',
  'api/token',
  'oauth2',
  'identity',
  'opc/v',
  'user_data',
  'hetzner',
  'openstack',
  'metadata',
  'Metadata',
  'METADATA',
  'latest/',
  'instance-data',
  'localhost',
  'nip.io',
  'sslip.io',
  'rbndr.us',
  '1u.ms',
  'fd00',
  'fd20',
  '192.0.0.192',
  '168.63.129.16',
  'user-data',
] as const;

function hasMarker(d: string): boolean {
  for (const m of BASE64_MARKERS) if (d.includes(m)) return true;
  return false;
}
const utf8 = new TextDecoder('utf-8', { fatal: true });

function decodeRun(run: string): string | null {
  const std = run.replace(/-/g, '+').replace(/_/g, '/').replace(/=+$/, '');
  if (std.length % 4 === 1) return null;
  const buf = Buffer.from(std, 'base64');
  if (buf.length < 8) return null;
  let text: string;
  try {
    text = utf8.decode(buf);
  } catch {
    return null; // not text
  }
  let control = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if ((c < 0x20 && c !== 9 && c !== 10 && c !== 13) || c === 0xfffd) control++;
  }
  return control / text.length < 0.05 ? text : null;
}

/**
 * True when decoded text is worth a view: it holds a marker, or (at most `depth` more layers down) another base64
 * run that opens to one. Base64 is followed through at most two layers.
 */
function worthOpening(d: string, depth: number): boolean {
  if (hasMarker(d)) return true;
  if (depth === 0) return false;
  RUN.lastIndex = 0;
  for (const m of [...d.matchAll(RUN)]) {
    const inner = decodeRun(m[0]);
    if (inner !== null && worthOpening(inner, depth - 1)) return true;
  }
  return false;
}

/**
 * Every base64 run in `s` that decodes to text mentioning a URL or metadata marker. A run that decodes to another
 * base64 run is decoded once more (payloads are sometimes wrapped twice).
 */
export function findBase64Urls(s: string): string[] {
  const out: string[] = [];
  RUN.lastIndex = 0;
  for (const m of s.matchAll(RUN)) {
    const d = decodeRun(m[0]);
    if (d !== null && worthOpening(d, 1)) out.push(d);
    if (out.length >= 8) break;
  }
  return out;
}
