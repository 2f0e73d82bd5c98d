import { isAscii, isUtf8 } from 'node:buffer';
import { quickCombinedSpans } from '../core/parse/combined.ts';
import { NextIndex, type QuickSpans, SpanMemo, spanBuffer } from '../core/parse/spans.ts';
import type { LineRule } from '../core/rules/line-rule.ts';
import { mayHoldSecret } from '../core/secrets/detect.ts';
import { CombinedScan } from './combined-scan-wasm.ts';

/** The format's quick field lister (`LineParser.quickPlaces`), when it has one. */
export type QuickPlaces = (text: string, noBreaks: boolean) => string[] | null;

/**
 * Whether any rule may care about one line. Rules with a `placeFilter` look only at the fields the format can list
 * without a full parse (request, Referer, …); the others at the whole line, and only if `take[i]` (they cared about
 * its chunk). `#` lines always go through: W3C and Zeek directives carry parser state.
 */
export function lineWanted(
  text: string,
  rules: readonly LineRule[],
  quickPlaces: QuickPlaces | undefined,
  take: readonly boolean[] | undefined,
  noBreaks: boolean,
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
      } else {
        const memo = memoOf(r.placeFilter);
        for (const p of places) if (memo.get(p, 0, p.length)) return true;
      }
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

/** What the stateless stage found in one chunk. */
export interface ChunkFilterResult {
  /** False when the chunk holds NUL bytes or invalid UTF-8: the caller reads it line by line itself. */
  ok: boolean;
  /** Per rule: its `chunkEvidence` on the chunk (false for rules without one). */
  evidence: boolean[];
  /** The chunk holds `#` lines (directives that carry parser state). */
  directives: boolean;
  /** 0-based indexes, within the chunk, of the lines a rule without `chunkEvidence` may care about… */
  lines: number[];
  /** …and their text (a trailing CR removed). */
  texts: string[];
}

/** One span cache per place filter (they are pure, so a cache may live as long as the filter). */
const memos = new WeakMap<(value: string) => boolean, SpanMemo>();
function memoOf(filter: (value: string) => boolean): SpanMemo {
  let m = memos.get(filter);
  if (!m) {
    m = new SpanMemo(filter);
    memos.set(filter, m);
  }
  return m;
}

/** One WebAssembly line stage per place filter (its cache belongs to that filter), or null without the module. */
const scanners = new WeakMap<(value: string) => boolean, CombinedScan | null>();
function scannerOf(filter: (value: string) => boolean): CombinedScan | null {
  let s = scanners.get(filter);
  if (s === undefined) {
    s = CombinedScan.create(filter) ?? null;
    scanners.set(filter, s);
  }
  return s;
}

let markers: CombinedScan | null | undefined;

/**
 * A rule's `chunkEvidence` on a chunk. The core's secret prefilter runs in WebAssembly on the bytes when the module
 * is there (same markers, all ASCII), so that a chunk nobody needs as text is never decoded; `text` decodes it.
 */
export function chunkEvidenceOf(rule: LineRule, buf: Uint8Array, text: () => string): boolean {
  if (!rule.chunkEvidence) return false;
  if (rule.chunkEvidence === mayHoldSecret) {
    if (markers === undefined) markers = CombinedScan.create(() => false) ?? null;
    const found = markers?.secretMarkers(buf);
    if (found !== undefined) return found;
  }
  return rule.chunkEvidence(text());
}

/** Whether a chunk holds a `#` line (directives that carry parser state). */
export function hasDirectives(buf: Uint8Array): boolean {
  return buf[0] === 35 || Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength).indexOf('\n#') >= 0;
}

/** How a format lists a line's fields without a full parse: as strings, and (faster) as spans. */
export interface FieldLister {
  places: QuickPlaces | undefined;
  spans?: QuickSpans | undefined;
}

/**
 * Visit the lines of `text` (whole lines cut at LF, a trailing CR removed) that any of `rules` may care about, as
 * `lineWanted` decides, but through the format's span fast path where it applies: no line or field is sliced unless
 * it is wanted or its field values are new. `take`: per rule, whether it takes part (see `lineWanted`).
 */
