import { isAscii } from 'node:buffer';
import { NextIndex, type QuickSpans, type SpanBuffer, spanBuffer } from '../core/parse/spans.ts';
import type { LineRule } from '../core/rules/line-rule.ts';

/** The format's quick field lister (`LineParser.quickPlaces`), when it has one. */
export type QuickPlaces = (text: string, noBreaks: boolean) => string[] | null;

/**
 * The one line-selection stage of `scan`: whether any rule may care about one line, from what each rule declares it
 * needs. Rules with a `placeFilter` look only at the fields the format lists without a full parse (request, Referer,
 * Host, …), or at the whole line through `mayMatch` when the format cannot list them for this line; the others
 * (secret markers) at the whole line, and only if `take[i]` (their chunk test passed). `#` lines always go through:
 * W3C and Zeek directives carry parser state. `unmarked[i]`: the line holds none of rule `i`'s `placeMarks`, so its
 * fields that are plain substrings of the line only need the rule's `unmarked` test.
 */
export function lineWanted(
  text: string,
  rules: readonly LineRule[],
  quickPlaces: QuickPlaces | undefined,
  take: readonly boolean[] | undefined,
  noBreaks: boolean,
  unmarked?: readonly boolean[],
): boolean {
  if (text.length === 0) return false;
  if (text.charCodeAt(0) === 35) return true;
  let places: string[] | null | undefined;
  for (let i = 0; i < rules.length; i++) {
    const r = rules[i]!;
    if (r.placeFilter) {
      if (places === undefined) places = quickPlaces ? quickPlaces(text, noBreaks) : null;
      if (places === null) {
        if (r.mayMatch(text)) return true;
      } else if (unmarked?.[i] && r.placeMarks) {
        // A field the format rewrote (JSON escapes, W3C percent-escapes) may hold a mark the line does not.
        for (const p of places) if (text.indexOf(p) < 0 ? r.placeFilter(p) : r.placeMarks.unmarked(p)) return true;
      } else for (const p of places) if (r.placeFilter(p)) return true;
    } else if ((take === undefined || take[i]) && r.mayMatch(text)) return true;
  }
  return false;
}

/**
 * True when the lines of `text` (a chunk cut at LF, each line's CR before LF removed) hold no CR, U+2028 or U+2029;
 * `bytes`: its UTF-8 length.
 */
export function chunkHasNoBreaks(text: string, bytes: number): boolean {
  // ASCII text (as many characters as bytes) holds no U+2028/U+2029.
  if (text.length !== bytes && (text.indexOf('\u2028') >= 0 || text.indexOf('\u2029') >= 0)) return false;
  return text.indexOf('\r') < 0 || !LONE_CR.test(text);
}
/** A CR that is not the end of a CRLF line (at end of text, the last line's CR is removed too). */
const LONE_CR = /\r(?!\n|$)/;

/** Whether a chunk holds a `#` line (directives that carry parser state). */
export function hasDirectives(buf: Uint8Array): boolean {
  return buf[0] === 35 || Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength).indexOf('\n#') >= 0;
}

/**
 * Visit the lines of `text` (whole lines cut at LF, a trailing CR removed) that `lineWanted` picks, with their
 * 0-based index. `bytes`: the chunk's UTF-8 length. Each rule's `placeMarks` are searched once over the whole text.
 * With the format's `spans` (`LineParser.quickSpans`), a line whose fields it lists is decided on its fields alone,
 * without copying the line: only lines it cannot list go through `quickPlaces`.
 */
export function pickLines(
  text: string,
  bytes: number,
  rules: readonly LineRule[],
  quickPlaces: QuickPlaces | undefined,
  take: readonly boolean[] | undefined,
  visit: (index: number, line: string) => void,
  spans?: QuickSpans,
): void {
  const noBreaks = chunkHasNoBreaks(text, bytes);
  const marks = rules.map((r) => (r.placeFilter && r.placeMarks ? r.placeMarks.lines(text) : undefined));
  const next = rules.map(() => 0);
  const unmarked = rules.map(() => false);
  const find = new NextIndex(text);
  const out = spanBuffer();
  let start = 0;
  let index = 0;
  while (start < text.length) {
    let nl = text.indexOf('\n', start);
    if (nl < 0) nl = text.length;
    let end = nl;
    if (end > start && text.charCodeAt(end - 1) === 13) end--;
    if (end > start) {
      for (let i = 0; i < rules.length; i++) {
        const m = marks[i];
        if (m === undefined) continue;
        let k = next[i]!;
        while (k < m.length && m[k]! < start) k++;
        next[i] = k;
        unmarked[i] = k >= m.length || m[k]! >= nl;
      }
      const n = spans && text.charCodeAt(start) !== 35 ? spans(text, start, end, noBreaks, find, out) : -1;
      if (n >= 0) {
        if (spansWanted(text, start, end, out, n, rules, take, unmarked)) visit(index, text.slice(start, end));
      } else {
        const l = text.slice(start, end);
        if (lineWanted(l, rules, quickPlaces, take, noBreaks, unmarked)) visit(index, l);
      }
    }
    start = nl + 1;
    index++;
  }
}

/**
 * `lineWanted` for the line `text[start, end)` whose fields are the `n` spans in `out`: the fields are plain
 * substrings of the line, so a rule whose marks the line lacks only needs its `unmarked` test on them.
 */
function spansWanted(
  text: string,
  start: number,
  end: number,
  out: SpanBuffer,
  n: number,
  rules: readonly LineRule[],
  take: readonly boolean[] | undefined,
  unmarked: readonly boolean[],
): boolean {
  for (let i = 0; i < rules.length; i++) {
    const r = rules[i]!;
    if (r.placeFilter) {
      const marks = unmarked[i] ? r.placeMarks : undefined;
      for (let k = 0; k < n; k++) {
        const v = text.slice(out[k * 2]!, out[k * 2 + 1]!);
        if (marks ? marks.unmarked(v) : r.placeFilter(v)) return true;
      }
    } else if ((take === undefined || take[i]) && r.mayMatch(text.slice(start, end))) return true;
  }
  return false;
}

/** Decode a chunk known to be valid UTF-8 (ASCII decodes faster as Latin-1, to the same string). */
export function decodeChunk(buf: Uint8Array): string {
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  return b.toString(isAscii(b) ? 'latin1' : 'utf8');
}
