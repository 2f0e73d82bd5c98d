/**
 * Encodings a secret may hide under, as data: each layer undoes one encoding of a whole text and says, for every
 * character it produced, which characters of its input it came from. Layers compose (percent inside base64 inside
 * JSON …), and the composition keeps the map back to the text as written, so a secret found in a decoded view is
 * masked exactly where its encoded form sits and every other byte stays as it was.
 */

/** One decoded view of a line. `lo[i]`/`hi[i]`: the span of the line that decoded character `i` came from. */
export interface View {
  text: string;
  /** Null for the line itself (the identity map). */
  lo: Int32Array | null;
  hi: Int32Array | null;
  /** Layers undone, outermost first (`percent`, `percent`, `json` …). */
  layers: readonly LayerName[];
}

export type LayerName = 'terminal' | 'percent' | 'json' | 'hex-escape' | 'html' | 'base64' | 'hex';

/** The result of one layer on one text: the decoded text and, per decoded character, its source span. */
interface Step {
  text: string;
  lo: Int32Array;
  hi: Int32Array;
}

interface Layer {
  name: LayerName;
  /** Cheap test: false when the layer cannot change `text`. */
  may: RegExp;
  decode(text: string): Step | null;
}

/** How many layers are undone, at most, one on top of the other. */
export const MAX_LAYERS = 6;
/** How many decoded views of one line are looked at, at most. */
export const MAX_VIEWS = 32;
/** Text longer than this is not decoded further (a line of several megabytes is data, not a log line). */
const MAX_VIEW_CHARS = 1 << 20;
/** Shortest base64 run decoded (16 bytes of text); shortest hex run (12 bytes). */
const MIN_B64_RUN = 20;
const MIN_HEX_RUN = 24;

class Builder {
  text = '';
  private readonly lo: number[] = [];
  private readonly hi: number[] = [];
  push(s: string, from: number, to: number): void {
    this.text += s;
    for (let k = 0; k < s.length; k++) {
      this.lo.push(from);
      this.hi.push(to);
    }
  }
  step(): Step {
    return { text: this.text, lo: Int32Array.from(this.lo), hi: Int32Array.from(this.hi) };
  }
}

function hexVal(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 65 && c <= 70) return c - 55;
  if (c >= 97 && c <= 102) return c - 87;
  return -1;
}

/**
 * `%XX` (any case) to the byte it names, `+` to a space (form encoding), and IIS's `%uXXXX` to the character it
 * names. Bytes become latin1 characters.
 */
function percent(t: string): Step | null {
  const b = new Builder();
  let changed = false;
  let run = 0;
  for (let i = 0; i < t.length; ) {
    const c = t.charCodeAt(i);
    if (c === 37 && (t.charCodeAt(i + 1) | 32) === 117 && i + 5 < t.length) {
      let v = 0;
      for (let k = 2; k < 6 && v >= 0; k++) {
        const d = hexVal(t.charCodeAt(i + k));
        v = d < 0 ? -1 : v * 16 + d;
      }
      if (v >= 0) {
        if (run < i) pushEach(b, t, run, i);
        b.push(String.fromCharCode(v), i, i + 6);
        changed = true;
        i += 6;
        run = i;
        continue;
      }
    }
    if (c === 37 && i + 2 < t.length) {
      const h = hexVal(t.charCodeAt(i + 1));
      const l = hexVal(t.charCodeAt(i + 2));
      if (h >= 0 && l >= 0) {
        if (run < i) pushEach(b, t, run, i);
        b.push(String.fromCharCode(h * 16 + l), i, i + 3);
        changed = true;
        i += 3;
        run = i;
        continue;
      }
    }
    if (c === 43) {
      if (run < i) pushEach(b, t, run, i);
      b.push(' ', i, i + 1);
      i++;
      run = i;
      continue;
    }
    i++;
  }
  if (!changed) return null;
  if (run < t.length) pushEach(b, t, run, t.length);
  return b.step();
}

