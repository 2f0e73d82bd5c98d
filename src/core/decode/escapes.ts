/**
 * Backslash escapes as they appear in logs: nginx and Apache write non-ASCII and `"` bytes as `\xHH`; JSON writes
 * `\uXXXX`, `\/` and `\"`; languages write `\n`, `\r`, `\t`.
 */

const utf8 = new TextDecoder('utf-8', { fatal: false });

/** Decode `\xHH` byte escapes (as UTF-8 runs), `\uXXXX`, `\/`, `\"`, `\\`, `\n`, `\r`, `\t`. */
export function decodeBackslashEscapes(s: string): string {
  if (!s.includes('\\')) return s;
  let out = '';
  let bytes: number[] = [];
  const flush = () => {
    if (bytes.length > 0) {
      out += utf8.decode(new Uint8Array(bytes));
      bytes = [];
    }
  };
  for (let i = 0; i < s.length; i++) {
    if (s[i] === '\\' && i + 1 < s.length) {
      const n = s[i + 1]!;
      if ((n === 'x' || n === 'X') && /^[0-9a-fA-F]{2}$/.test(s.slice(i + 2, i + 4))) {
        bytes.push(Number.parseInt(s.slice(i + 2, i + 4), 16));
        i += 3;
        continue;
      }
      flush();
      if (n === 'u' && /^[0-9a-fA-F]{4}$/.test(s.slice(i + 2, i + 6))) {
        out += String.fromCharCode(Number.parseInt(s.slice(i + 2, i + 6), 16));
        i += 5;
        continue;
      }
      const simple: Record<string, string> = { '/': '/', '"': '"', '\\': '\\', n: '\n', r: '\r', t: '\t', "'": "'" };
      const v = simple[n];
      if (v !== undefined) {
        out += v;
        i += 1;
        continue;
      }
    }
    flush();
    out += s[i];
  }
  flush();
  return out;
}
