/**
 * Field spans found inside a larger text (a chunk of many lines) without slicing lines: the fast path `scan` runs on
 * every line. A span is a pair of offsets `[start, end)` into the text.
 */

/**
 * `indexOf` over one text with the next hit of each needle remembered, so that lines without a needle do not each
 * search the rest of the text for it (which would make a chunk of such lines quadratic).
 */
/** Needles one `NextIndex` follows: each caller uses a small slot number per needle (no lookup by needle). */
export const NEXT_INDEX_SLOTS = 8;

export class NextIndex {
  private text: string;
  /** Per slot: the position a search started from, and what it found there (text length when nothing). */
  private readonly from = new Float64Array(NEXT_INDEX_SLOTS).fill(Number.POSITIVE_INFINITY);
  private readonly hit = new Float64Array(NEXT_INDEX_SLOTS);

  constructor(text: string) {
    this.text = text;
  }

  /** Search another text from now on (one object serves line after line). */
  reset(text: string): this {
    this.text = text;
    this.from.fill(Number.POSITIVE_INFINITY);
    return this;
  }

  /** The first index ≥ `pos` where `needle` (always the same one for a `slot`) occurs, or the text's length. */
  next(slot: number, needle: string, pos: number): number {
    const h0 = this.hit[slot]!;
    if (this.from[slot]! <= pos && h0 >= pos) return h0;
    let h = this.text.indexOf(needle, pos);
    if (h < 0) h = this.text.length;
    this.from[slot] = pos;
    this.hit[slot] = h;
    return h;
  }
}

/**
 * A copy of `s` that does not keep alive the (larger) string it was sliced from: concatenation and a slice make V8
 * flatten into a new string of `s`'s length.
 */
export function detach(s: string): string {
  return s.length > 12 ? ` ${s}`.slice(1) : s;
}

/** Where a format's fast path writes the spans of one line: up to `MAX_SPANS` pairs. */
export const MAX_SPANS = 4;
export type SpanBuffer = Int32Array;
export function spanBuffer(): SpanBuffer {
  return new Int32Array(MAX_SPANS * 2);
}

/**
 * A format's fast path over one line `text[start, end)` of a larger text: writes the spans of the fields a rule could
 * flag into `out` and returns how many, or -1 whenever the line's shape leaves any doubt (the caller then reads the
 * line through `quickPlaces` or in full). The spans must be exactly the values `quickPlaces` gives for the line.
 */
export type QuickSpans = (
  text: string,
  start: number,
  end: number,
  noBreaks: boolean,
  find: NextIndex,
  out: SpanBuffer,
) => number;