/** Copy `t[from, to)` one character per source character. */
function pushEach(b: Builder, t: string, from: number, to: number): void {
  for (let i = from; i < to; i++) b.push(t[i]!, i, i + 1);
}

const JSON_SIMPLE: Record<string, string> = {
  '"': '"',
  '\\': '\\',
  '/': '/',
  n: '\n',
  r: '\r',
  t: '\t',
  b: '\b',
  f: '\f',
  "'": "'",
};

/** One level of JSON (and JavaScript) string escaping: `\uXXXX`, `\"`, `\\`, `\/`, `\n` … */
function jsonEscape(t: string): Step | null {
  const b = new Builder();
  let changed = false;
  let run = 0;
  for (let i = 0; i < t.length; ) {
    if (t.charCodeAt(i) !== 92 || i + 1 >= t.length) {
      i++;
      continue;
    }
    const n = t[i + 1]!;
    let out: string | undefined;
    let len = 2;
    if (n === 'u' && i + 5 < t.length) {
      let v = 0;
      for (let k = 2; k < 6; k++) {
        const h = hexVal(t.charCodeAt(i + k));
        v = h < 0 ? -1 : v < 0 ? -1 : v * 16 + h;
      }
      if (v >= 0) {
        out = String.fromCharCode(v);
        len = 6;
      }
    } else out = JSON_SIMPLE[n];
    if (out === undefined) {
      i++;
      continue;
    }
    if (run < i) pushEach(b, t, run, i);
    b.push(out, i, i + len);
    changed = true;
    i += len;
    run = i;
  }
  if (!changed) return null;
  if (run < t.length) pushEach(b, t, run, t.length);
  return b.step();
}

/**
 * A terminal's escape sequences (CSI colours and erasures, OSC titles and links, two-character escapes): what
 * `grep --color`, `jq -C` or `ls --color` put around and inside the text they print. The terminal sanitiser strips the
 * same ones before printing.
 */
// biome-ignore lint/suspicious/noControlCharactersInRegex: escape sequences are what it matches
export const TERMINAL_ESCAPE = /\u001b(?:\[[0-?]*[ -/]*[@-~]|\][^\u0007\u001b]*(?:\u0007|\u001b\\)|[@-Z\\-_])/g;

/** The text as a terminal shows it: escape sequences removed, so a secret they cut (a match coloured) is whole. */
function terminal(t: string): Step | null {
  return replaceAll(t, TERMINAL_ESCAPE, () => '');
}

/** `\xNN` byte escapes (nginx and Apache access logs, Python byte reprs). */
function hexEscape(t: string): Step | null {
  return replaceAll(t, /\\x([0-9A-Fa-f]{2})/g, (m) => String.fromCharCode(Number.parseInt(m[1]!, 16)));
}

const ENTITIES: Record<string, string> = {
  quot: '"',
  amp: '&',
  lt: '<',
  gt: '>',
  apos: "'",
  sol: '/',
  plus: '+',
  equals: '=',
  colon: ':',
  comma: ',',
  nbsp: ' ',
};

/**
 * HTML character references: decimal, hexadecimal and the named ones a serialiser writes for URL and JSON text. A
 * numeric reference, or a legacy named one (`&quot`, `&amp`, `&lt`, `&gt`), may lack its `;` (browsers read it all the same), and then the digits of the next characters run
 * into it (`&#x2bdSVk` for `+dSVk`): when all the digits name no printable ASCII character, the longest run of them
 * that does is read, and the rest is text.
 */
