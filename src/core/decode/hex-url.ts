import { BASE64_MARKERS } from './base64.ts';

/**
 * URLs written as hexadecimal bytes, as camo-style image proxies carry them in a path segment
 * (`/camo/<digest>/687474703a2f2f…`) and some redirectors in a parameter. A run opens only when its bytes are
 * printable text holding one of the base64 decoder's markers, so digests and ids (binary once decoded) stay shut.
 */

const RUN = /[0-9a-f]{16,4096}/gi;

/** Hex forms (lower-case) of every marker: a run the decoder opens contains one of them, which the prefilter uses. */
export const HEX_MARKER_FORMS: readonly string[] = [
  ...new Set(BASE64_MARKERS.map((m) => Buffer.from(m, 'utf8').toString('hex'))),
];

function decodeRun(run: string): string | null {
  const even = run.length % 2 === 0 ? run : run.slice(0, -1);
  let out = '';
  for (let i = 0; i < even.length; i += 2) {
    const b = Number.parseInt(even.slice(i, i + 2), 16);
    // Printable ASCII and tab/CR/LF only: a URL written as bytes is text.
    if (b < 0x20 ? b !== 9 && b !== 10 && b !== 13 : b >= 0x7f) return null;
    out += String.fromCharCode(b);
  }
  return out;
}

/** Every hex run in `s` that decodes to text holding a URL or metadata marker (at most 8). */
export function findHexUrls(s: string): string[] {
  const out: string[] = [];
  RUN.lastIndex = 0;
  for (const m of s.matchAll(RUN)) {
    // A run starts at a byte boundary only where it starts; an odd run may carry a leading nibble of something else.
    for (const run of m[0].length % 2 === 0 ? [m[0]] : [m[0], m[0].slice(1)]) {
      const d = decodeRun(run);
      if (d !== null && BASE64_MARKERS.some((k) => d.includes(k))) {
        out.push(d);
        break;
      }
    }
    if (out.length >= 8) break;
  }
  return out;
}
