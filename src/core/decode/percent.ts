/** Percent-decoding, repeated to a fixpoint, including IIS `%uXXXX` forms and `+` as space. */

const utf8 = new TextDecoder('utf-8', { fatal: false });

/** The value of a hex digit's character code, or -1. */
function hexValue(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  const l = c | 32;
  return l >= 97 && l <= 102 ? l - 87 : -1;
}

/** Bytes of one run of `%XX` sequences (reused: the function is not re-entered). */
let run = new Uint8Array(256);

/** One round of percent-decoding. Invalid sequences are kept as written; byte runs are decoded as UTF-8. */
export function percentDecodeOnce(s: string): string {
  let pct = s.indexOf('%');
  if (pct < 0) return s;
  let out = '';
  let copied = 0;
  while (pct >= 0) {
    // A run of `%XX` sequences from `pct`.
    let i = pct;
    let n = 0;
    let ascii = true;
    while (i + 2 < s.length && s.charCodeAt(i) === 37) {
      const hi = hexValue(s.charCodeAt(i + 1));
      const lo = hi < 0 ? -1 : hexValue(s.charCodeAt(i + 2));
      if (lo < 0) break;
      if (n === run.length) {
        const bigger = new Uint8Array(n * 2);
        bigger.set(run);
        run = bigger;
      }
      const b = hi * 16 + lo;
      if (b >= 128) ascii = false;
      run[n++] = b;
      i += 3;
    }
    if (n > 0) {
      out += s.slice(copied, pct);
      out += ascii && n <= 1024 ? String.fromCharCode(...run.subarray(0, n)) : utf8.decode(run.subarray(0, n));
      copied = i;
      pct = s.indexOf('%', i);
      continue;
    }
    // IIS `%uXXXX`.
    const u = s.charCodeAt(pct + 1) | 32;
    if (u === 117 && pct + 5 < s.length) {
      let v = 0;
      for (let k = pct + 2; k < pct + 6 && v >= 0; k++) {
        const h = hexValue(s.charCodeAt(k));
        v = h < 0 ? -1 : v * 16 + h;
      }
      if (v >= 0) {
        out += s.slice(copied, pct) + String.fromCharCode(v);
        copied = pct + 6;
        pct = s.indexOf('%', copied);
        continue;
      }
    }
    pct = s.indexOf('%', pct + 1);
  }
  return copied === 0 ? s : out + s.slice(copied);
}

export interface FixpointResult {
  text: string;
  rounds: number;
}

/** Percent-decode until nothing changes, at most `max` rounds (attackers stack encodings; we stop a bomb). */
export function percentDecodeFixpoint(s: string, max = 8): FixpointResult {
  let cur = s;
  let rounds = 0;
  while (rounds < max) {
    const next = percentDecodeOnce(cur);
    if (next === cur) break;
    cur = next;
    rounds++;
  }
  return { text: cur, rounds };
}

/** Name of the transform for `rounds` rounds of percent-decoding. */
export function percentTransform(rounds: number): string {
  return rounds === 1 ? 'percent' : `percent×${rounds}`;
}