function html(t: string): Step | null {
  return replaceAll(t, /&(?:#(\d{1,7})|#[xX]([0-9A-Fa-f]{1,6})|([A-Za-z]{2,6}))(;?)/g, (m) => {
    if (m[1] !== undefined || m[2] !== undefined) {
      const digits = m[1] ?? m[2]!;
      const radix = m[1] !== undefined ? 10 : 16;
      const at = m[0].length - digits.length - m[4]!.length;
      let n = digits.length;
      if (m[4] === '') {
        while (n > 1 && !printable(Number.parseInt(digits.slice(0, n), radix))) n--;
        if (!printable(Number.parseInt(digits.slice(0, n), radix))) n = digits.length;
      }
      const v = Number.parseInt(digits.slice(0, n), radix);
      return v <= 0xffff ? [String.fromCharCode(v), n < digits.length ? at + n : m[0].length] : null;
    }
    if (m[4] === ';') return ENTITIES[m[3]!.toLowerCase()] ?? null;
    // Without `;`, the names HTML reads in legacy text all the same (`&quotASIA…&quot`): the letters after the name
    // are text.
    const name = m[3]!.toLowerCase();
    const legacy = LEGACY_ENTITIES.find((e) => name.startsWith(e));
    return legacy ? [ENTITIES[legacy]!, 1 + legacy.length] : null;
  });
}

/** Named references HTML reads without their `;` (longest first, so `&quot` is not read as something shorter). */
const LEGACY_ENTITIES = ['quot', 'apos', 'nbsp', 'amp', 'lt', 'gt'];

function printable(c: number): boolean {
  return c >= 32 && c < 127;
}

/**
 * Each match of `re` replaced by what `f` gives: a string, or a string and how many characters of the match it takes
 * (the rest is kept as text); null keeps the match as it is.
 */
function replaceAll(
  t: string,
  re: RegExp,
  f: (m: RegExpExecArray) => string | readonly [string, number] | null,
): Step | null {
  const b = new Builder();
  let changed = false;
  let run = 0;
  re.lastIndex = 0;
  for (let m = re.exec(t); m !== null; m = re.exec(t)) {
    const r = f(m);
    if (r === null) continue;
    const [out, len] = typeof r === 'string' ? [r, m[0].length] : r;
    if (run < m.index) pushEach(b, t, run, m.index);
    b.push(out, m.index, m.index + len);
    changed = true;
    run = m.index + len;
    re.lastIndex = run;
  }
  if (!changed) return null;
  if (run < t.length) pushEach(b, t, run, t.length);
  return b.step();
}

const B64_VALUE = new Int8Array(128).fill(-1);
for (let i = 0; i < 64; i++)
  B64_VALUE['ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'.charCodeAt(i)] = i;
B64_VALUE[45] = 62; // - (base64url)
B64_VALUE[95] = 63; // _ (base64url)

/** Text a decoder may have produced: printable ASCII and line breaks, nearly all of it. Binary is not a view. */
function isText(bytes: number[]): boolean {
  let bad = 0;
  for (const c of bytes) if (!((c >= 32 && c < 127) || c === 9 || c === 10 || c === 13)) bad++;
  return bad * 20 <= bytes.length;
}

/**
 * Text encoded as UTF-16LE (Windows: PowerShell's -EncodedCommand is base64 of it): every other byte is zero. The
 * characters, or null when the bytes are not that.
 */
function utf16le(bytes: number[]): number[] | null {
  if (bytes.length < 24) return null;
  const out: number[] = [];
  for (let i = 0; i + 1 < bytes.length; i += 2) {
    if (bytes[i + 1] !== 0) return null;
    out.push(bytes[i]!);
  }
  return isText(out) ? out : null;
}

/** Decoded text as characters, with how many bytes each took (1, or 2 for UTF-16LE). */
interface Decoded {
  chars: number[];
  width: 1 | 2;
}

function asText(bytes: number[], min: number): Decoded | null {
  if (bytes.length >= min && isText(bytes)) return { chars: bytes, width: 1 };
  const wide = utf16le(bytes);
  return wide ? { chars: wide, width: 2 } : null;
}

/** Base64 or base64url of `t[from, to)`; null unless it decodes to text (of at least `min` bytes). */
function decodeB64(t: string, from: number, to: number, min = 12): Decoded | null {
  const bytes: number[] = [];
  let acc = 0;
  let bits = 0;
  for (let i = from; i < to; i++) {
    const v = B64_VALUE[t.charCodeAt(i)]!;
    acc = ((acc << 6) | v) & 0xffffff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      bytes.push((acc >> bits) & 0xff);
    }
    // Reject binary early: the first 12 bytes tell (UTF-16LE text has a zero in every other byte).
    if (bytes.length === 12 && !isText(bytes) && !bytes.every((x, k) => k % 2 === 0 || x === 0)) return null;
  }
  return asText(bytes, min);
}

