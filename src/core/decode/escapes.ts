/**
 * Backslash escapes as they appear in logs and in script payloads: nginx and Apache write non-ASCII and `"` bytes as
 * `\xHH`; JSON writes `\uXXXX`, `\/` and `\"`; languages write `\n`, `\r`, `\t`; JavaScript and C strings also take
 * octal bytes (`\150\164\164\160` is `http`) and JavaScript code points (`\u{68}`).
 */

const utf8 = new TextDecoder('utf-8', { fatal: false });

/** An octal escape of two or three digits naming a byte (`\72`, `\150`, `\377`); `\0` alone is a NUL, not a byte run. */
const OCTAL = /^(?:[0-3][0-7]{2}|[0-7]{2})/;

/** Decode `\xHH` byte escapes and octal `\NNN` bytes (as UTF-8 runs), `\uXXXX`, `\u{X…}`, `\/`, `\"`, `\\`, `\n`, `\r`, `\t`. */
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
      const oct = n >= '0' && n <= '7' ? OCTAL.exec(s.slice(i + 1, i + 4)) : null;
      if (oct) {
        bytes.push(Number.parseInt(oct[0], 8));
        i += oct[0].length;
        continue;
      }
      flush();
      if (n === 'u' && /^[0-9a-fA-F]{4}$/.test(s.slice(i + 2, i + 6))) {
        out += String.fromCharCode(Number.parseInt(s.slice(i + 2, i + 6), 16));
        i += 5;
        continue;
      }
      const cp = n === 'u' ? /^\{([0-9a-fA-F]{1,6})\}/.exec(s.slice(i + 2, i + 10)) : null;
      if (cp && Number.parseInt(cp[1]!, 16) <= 0x10ffff) {
        out += String.fromCodePoint(Number.parseInt(cp[1]!, 16));
        i += 1 + cp[0].length;
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
