import { BASE64_MARKERS, SPLIT_URL_HEAD } from './decode/base64.ts';
import { CHARCODE_MARKER } from './decode/charcodes.ts';
import { HEX_MARKER_FORMS } from './decode/hex-url.ts';
import { ALIAS_NAMES } from './endpoints/aliases.ts';

/**
 * A cheap necessary condition for `classify()` to find anything: text that fails it cannot address a metadata
 * service (or another internal target) under any decoding the classifier knows. `scan` runs it on every field so
 * that the full decoder only sees candidates. A property test checks that whatever `classify()` calls metadata
 * passes here.
 *
 * The reasoning, family by family:
 * - any encoding the decoder undoes leaves a mark: `%`, `\`, `&#`/`&name;`, non-ASCII, tab/CR/LF, hex slugs;
 * - a name the catalogue or the internal lists know, or a wildcard/rebinding DNS suffix, appears literally;
 * - an IPv6 literal has `::`, brackets or three colon-separated hex groups;
 * - an IPv4 host in any numeric form starts right after a host boundary (`//`, `:`, `@`, `=`, `[`, a quote, `>`,
 *   whitespace, the start) with `0x`, an octal `0`, a dotted number or three digits; literal metadata addresses
 *   (and their dashed forms in DNS names) are matched anywhere;
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
/** Matched against the lower-cased text. */
const NAMES =
  /metadata|instance-data|nip\.io|sslip\.io|xip\.io|nip\.direct|rbndr\.us|1u\.ms|rebind|cmpxchg8b|rebnd|localhost|localtest\.me|lvh\.me|vcap\.me|lacolhost|traefik\.me|fbi\.com|ip\.addr\.tools|backname|\.internal|kubernetes|svc\.cluster|tencentyun|packet\.net|platformequinix|rancher|ip6-|ipv6-|loopback|localdomain|\.local(?![\w-])|\.corp(?![\w-])|\.lan(?![\w-])|intranet|home\.arpa|msi\/token/;
/** Names from the alias data (`endpoints/aliases.ts`) and the script-call marker, matched against the lower-cased text. */
const ALIASES = new RegExp(
  [...ALIAS_NAMES, CHARCODE_MARKER].map((n) => n.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')).join('|'),
);
const HEX_RUN = /[0-9a-f]{16}/i;
const HEX_FORMS = new RegExp(HEX_MARKER_FORMS.join('|'));
const IPV6 = /::|\[[0-9a-f]{0,4}:|[0-9a-f]{1,4}:[0-9a-f]{1,4}:[0-9a-f]{1,4}/i;
const IPV4_HOST = /(?:^|[=@[\s"'>(,;|]|\/\/|:\/?)(?:0x|0o|[0oq][0-7]|\d{1,3}\.\d|\d{3}|0(?![\w.]))/i;
const LITERAL = /169[.-]254[.-]|100[.-]100[.-]100[.-]200|192[.-]0[.-]0[.-]192|168[.-]63[.-]129[.-]16|a9fea9fe/i;
const HAS_RUN = /[A-Za-z0-9+/_-]{12,}/;

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

/** False only when `classify(text)` cannot return a hit. */
export function mayAddressMetadata(text: string): boolean {
  // One pass over the characters decides which (slower) tests can matter at all.
  let digit = false;
  let upper = false;
  let lower = false;
  let colon = false;
  let amp = false;
  let dash = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 37 || c === 92 || c === 9 || c === 10 || c === 13 || c >= 128) return true; // % \ tab LF CR non-ASCII
    if (c >= 48 && c <= 57) digit = true;
    else if (c >= 65 && c <= 90) upper = true;
    else if (c >= 97 && c <= 122) lower = true;
    else if (c === 58 || c === 91)
      colon = true; // ':' '['
    else if (c === 38) amp = true;
    else if (c === 45 || c === 95) dash = true;
  }
  if (amp && ENTITY.test(text)) return true;
  if (dash && SLUG.test(text)) return true;
  if (colon && IPV6.test(text)) return true;
  if (digit && (IPV4_HOST.test(text) || LITERAL.test(text))) return true;
  const lowerText = upper ? text.toLowerCase() : text;
  if (NAMES.test(lowerText)) return true;
  if (ALIASES.test(lowerText)) return true;
  if (digit && text.length >= 16 && HEX_RUN.test(text) && HEX_FORMS.test(lowerText)) return true;
  if (upper && lower && SPLIT_URL_HEAD.test(text)) return true;
  if (text.length >= 12 && HAS_RUN.test(text)) {
    if (upper && lower && BASE64_MIXED.test(text)) return true;
    if (BASE64_SINGLE_CASE.test(text)) return true;
  }
  return false;
}