/**
 * The last line of a base64 block wrapped over several lines (MIME: 76 characters a line) is often too short to be
 * decoded on its own: when the line before was a base64 view, the whole of this one (padding aside) is read as the
 * block's end. Null unless it is base64 of text.
 */
export function base64Rest(t: string): View | null {
  const m = /^[A-Za-z0-9+/_-]{2,}(?==*$)/.exec(t);
  if (!m) return null;
  const d = decodeB64(t, 0, m[0].length, 1);
  if (!d) return null;
  const b = new Builder();
  const w = d.width;
  d.chars.forEach((c, i) => {
    b.push(String.fromCharCode(c), Math.floor((8 * i * w) / 6), Math.ceil((8 * (i + 1) * w) / 6));
  });
  const st = b.step();
  return { text: st.text, lo: st.lo, hi: st.hi, layers: ['base64'] };
}

/**
 * Base64/base64url runs that decode to text (a credentials document, or one value, encoded whole). A run may have a
 * word glued in front (`/cb/eyJ…`, `xdU4z…`; `d=eyJ…` is split already): decoding is tried from its start, after each
 * `/`, `+`, `-` or `_` near its start, and from each of its next seven characters.
 */
function base64(t: string): Step | null {
  const re = new RegExp(`[A-Za-z0-9+/_-]{${MIN_B64_RUN},}`, 'g');
  const parts: Array<{ from: number; to: number; d: Decoded }> = [];
  for (let m = re.exec(t); m !== null; m = re.exec(t)) {
    const end = m.index + m[0].length;
    const starts = [m.index];
    for (let k = 0; k < Math.min(m[0].length - MIN_B64_RUN, 32); k++) {
      const c = m[0][k]!;
      if (c === '/' || c === '+' || c === '-' || c === '_') starts.push(m.index + k + 1);
    }
    // Or glued to a short word (`x` + base64): it starts at one of the next seven characters.
    for (let k = 1; k < 8 && m[0].length - k >= MIN_B64_RUN; k++) starts.push(m.index + k);
    for (const s of starts) {
      const d = decodeB64(t, s, end);
      if (d) {
        let to = end;
        while (to < t.length && t.charCodeAt(to) === 61 && to - end < 2) to++;
        parts.push({ from: s, to, d });
        break;
      }
    }
  }
  if (parts.length === 0) return null;
  const b = new Builder();
  let at = 0;
  for (const p of parts) {
    pushEach(b, t, at, p.from);
    const w = p.d.width;
    p.d.chars.forEach((c, i) => {
      b.push(String.fromCharCode(c), p.from + Math.floor((8 * i * w) / 6), p.from + Math.ceil((8 * (i + 1) * w) / 6));
    });
    at = p.to;
  }
  pushEach(b, t, at, t.length);
  return b.step();
}

/**
 * Hex of text: an even run of hex digits, or bytes written as pairs with a blank or colon between them (a dump:
 * `7b 22 43 6f`), that decodes to printable text. Hashes and ids decode to binary.
 */
