import type { HttpEvent } from '../model/event.ts';
import type { Finding } from '../model/finding.ts';

/** One line of a log as the rules see it: the raw text, where it is, and the request parsed from it (if any). */
export interface LineInput {
  text: string;
  file: string;
  /** 1-based. */
  line: number;
  format: string;
  event?: HttpEvent;
}

/** See `LineRule.placeMarks`. */
export interface PlaceMarks {
  lines(chunk: string): number[];
  unmarked(value: string): boolean;
}

/**
 * A stateless detection over log lines. `mayMatch` is a cheap test on the raw text (substring/byte level): a line
 * for which no rule's `mayMatch` is true is neither parsed nor evaluated, which is what makes `scan` fast. It must
 * never be false for a line `evaluate` would report.
 */
export interface LineRule {
  readonly id: string;
  mayMatch(text: string): boolean;
  /**
   * Optional cheap test on one raw field of a line (request, Referer, …). When the line's format can list those
   * fields without a full parse, the rule is interested in the line only if one of them passes; otherwise `mayMatch`
   * decides. For rules whose evidence sits in a few fields while the rest of a line (times, sizes, user agents) would
   * make any line-level test pass.
   */
  placeFilter?(value: string): boolean;
  /**
   * Optional, with `placeFilter`: the same test split in two, so that a chunk of lines is searched once. `lines(chunk)`
   * gives, for each line of the chunk (cut at LF) holding a plain substring on which `placeFilter` may pass, an offset
   * in that line, in order; on a value that is a substring of a line not given, `placeFilter` equals `unmarked`.
   */
  readonly placeMarks?: PlaceMarks;
  /**
   * Optional pure test on a whole chunk of lines, for stateful rules whose line test passes on context lines that
   * only matter near evidence (a `RoleArn` line near a key): false when no line of `chunk` holds evidence. The rule
   * then sits the chunk out unless `holdsOpen` says a finding is still open. When a chunk is taken after one that
   * was not, the caller first shows the rule the last `lookbehindLines` lines it skipped (through `mayMatch`, in
   * order), so that context before the evidence is kept.
   */
  chunkEvidence?(chunk: string): boolean;
  /** With `chunkEvidence`: true while a finding in `file` is open and every line matters (a PEM block, a look-ahead). */
  holdsOpen?(file: string): boolean;
  /** With `chunkEvidence`: how many skipped lines before a taken chunk the rule needs to see. */
  readonly lookbehindLines?: number;
  evaluate(input: LineInput): Finding[];
  /** Also evaluate lines that do not parse in the log format (without `event`): rules about raw text, e.g. leaks. */
  readonly rawLines?: boolean;
  /** Stateful rules: the findings still held for `file`, called once when the input ends. */
  flush?(file: string): Finding[];
}
