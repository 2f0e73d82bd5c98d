import { CATALOGUE } from '../endpoints/lookup.ts';
import { decodeBackslashEscapes } from './escapes.ts';

/** Base64 and base64url values that carry a URL (e.g. `?u=aHR0cDovLzE2OS4yNTQuMTY5LjI1NC8=`). */

const RUN = /[A-Za-z0-9+/_-]{12,}={0,2}/g;
/**
 * What a decoded value must contain to be worth a view: a URL, an encoding mark, a metadata path word, or a name or
 * address of the catalogue or its public aliases (`CATALOGUE.payloadMarkers`). Exact strings (case-sensitive), so that
 * the prefilter can look for their base64 and hex forms without decoding.
 */
export const BASE64_MARKERS: readonly string[] = [
  '://',
  ':\\\\',
  'http:',
  'HTTP:',
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
  '%2B',
  '%2b',
  '%26',
  '%23',
  '%3D',
  '%3d',
  '%u00',
  ':\\/',
  '\\/\\/',
  '\\\\\\/',
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
  'localhost',
  'user-data',
  ...CATALOGUE.payloadMarkers,
];

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
  // Most runs (paths, hashes, ids) decode to binary: reject them on the bytes before paying for a UTF-8 decode.
  let control = 0;
  let high = false;
  for (const b of buf) {
    if (b < 0x20 ? b !== 9 && b !== 10 && b !== 13 : b === 0x7f) control++;
    else if (b >= 0x80) high = true;
  }
  if (control / buf.length >= 0.05) return null;
  if (!high) return buf.toString('latin1');
  let text: string;
  try {
    text = utf8.decode(buf);
  } catch {
    return null; // not text
  }
  return text.includes('\ufffd') ? null : text;
}

/**
 * True when decoded text is worth a view: it holds a marker, or (at most `depth` more layers down) another base64
 * run that opens to one. Base64 is followed through at most two layers.
 */
function worthOpening(d: string, depth: number): boolean {
  if (hasMarker(d)) return true;
  if (depth === 0) return false;
  // A base64 run inside JSON may have its slashes escaped (`\/`).
  for (const text of d.includes('\\') ? [d, decodeBackslashEscapes(d)] : [d]) {
    for (const m of [...text.matchAll(RUN)]) {
      const inner = decodeRun(m[0]);
      if (inner !== null && worthOpening(inner, depth - 1)) return true;
    }
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
    // Of the readings worth opening, the first that is whole base64 quanta and decodes without control bytes: one
    // that takes in segments after the encoded one (`…/thumb`) decodes to the URL with a few stray bytes after it.
    let best: string | undefined;
    for (const run of pathReadings(m[0])) {
      const d = decodeRun(run);
      if (d !== null && worthOpening(d, 1)) {
        best ??= d;
        if (run.replace(/=+$/, '').length % 4 === 0 && !CONTROL.test(d)) {
          best = d;
          break;
        }
      }
    }
    if (best !== undefined) out.push(best);
    if (out.length >= 8) break;
  }
  return out;
}

/** A control character other than tab and line ends. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: control bytes are what this finds
const CONTROL = /[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]/;

/** The base64 of `http` at the start of a URL; a run split by `/` is joined only when it opens with it. */
export const SPLIT_URL_HEAD = /a\/*H\/*R\/*0/;

/**
 * A run as found, and when it holds `/`: each run of whole segments within it, longest first (the encoded URL is a
 * later path segment, `/sig/300/aHR0cDovL…`, or a middle one, `/media/aHR0cDovL…/thumb`), and, when one opens with the
 * encoding of `http`, those segments joined (image proxies let the encoded URL be split by `/`). At most nine
 * segments are tried.
 */
function pathReadings(run: string): string[] {
  if (!run.includes('/')) return [run];
  const out = new Set([run]);
  const segs = run.split('/').slice(0, 9);
  for (let i = 0; i < segs.length; i++) {
    for (let j = segs.length; j > i; j--) {
      const part = segs.slice(i, j).join('/');
      if (part.length >= 12) out.add(part);
      const joined = segs.slice(i, j).join('');
      if (joined.startsWith('aHR0') && j - i > 1) out.add(joined);
    }
  }
  return [...out];
}