function hex(t: string): Step | null {
  const re = new RegExp(
    `[0-9A-Fa-f]{${MIN_HEX_RUN},}|(?<![0-9A-Fa-f])(?:[0-9A-Fa-f]{2}[ :]){${MIN_HEX_RUN / 2 - 1},}[0-9A-Fa-f]{2}(?![0-9A-Fa-f])`,
    'g',
  );
  const parts: Array<{ from: number; at: number[]; d: Decoded }> = [];
  for (let m = re.exec(t); m !== null; m = re.exec(t)) {
    // Where each byte's two digits start.
    const at: number[] = [];
    if (m[0][2] === ' ' || m[0][2] === ':') for (let i = 0; i < m[0].length; i += 3) at.push(m.index + i);
    else for (let i = 0; i + 1 < m[0].length; i += 2) at.push(m.index + i);
    const bytes = at.map((i) => Number.parseInt(t.slice(i, i + 2), 16));
    const d = asText(bytes, 0);
    if (d) parts.push({ from: m.index, at, d });
  }
  if (parts.length === 0) return null;
  const b = new Builder();
  let pos = 0;
  for (const p of parts) {
    pushEach(b, t, pos, p.from);
    const w = p.d.width;
    p.d.chars.forEach((c, i) => {
      b.push(String.fromCharCode(c), p.at[i * w]!, p.at[i * w + w - 1]! + 2);
    });
    pos = p.at[p.d.chars.length * w - 1]! + 2;
  }
  pushEach(b, t, pos, t.length);
  return b.step();
}

/** Base64 of printable ASCII: each 4-character group starts with `[I-Za-f]` (byte 0x20–0x7f) then a character whose
 * low four bits are 2–7 (the next byte's top nibble); the second form is the same text as UTF-16LE. */
const B64_TEXT =
  /(?:[I-Za-f][C-HS-Xi-ny-z0-3][A-Za-z0-9+/_-]{2}){5}|(?:[I-Za-f][AQgw][AB][A-Za-z0-9+/_-]A[C-H][A-Za-z0-9+/_-]A){3}/;
/** Hex of printable ASCII: every byte's first digit is 2–7 (in UTF-16LE, every other byte is 00); in a dump, a blank
 * or colon after each byte. */
const HEX_TEXT =
  /(?:[2-7][0-9A-Fa-f]){12}|(?:[2-7][0-9A-Fa-f]00){8}|(?:[2-7][0-9A-Fa-f][ :]){11}[2-7]|(?:[2-7][0-9A-Fa-f][ :]00[ :]){6}/;

