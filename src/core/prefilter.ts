import { BASE64_MARKERS, SPLIT_URL_HEAD } from './decode/base64.ts';
import { CHARCODE_MARKER } from './decode/charcodes.ts';
import { HEX_MARKER_FORMS } from './decode/hex-url.ts';
import { hasScriptJoin, joinScriptStrings } from './decode/js-concat.ts';
import { percentDecodeFixpoint } from './decode/percent.ts';
import { foldUnicode } from './decode/unicode.ts';
import { ALIAS_NAMES } from './endpoints/aliases.ts';
import { ALL_IPV4, CATALOGUE } from './endpoints/lookup.ts';
import { addressMatters, ipv4Value, LEAST_NONZERO_MATTERING } from './numeric-host.ts';

/**
 * A cheap necessary condition for `classify()` to find anything: text that fails it cannot address a metadata
 * service (or another internal target) under any decoding the classifier knows. A property test checks that whatever
 * `classify()` calls metadata passes here.
 *
 * It has two halves. Address marks (names, literal addresses, base64 and hex forms, entities) are plain substrings:
 * `scan` searches a whole chunk of lines for them at once (`addressMarkLines`), and runs only the structural half
 * (`mayAddressMetadataUnmarked`: digit runs by value, escapes, decoded views, IPv6 shapes) on the fields of the lines
 * without a mark.
 *
 * The reasoning, family by family:
 * - any encoding the decoder undoes leaves a mark: `\`, `&#`/`&name;`, tab/CR/LF, hex slugs; text with `%` or
 *   non-ASCII is tested again percent-decoded (to its fixpoint, as the decoder does) and folded, so that a view
 *   opened by either is tested as the classifier will read it;
 * - a name the catalogue or the internal lists know, or a wildcard/rebinding DNS suffix, appears literally;
 * - an IPv6 literal has `::`, brackets or three colon-separated hex groups;
 * - an IPv4 host in any numeric form is a whole run of letters, digits and dots (every host the classifier cuts
 *   out starts and ends at other characters); the run is read by value as `parseIPv4Loose` reads it and counts only
 *   when that address is a catalogue metadata address or an internal one; literal metadata addresses (and their
 *   dashed forms in DNS names) are matched anywhere;
 * - a base64 payload the decoder would open contains the base64 form of one of `BASE64_MARKERS` (computed below,
 *   at every byte alignment, also wrapped twice);
 * - a base64 URL split across `/` is joined only when it opens with `aHR0` (`http`), whose letters then appear in order
 *   with only slashes between them;
 * - a hex-written URL the decoder opens holds the hex form of one of `BASE64_MARKERS` (`HEX_MARKER_FORMS`);
 * - a `String.fromCharCode(…)` call is decoded only when the text names it;
 * - script strings joined by `+` are tested joined (`joinScriptStrings`), as the decoder opens them;
 * - a public alias (wildcard, rebinding and fixed DNS names, redirectors: `endpoints/aliases.ts`) appears literally.
 */