export function pickLines(
  textOf: string | (() => string),
  bytes: number,
  rules: readonly LineRule[],
  lister: FieldLister,
  take: readonly boolean[] | undefined,
  visit: (index: number, line: string) => void,
  raw?: Uint8Array,
): void {
  const spans = lister.spans;
  // The span path serves only when every taking rule is a place filter (the others read the whole line anyway).
  let placeOnly = spans !== undefined;
  const filters: Array<(value: string) => boolean> = [];
  const memoList: SpanMemo[] = [];
  for (let i = 0; i < rules.length; i++) {
    const r = rules[i]!;
    if (r.placeFilter) {
      filters.push(r.placeFilter);
      memoList.push(memoOf(r.placeFilter));
    } else if (take === undefined || take[i]) placeOnly = false;
  }
  // Combined/common lines and one place filter: the WebAssembly line stage does all of this on the chunk's bytes.
  if (raw && placeOnly && spans === quickCombinedSpans && filters.length === 1) {
    const scanner = scannerOf(filters[0]!);
    const general = (line: string) => lineWanted(line, rules, lister.places, take, false);
    if (scanner?.pick(raw, general, visit)) return;
  }
  const text = typeof textOf === 'string' ? textOf : textOf();
  const noBreaks = chunkHasNoBreaks(text, bytes);
  const find = placeOnly ? new NextIndex(text) : undefined;
  const out = spanBuffer();
  let start = 0;
  let index = 0;
  while (start < text.length) {
    let nl = text.indexOf('\n', start);
    if (nl < 0) nl = text.length;
    let end = nl;
    if (end > start && text.charCodeAt(end - 1) === 13) end--;
    if (end > start) {
      let wanted: boolean;
      const n = find && text.charCodeAt(start) !== 35 ? spans!(text, start, end, noBreaks, find, out) : -1;
      if (n >= 0) {
        wanted = false;
        for (let k = 0; k < n && !wanted; k++)
          for (const m of memoList)
            if (m.get(text, out[k * 2]!, out[k * 2 + 1]!)) {
              wanted = true;
              break;
            }
        if (wanted) visit(index, text.slice(start, end));
      } else {
        const l = text.slice(start, end);
        if (lineWanted(l, rules, lister.places, take, noBreaks)) visit(index, l);
      }
    }
    start = nl + 1;
    index++;
  }
}

/** Decode a chunk known to be valid UTF-8 (ASCII decodes faster as Latin-1, to the same string). */
export function decodeChunk(buf: Uint8Array): string {
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  return b.toString(isAscii(b) ? 'latin1' : 'utf8');
}

/**
 * The stateless part of scanning one chunk: decode it, run the pure chunk tests, and pick the lines that rules
 * without `chunkEvidence` may care about. Rules with `chunkEvidence` are left out of the line choice: the caller
 * decides with their state whether they take the chunk, and reads the whole chunk itself if one does.
 */
export function filterChunk(buf: Uint8Array, rules: readonly LineRule[], lister: FieldLister): ChunkFilterResult {
  const none: ChunkFilterResult = { ok: false, evidence: [], directives: false, lines: [], texts: [] };
  if (!isUtf8(buf) || buf.indexOf(0) >= 0) return none;
  let decoded: string | undefined;
  const text = () => {
    decoded ??= decodeChunk(buf);
    return decoded;
  };
  const evidence = rules.map((r) => chunkEvidenceOf(r, buf, text));
  const take = rules.map((r) => !r.chunkEvidence && (r.placeFilter !== undefined || r.mayMatch(text())));
  const directives = hasDirectives(buf);
  const lines: number[] = [];
  const texts: string[] = [];
  if (!take.some(Boolean) && !directives) return { ok: true, evidence, directives, lines, texts };
  const lineRules = rules.filter((_, i) => take[i]);
  pickLines(
    text,
    buf.length,
    lineRules,
    lister,
    undefined,
    (index, line) => {
      lines.push(index);
      texts.push(line);
    },
    buf,
  );
  return { ok: true, evidence, directives, lines, texts };
}
