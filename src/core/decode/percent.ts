/** Percent-decoding, repeated to a fixpoint, including IIS `%uXXXX` forms and `+` as space. */

const utf8 = new TextDecoder('utf-8', { fatal: false });
const HEX = /^[0-9a-fA-F]{2}$/;

/** One round of percent-decoding. Invalid sequences are kept as written; byte runs are decoded as UTF-8. */
export function percentDecodeOnce(s: string): string {
  if (!s.includes('%')) return s;
  let out = '';
  let bytes: number[] = [];
  const flush = () => {
    if (bytes.length > 0) {
      out += utf8.decode(new Uint8Array(bytes));
      bytes = [];
    }
  };
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 37 /* % */) {
      const h = s.slice(i + 1, i + 3);
      if (HEX.test(h)) {
        bytes.push(Number.parseInt(h, 16));
        i += 2;
        continue;
      }
      if ((s[i + 1] === 'u' || s[i + 1] === 'U') && /^[0-9a-fA-F]{4}$/.test(s.slice(i + 2, i + 6))) {
        flush();
        out += String.fromCharCode(Number.parseInt(s.slice(i + 2, i + 6), 16));
        i += 5;
        continue;
      }
    }
    flush();
    out += s[i];
  }
  flush();
  return out;
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