const ENTITY = /&(?:#|[a-z]{2,8};)/i;
const SLUG = /[-_](?:3a|2f|2e|40)(?:[-_]|$)/i;
/** Internal names (not metadata services: the host decoder's own lists). */
const INTERNAL_NAMES = [
  'metadata',
  'localhost',
  '.internal',
  'kubernetes',
  'svc.cluster',
  'ip6-',
  'ipv6-',
  'loopback',
  'localdomain',
  '.local',
  '.corp',
  '.lan',
  'intranet',
  'home.arpa',
  'msi/token',
];
const IPV6 = /::|\[[0-9a-f]{0,4}:|[0-9a-f]{1,4}:[0-9a-f]{1,4}:[0-9a-f]{1,4}/i;
/** Every spelling of `a.b.c.d` with each dot kept or written as a dash. */
function dottedOrDashed(a: string): string[] {
  let out = [''];
  a.split('.').forEach((part, k) => {
    out = out.flatMap((s) => (k === 0 ? [part] : [`${s}.${part}`, `${s}-${part}`]));
  });
  return out;
}
/** Metadata addresses written anywhere, dotted or dashed (DNS names that embed them), and in hex. */
const LITERALS = [
  ...dottedOrDashed('169.254.'),
  ...ALL_IPV4.flatMap(dottedOrDashed),
  ...ALL_IPV4.map((a) =>
    a
      .split('.')
      .map((o) => Number(o).toString(16).padStart(2, '0'))
      .join(''),
  ),
];
/** Folded text that is all ASCII. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: any ASCII
const ASCII = /^[\u0000-\u007f]*$/;

function stableBase64(s: string): string[] {
  const bytes = Buffer.from(s, 'utf8');
  const out: string[] = [];
  for (let a = 0; a < 3; a++) {
    const [e0, e1] = [0x00, 0xff].map((f) =>
      Buffer.concat([Buffer.alloc(a, f), bytes, Buffer.alloc(3, f)]).toString('base64'),
    ) as [string, string];
    let best = '';
    let cur = '';
    for (let i = 0; i < e0.length; i++) {
      if (e0[i] === e1[i]) {
        cur += e0[i];
        if (cur.length > best.length) best = cur;
      } else cur = '';
    }
    if (best.length >= 3) out.push(best);
  }
  return out;
}

/** Base64 forms (standard and URL alphabets, wrapped once or twice) of every marker the base64 decoder requires. */
export const BASE64_MARKER_FORMS: readonly string[] = (() => {
  const once = BASE64_MARKERS.flatMap(stableBase64);
  const twice = once.flatMap(stableBase64);
  const all = new Set<string>();
  for (const s of [...once, ...twice]) {
    all.add(s);
    all.add(s.replace(/\+/g, '-').replace(/\//g, '_'));
  }
  return [...all].sort((a, b) => b.length - a.length);
})();
/**
 * Address marks: plain substrings on which some decoding the classifier knows may read a metadata or internal target.
 * Matched in any case: names (internal, the catalogue's, the alias data's, the script-call marker), literal addresses,
 * hex forms of the base64 markers. Case kept: base64 forms. Two marks are patterns, checked where their first two
 * characters stand: an HTML entity, and the head of a base64 URL split across `/` (`aHR0`, `a/H/R/0`).
 */
const ANY_CASE_MARKS: readonly string[] = [
  ...INTERNAL_NAMES,
  ...CATALOGUE.hostnames,
  ...ALIAS_NAMES,
  CHARCODE_MARKER,
  ...LITERALS,
  ...HEX_MARKER_FORMS,
].map((m) => m.toLowerCase());
const ENTITY_AT = new RegExp(ENTITY.source, 'iy');
const SPLIT_URL_HEAD_AT = new RegExp(SPLIT_URL_HEAD.source, 'y');

/** Lower-case ASCII letters of Latin-1 codes. */
const FOLD = new Uint8Array(256).map((_, c) => (c >= 65 && c <= 90 ? c | 32 : c));
/** Per pair of first characters (`c0 << 8 | c1`, folded for the any-case marks): the marks that start so. */
const ANY_CASE_BY_PAIR = new Map<number, string[]>();
const CASED_BY_PAIR = new Map<number, string[]>();
const PAIR_ANY_CASE = 1;
const PAIR_CASED = 2;
const PAIR_ENTITY = 4;
const PAIR_SPLIT_URL = 8;
const PAIRS = new Uint8Array(65536);
const pair = (s: string) => (s.charCodeAt(0) << 8) | s.charCodeAt(1);
for (const [marks, by, bit] of [
  [ANY_CASE_MARKS, ANY_CASE_BY_PAIR, PAIR_ANY_CASE],
  [BASE64_MARKER_FORMS, CASED_BY_PAIR, PAIR_CASED],
] as const) {
  for (const m of marks) {
    if (m.length < 2) throw new Error(`address mark too short: ${m}`);
    const k = pair(m);
    PAIRS[k]! |= bit;
    const list = by.get(k) ?? [];
    if (!list.includes(m)) list.push(m);
    by.set(k, list);
  }
}
for (const second of '#abcdefghijklmnopqrstuvwxyz') PAIRS[pair(`&${second}`)]! |= PAIR_ENTITY;
for (const second of 'H/') PAIRS[pair(`a${second}`)]! |= PAIR_SPLIT_URL;

function startsWithFolded(text: string, i: number, m: string): boolean {
  if (i + m.length > text.length) return false;
  for (let k = 2; k < m.length; k++) {
    const c = text.charCodeAt(i + k);
    if (c > 255 || FOLD[c] !== m.charCodeAt(k)) return false;
  }
  return true;
}

/** Whether an address mark starts at `i`, whose first two characters (folded, and as they are) give `folded`, `raw`. */
function markAt(text: string, i: number, folded: number, raw: number): boolean {
  const f = PAIRS[folded]!;
  if (f & PAIR_ANY_CASE) for (const m of ANY_CASE_BY_PAIR.get(folded)!) if (startsWithFolded(text, i, m)) return true;
  if (f & PAIR_ENTITY) {
    ENTITY_AT.lastIndex = i;
    if (ENTITY_AT.test(text)) return true;
  }
  const r = PAIRS[raw]!;
  if (r & PAIR_CASED) for (const m of CASED_BY_PAIR.get(raw)!) if (text.startsWith(m, i)) return true;
  if (r & PAIR_SPLIT_URL) {
    SPLIT_URL_HEAD_AT.lastIndex = i;
    if (SPLIT_URL_HEAD_AT.test(text)) return true;
  }
  return false;
}

/**
 * A bit per triple of Latin-1 characters (`c0 << 16 | c1 << 8 | c2`) with which a mark may start, in any spelling its
 * case allows: the search reads one table entry per character and compares marks only where one is set.
 */
const STARTS = new Uint8Array(1 << 21);
function setStart(a: string): void {
  const k = (a.charCodeAt(0) << 16) | (a.charCodeAt(1) << 8) | a.charCodeAt(2);
  STARTS[k >> 3]! |= 1 << (k & 7);
}
/** Every spelling of `s` with its ASCII letters in either case. */
function caseSpellings(s: string): string[] {
  let out = [''];
  for (const ch of s) {
    const u = ch.toUpperCase();
    out = out.flatMap((p) => (u !== ch && u.length === 1 ? [p + ch, p + u] : [p + ch]));
  }
  return out;
}
const LATIN1 = Array.from({ length: 256 }, (_, c) => String.fromCharCode(c));
for (const m of ANY_CASE_MARKS) {
  if (m.length < 3) throw new Error(`address mark too short: ${m}`);
  for (const t of caseSpellings(m.slice(0, 3))) setStart(t);
}
for (const m of BASE64_MARKER_FORMS) {
  if (m.length < 3) throw new Error(`address mark too short: ${m}`);
  setStart(m.slice(0, 3));
}
for (const head of caseSpellings('&#')) for (const c of LATIN1) setStart(head + c);
for (const a of 'abcdefghijklmnopqrstuvwxyz')
  for (const t of caseSpellings(`&${a}`)) for (const c of LATIN1) setStart(t + c);
for (const t of ['aHR', 'aH/', 'a/H', 'a//']) setStart(t);

/**
 * The first offset in `text[from, to)` where an address mark starts, or -1: one pass over the characters with the
 * table of the marks' first three characters; marks are compared only where one may start.
 */
function firstMark(text: string, from: number, to: number): number {
  if (to - from < 3) return -1;
  let k = (text.charCodeAt(from) << 8) | text.charCodeAt(from + 1);
  for (let i = from + 2; i < to; i++) {
    const c = text.charCodeAt(i);
    k = ((k << 8) | c) & 0xffffff;
    if ((STARTS[k >> 3]! & (1 << (k & 7))) !== 0) {
      const c0 = text.charCodeAt(i - 2);
      const c1 = text.charCodeAt(i - 1);
      // Characters past Latin-1 start no mark (the mask above may alias them).
      if (c0 <= 255 && c1 <= 255 && c <= 255 && markAt(text, i - 2, (FOLD[c0]! << 8) | FOLD[c1]!, (c0 << 8) | c1))
        return i - 2;
    }
  }
  return -1;
}

/**
 * Whether `text` holds an address mark. Marks are plain substrings (patterns only where they begin), so text that
 * holds a value holding a mark holds the mark too: a whole chunk of lines can be searched once.
 */
export function hasAddressMark(text: string): boolean {
  return firstMark(text, 0, text.length) >= 0;
}

/**
 * The lines of `text` (cut at LF) that hold an address mark, as the offset of a mark in each, in order: one pass
 * over the text, resumed at the next line after each mark.
 */
export function addressMarkLines(text: string): number[] {
  const out: number[] = [];
  let from = 0;
  while (from < text.length) {
    const at = firstMark(text, from, text.length);
    if (at < 0) break;
    out.push(at);
    const nl = text.indexOf('\n', at);
    if (nl < 0) break;
    from = nl + 1;
  }
  return out;
}

/** Percent-decoding and Unicode folding open at most this many layers here; deeper text is passed as it is. */
const MAX_LAYERS = 8;

/**
 * False only when `classify(text)` cannot return a hit: `text` holds an address mark, or
 * `mayAddressMetadataUnmarked` finds a reason in its structure.
 */
export function mayAddressMetadata(text: string, layer = 0): boolean {
  return hasAddressMark(text) || mayAddressMetadataUnmarked(text, layer);
}

/**
 * A run of host characters is read by value only when it may be an address that matters: it has a dot (2–4 parts),
 * or starts with `0` (hex, octal, zero) or `o`/`q` (octal), or has this many digits in a row. Any other run is one
 * plain decimal below `LEAST_NONZERO_MATTERING` (nonzero: it starts with 1–9), or no IPv4 spelling at all.
 */
const MATTERING_DIGITS = String(LEAST_NONZERO_MATTERING).length;

/**
 * The structural half of `mayAddressMetadata`, for text known to hold no address mark. One pass over the characters:
 * control characters and `\` pass at once; each run of letters, digits and dots with a digit in it is read as an IPv4
 * host by value (`numeric-host.ts`); a run with non-ASCII characters is read folded. Text with `%` is tested again
 * percent-decoded, text with non-ASCII folded (in full: decoding may open marks); IPv6 shapes need two colons or a
 * bracket; a hex slug its dash.
 */
export function mayAddressMetadataUnmarked(text: string, layer = 0): boolean {
  if (layer > MAX_LAYERS) return true;
  let colons = 0;
  let bracket = false;
  let dash = false;
  let percent = false;
  let wide = false;
  // The current run of host characters (ASCII letters, digits, dots; non-ASCII, which folding may turn into them).
  let runStart = 0;
  let runDigit = false;
  let runWide = false;
  // Whether the run may be read as an address that matters (see `readRun`); the digits in a row so far.
  let runRead = false;
  let digits = 0;
  const n = text.length;
  for (let i = 0; i <= n; i++) {
    const c = i < n ? text.charCodeAt(i) : 32;
    if (c >= 48) {
      if (c <= 57) {
        runDigit = true;
        if (++digits >= MATTERING_DIGITS || (c === 48 && i === runStart)) runRead = true;
        continue;
      }
      digits = 0;
      if (c >= 128) {
        runWide = wide = true;
        continue;
      }
      const l = c | 32;
      if (l >= 97 && l <= 122) {
        if ((l === 111 || l === 113) && i === runStart) runRead = true;
        continue;
      }
      if (c === 92) return true; // \
    } else if (c === 46) {
      runRead = true;
      digits = 0;
      continue;
    } else if (c === 9 || c === 10 || c === 13) return true; // tab LF CR
    if (runWide) {
      // A host written with characters that fold to ASCII is read folded.
      if (ASCII.test(foldUnicode(text.slice(runStart, i)))) return true;
    } else if (runDigit && runRead) {
      const v = ipv4Value(text, runStart, i);
      if (v >= 0 && addressMatters(v)) return true;
    }
    runStart = i + 1;
    runDigit = false;
    runWide = false;
    runRead = false;
    digits = 0;
    if (c === 58) colons++;
    else if (c === 91) bracket = true;
    else if (c === 45 || c === 95) dash = true;
    else if (c === 37) percent = true;
  }
  if (percent) {
    const decoded = percentDecodeFixpoint(text).text;
    if (decoded !== text) {
      if (mayAddressMetadata(decoded, layer + 1)) return true;
      // Whatever else matches here holds no `%`, so decoding left it in place and the decoded text was tested with
      // it; only the slug, which looks at its neighbour, is tested again.
      if (!wide) return dash && SLUG.test(text);
    }
  }
  if (wide) {
    const folded = foldUnicode(text);
    if (folded !== text && mayAddressMetadata(folded, layer + 1)) return true;
  }
  if (dash && SLUG.test(text)) return true;
  // Script strings joined by `+` are read joined, as the decoder reads them (an address cut in two pieces).
  if (hasScriptJoin(text)) {
    const joined = joinScriptStrings(text);
    if (joined !== text && mayAddressMetadata(joined, layer + 1)) return true;
  }
  // Every IPv6 shape has two colons or a bracket.
  return (colons >= 2 || bracket) && IPV6.test(text);
}
