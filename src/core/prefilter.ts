import { BASE64_MARKERS, SPLIT_URL_HEAD } from './decode/base64.ts';
import { CHARCODE_MARKER } from './decode/charcodes.ts';
import { HEX_MARKER_FORMS } from './decode/hex-url.ts';
import { percentDecodeFixpoint } from './decode/percent.ts';
import { foldUnicode } from './decode/unicode.ts';
import { ALIAS_NAMES } from './endpoints/aliases.ts';
import { ALL_IPV4, CATALOGUE } from './endpoints/lookup.ts';
import { addressMatters, ipv4Value } from './numeric-host.ts';

/**
 * A cheap necessary condition for `classify()` to find anything: text that fails it cannot address a metadata
 * service (or another internal target) under any decoding the classifier knows. `scan` runs it on every field so
 * that the full decoder only sees candidates. A property test checks that whatever `classify()` calls metadata
 * passes here.
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
 * - a public alias (wildcard, rebinding and fixed DNS names, redirectors: `endpoints/aliases.ts`) appears literally.
 */

const ENTITY = /&(?:#|[a-z]{2,8};)/i;
const SLUG = /[-_](?:3a|2f|2e|40)(?:[-_]|$)/i;
/** Internal names (not metadata services: the host decoder's own lists), matched against the lower-cased text. */
const NAMES =
  /metadata|localhost|\.internal|kubernetes|svc\.cluster|ip6-|ipv6-|loopback|localdomain|\.local(?![\w-])|\.corp(?![\w-])|\.lan(?![\w-])|intranet|home\.arpa|msi\/token/;
/** Every hostname of the catalogue, matched against the lower-cased text. */
const CATALOGUE_NAMES = new RegExp(CATALOGUE.hostnames.map((n) => n.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')).join('|'));
/** Names from the alias data (`endpoints/aliases.ts`) and the script-call marker, matched against the lower-cased text. */
const ALIASES = new RegExp(
  [...ALIAS_NAMES, CHARCODE_MARKER].map((n) => n.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')).join('|'),
);
/** The three in one search (the text is read once). */
const ANY_NAME = new RegExp(`${NAMES.source}|${CATALOGUE_NAMES.source}|${ALIASES.source}`);
const HEX_FORMS = new RegExp(HEX_MARKER_FORMS.join('|'));
const IPV6 = /::|\[[0-9a-f]{0,4}:|[0-9a-f]{1,4}:[0-9a-f]{1,4}:[0-9a-f]{1,4}/i;
/** Metadata addresses written anywhere, dotted or dashed (DNS names that embed them), and 169.254.169.254 in hex. */
const LITERAL = new RegExp(
  [
    '169[.-]254[.-]',
    ...ALL_IPV4.map((a) => a.split('.').join('[.-]')),
    ...ALL_IPV4.map((a) =>
      a
        .split('.')
        .map((o) => Number(o).toString(16).padStart(2, '0'))
        .join(''),
    ),
  ].join('|'),
  'i',
);
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

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
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
const isMixed = (x: string) => /[A-Z]/.test(x) && /[a-z]/.test(x);
/** Forms with both cases can only occur in text with both cases: test them only then. */
const BASE64_MIXED = new RegExp(BASE64_MARKER_FORMS.filter(isMixed).map(escapeRe).join('|'));
const BASE64_SINGLE_CASE = new RegExp(
  BASE64_MARKER_FORMS.filter((x) => !isMixed(x))
    .map(escapeRe)
    .join('|'),
);

/** Percent-decoding and Unicode folding open at most this many layers here; deeper text is passed as it is. */
const MAX_LAYERS = 8;

/**
 * False only when `classify(text)` cannot return a hit. One pass over the characters: control characters and `\`
 * pass at once; each run of letters, digits and dots with a digit in it is read as an IPv4 host by value
 * (`numeric-host.ts`); the flags seen decide which (slower) tests can matter. Text with `%` is also tested once
 * percent-decoded, text with non-ASCII once folded: the classifier reads those views too.
 */
export function mayAddressMetadata(text: string, layer = 0): boolean {
  if (layer > MAX_LAYERS) return true;
  let digit = false;
  let upper = false;
  let lower = false;
  let colon = false;
  let amp = false;
  let dash = false;
  let percent = false;
  let wide = false;
  let colons = 0;
  let bracket = false;
  // Longest runs of hex digits and of base64 characters: the hex and base64 forms are searched only where one fits.
  let hexRun = 0;
  let hexMax = 0;
  let b64Run = 0;
  let b64Max = 0;
  // The current run of host characters (ASCII letters, digits, dots; non-ASCII, which folding may turn into them).
  let runStart = 0;
  let runDigit = false;
  let runWide = false;
  for (let i = 0; i <= text.length; i++) {
    const c = i < text.length ? text.charCodeAt(i) : 32;
    if (c === 92 || c === 9 || c === 10 || c === 13) return true; // \ tab LF CR
    const d = c >= 48 && c <= 57;
    const u = c >= 65 && c <= 90;
    const l = c >= 97 && c <= 122;
    if (d || ((c | 32) <= 102 && (c | 32) >= 97)) {
      if (++hexRun > hexMax) hexMax = hexRun;
    } else hexRun = 0;
    if (d || u || l || c === 43 || c === 47 || c === 45 || c === 95) {
      if (++b64Run > b64Max) b64Max = b64Run;
    } else b64Run = 0;
    if (d || u || l || c === 46 || c >= 128) {
      if (d) runDigit = digit = true;
      else if (u) upper = true;
      else if (l) lower = true;
      else if (c >= 128) runWide = wide = true;
      continue;
    }
    if (runWide) {
      // A host written with characters that fold to ASCII is read folded.
      if (ASCII.test(foldUnicode(text.slice(runStart, i)))) return true;
    } else if (runDigit) {
      const v = ipv4Value(text, runStart, i);
      if (v >= 0 && addressMatters(v)) return true;
    }
    runStart = i + 1;
    runDigit = false;
    runWide = false;
    if (c === 58) {
      colon = true;
      colons++;
    } else if (c === 91) colon = bracket = true;
    else if (c === 38) amp = true;
    else if (c === 45 || c === 95) dash = true;
    else if (c === 37) percent = true;
  }
  if (percent) {
    const decoded = percentDecodeFixpoint(text).text;
    if (decoded !== text) {
      if (mayAddressMetadata(decoded, layer + 1)) return true;
      // A match of a plain search below holds no `%` and decoding leaves it in place, so the decoded text had it
      // too; only searches that look at a neighbouring character (a name's end, a slug's end) are repeated here.
      if (!wide) return (dash && SLUG.test(text)) || NAMES.test(upper ? text.toLowerCase() : text);
    }
  }
  if (wide) {
    const folded = foldUnicode(text);
    if (folded !== text && mayAddressMetadata(folded, layer + 1)) return true;
  }
  if (amp && ENTITY.test(text)) return true;
  if (dash && SLUG.test(text)) return true;
  // Every IPv6 shape has two colons or a bracket.
  if (colon && (colons >= 2 || bracket) && IPV6.test(text)) return true;
  if (digit && LITERAL.test(text)) return true;
  const lowerText = upper ? text.toLowerCase() : text;
  if (ANY_NAME.test(lowerText)) return true;
  if (digit && hexMax >= 16 && HEX_FORMS.test(lowerText)) return true;
  if (upper && lower && SPLIT_URL_HEAD.test(text)) return true;
  if (b64Max >= 12) {
    if (upper && lower && BASE64_MIXED.test(text)) return true;
    if (BASE64_SINGLE_CASE.test(text)) return true;
  }
  return false;
}