/** The layers, in the order they are tried on each view. */
export const LAYERS: readonly Layer[] = [
  // Escape sequences are the last thing written (a terminal's colours over any text): undone first.
  // biome-ignore lint/suspicious/noControlCharactersInRegex: an escape character is what it looks for
  { name: 'terminal', may: /\u001b[[\]@-Z\\-_]/, decode: terminal },
  { name: 'percent', may: /%[0-9A-Fa-f]{2}|%[uU][0-9A-Fa-f]{4}/, decode: percent },
  { name: 'json', may: /\\(?:u[0-9A-Fa-f]{4}|["\\/nrtbf'])/, decode: jsonEscape },
  { name: 'hex-escape', may: /\\x[0-9A-Fa-f]{2}/, decode: hexEscape },
  { name: 'html', may: /&(?:#\d|#[xX][0-9A-Fa-f]|[A-Za-z]{2,6};|quot|apos|nbsp|amp|lt|gt)/i, decode: html },
  // Base64 and hex of printable text have a fixed pattern (the top bits of every byte are 001 to 011), which random
  // data, hashes and ids rarely show: the cheap tests look for five 3-byte groups, or twelve bytes, of it.
  { name: 'base64', may: B64_TEXT, decode: base64 },
  { name: 'hex', may: HEX_TEXT, decode: hex },
];

/** False when no layer can change `text`: the line is its only view. */
export function mayBeEncoded(text: string): boolean {
  for (const l of LAYERS) if (l.may.test(text)) return true;
  return false;
}

function compose(parent: View, s: Step, name: LayerName): View {
  if (parent.lo === null || parent.hi === null) return { text: s.text, lo: s.lo, hi: s.hi, layers: [name] };
  const n = s.text.length;
  const lo = new Int32Array(n);
  const hi = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    lo[i] = parent.lo[s.lo[i]!]!;
    hi[i] = parent.hi[s.hi[i]! - 1]!;
  }
  return { text: s.text, lo, hi, layers: [...parent.layers, name] };
}

/** The span of the line that `view.text[a, b)` came from. */
export function sourceSpan(view: View, a: number, b: number): [number, number] {
  if (view.lo === null || view.hi === null) return [a, b];
  return [view.lo[a]!, view.hi[b - 1]!];
}

/** The decoded views of a line, and whether the budget cut them short. */
export interface Views {
  list: View[];
  /** A layer could still change a view when `MAX_VIEWS` were made: what it hides was not looked at. */
  truncated: boolean;
}

/**
 * Every decoded view of `text` (the text itself excluded), breadth first: each layer that changes a view gives a new
 * view, up to `MAX_LAYERS` deep and `MAX_VIEWS` in all. Identical texts are kept once.
 * @example views('k%3DASIA%2B').map((v) => v.text) // ['k=ASIA+']
 */
export function views(text: string): View[] {
  return decodedViews(text).list;
}

/** `views`, saying whether the budget of `MAX_VIEWS` cut them short (the caller then masks what was left unread). */
export function decodedViews(text: string): Views {
  const out: View[] = [];
  const seen = new Set<string>([text]);
  let frontier: View[] = [{ text, lo: null, hi: null, layers: [] }];
  for (let depth = 0; depth < MAX_LAYERS && frontier.length > 0; depth++) {
    const next: View[] = [];
    for (const v of frontier) {
      if (v.text.length > MAX_VIEW_CHARS) continue;
      for (const l of LAYERS) {
        if (!l.may.test(v.text)) continue;
        const s = l.decode(v.text);
        if (!s || seen.has(s.text)) continue;
        // A new view past the budget: what it and the views under it hold is not looked at.
        if (out.length >= MAX_VIEWS) return { list: out, truncated: true };
        seen.add(s.text);
        const nv = compose(v, s, l.name);
        out.push(nv);
        next.push(nv);
      }
    }
    frontier = next;
  }
  return { list: out, truncated: false };
}

/** What ends a token of a line: blanks, quotes and angle brackets (a value's own delimiters in every log format). */
function delimiter(c: number): boolean {
  return c === 32 || c === 9 || c === 13 || c === 10 || c === 34 || c === 39 || c === 60 || c === 62 || c === 0xa0;
}

/** A key and its `=` or `:` at a token's start (`d=`, `token:`), kept when nothing encoded is in it. */
const TOKEN_KEY = /^[A-Za-z_][A-Za-z0-9_.-]{0,63}[=:]/;

/**
 * The tokens of `text` that hold encoded text (anything a layer changes), each without a plain key in front: when
 * the budget of views ran out, what they hide was not read, and masking them whole is the safe answer (a line of
 * decoys must not hide a secret behind them). Benign lines never come near the budget.
 */
export function encodedTokens(text: string): Array<[number, number]> {
  const marked = new Uint8Array(text.length);
  for (const l of LAYERS) {
    if (!l.may.test(text)) continue;
    const s = l.decode(text);
    if (!s) continue;
    let at = 0;
    for (let i = 0; i < s.text.length; i++) {
      const lo = s.lo[i]!;
      const hi = s.hi[i]!;
      // Characters a layer dropped (a terminal's escape sequence) or rewrote.
      for (let k = at; k < lo; k++) marked[k] = 1;
      if (hi - lo !== 1 || s.text[i] !== text[lo]) for (let k = lo; k < hi; k++) marked[k] = 1;
      at = Math.max(at, hi);
    }
    for (let k = at; k < text.length; k++) marked[k] = 1;
  }
  const out: Array<[number, number]> = [];
  for (let i = 0; i < text.length; ) {
    if (delimiter(text.charCodeAt(i))) {
      i++;
      continue;
    }
    let j = i;
    let hit = -1;
    while (j < text.length && !delimiter(text.charCodeAt(j))) {
      if (hit < 0 && marked[j]) hit = j;
      j++;
    }
    if (hit >= 0) {
      const key = TOKEN_KEY.exec(text.slice(i, Math.min(j, i + 66)));
      out.push([key && i + key[0].length <= hit ? i + key[0].length : i, j]);
    }
    i = j;
  }
  return out;
}
