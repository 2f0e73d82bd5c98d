import { TERMINAL_ESCAPE } from '../../core/secrets/layers.ts';
import { Masker } from '../../core/secrets/masker.ts';

/**
 * Attacker-controlled text (URLs, user agents) must not drive the terminal: strip ANSI escape sequences; show C0/C1
 * controls and bidirectional controls (which reorder what the reader sees) as `\xNN` before printing.
 */
// biome-ignore lint/suspicious/noControlCharactersInRegex: that is the point
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]/g;
/** Line feeds too, for a field value: a message's own are ours, but one inside a value starts a line the input chose. */
const FIELD_CONTROL = new RegExp(`${CONTROL.source.slice(0, -1)}\\n]`, 'g');

/**
 * `s` made safe to print: escape sequences stripped, then every secret masked, then controls shown as `\xNN`. Masking
 * comes after stripping because stripping joins what a sequence cut (a secret coloured by `grep --color` is whole
 * only once its codes are gone), and before escaping, which only adds text. Pass the writer's masker to share the
 * secrets it already knows.
 */
export function sanitizeForTerminal(s: string, masker: Masker = new Masker(), opts: { field?: boolean } = {}): string {
  for (const [raw, shown] of oddNames) if (s.includes(raw)) s = s.split(raw).join(shown);
  return masker
    .maskString(s.replace(TERMINAL_ESCAPE, ''))
    .replace(opts.field ? FIELD_CONTROL : CONTROL, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/**
 * One value quoted from an input (a log field, an inventory name) made safe to print inside a line: as
 * `sanitizeForTerminal`, and its line feeds (and U+2028, U+2029) shown as `\x0a`, so it cannot start a line of its own.
 */
export function sanitizeField(s: string, masker?: Masker): string {
  return sanitizeForTerminal(s, masker, { field: true });
}

/** Names (file names, path segments) holding a line break or control, and how they are shown: see `showAsName`. */
const oddNames = new Map<string, string>();
// biome-ignore lint/suspicious/noControlCharactersInRegex: that is the point
const NAME_CONTROL = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]/;
// biome-ignore lint/suspicious/noControlCharactersInRegex: that is the point
const VISIBLE = /[^\s\u0000-\u001f\u007f-\u009f]/;

/**
 * A file name (or each `/`-separated segment of a path) is shown with every control escaped wherever it appears in
 * what is printed: a line feed in a name would otherwise start a line of the name's choosing (`x\nimdsguard: …`) and
 * an escape sequence in it would be stripped rather than shown. Messages print line feeds of their own, so the name
 * is what must be recognised: the CLI arguments and every entry a directory walk reads are told here.
 */
export function showAsName(name: string): void {
  for (const segment of name.split('/')) {
    // A name of controls alone (a file named "\n") would turn every line break of every message into `\x0a`.
    if (!NAME_CONTROL.test(segment) || !VISIBLE.test(segment) || oddNames.has(segment)) continue;
    oddNames.set(
      segment,
      segment.replace(
        new RegExp(NAME_CONTROL.source, 'g'),
        (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`,
      ),
    );
  }
}

const HTML_ENTITY: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/**
 * The one escaping function of the HTML report, for text and attribute values alike: markup characters become
 * entities, and control and bidirectional-override characters (which could reorder what a reader sees, e.g. U+202E)
 * are shown as `\xNN` / `\x202e`, as on a terminal.
 */
export function escapeHtml(s: string): string {
  return s
    .replace(CONTROL, (c) => (c === '\n' || c === '\t' ? c : `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`))
    .replace(/[&<>"']/g, (c) => HTML_ENTITY[c]!);
}
