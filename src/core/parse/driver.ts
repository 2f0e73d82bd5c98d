import { detectFormat, FORMATS } from './registry.ts';
import type { QuickSpans } from './spans.ts';
import type { LineOrigin, LineParser, LogFormatName, ParseResult, ParserOptions } from './types.ts';

export interface DriverResult {
  result: ParseResult;
  /** The format that produced the result. */
  format: string;
  /** Set when auto-detection moved to another format on this line. */
  switchedFrom?: string;
  /** True when no format matched and the line was read as free text. */
  fallback?: boolean;
}

/**
 * One input's parsing state. With a forced format every line goes to that parser (a line that does not fit is
 * `nomatch`); with `auto` the format is detected on the first line and re-detected whenever a line stops fitting,
 * so a file whose format changes mid-way is still read. A line no format fits is read as free text.
 */
export class FormatDriver {
  private parser: LineParser | undefined;
  private readonly cache = new Map<string, LineParser>();

  private readonly forced: LogFormatName;
  private readonly opts: ParserOptions;

  constructor(forced: LogFormatName, opts: ParserOptions = {}) {
    this.forced = forced;
    this.opts = opts;
    if (forced !== 'auto') this.parser = FORMATS[forced].create(opts);
  }

  get format(): string | undefined {
    return this.parser?.format;
  }

  /**
   * The raw attack-bearing fields of `text` when the current format can list them without a full parse (see
   * `LineParser.quickPlaces`), or null.
   */
  quickPlaces(text: string, noBreaks = false): string[] | null {
    const p = this.parser;
    return p?.quickPlaces ? p.quickPlaces(text, noBreaks) : null;
  }

  /** The current format's span lister (`LineParser.quickSpans`), if it has one. */
  get quickSpans(): QuickSpans | undefined {
    return this.parser?.quickSpans;
  }

  parse(text: string, origin: LineOrigin): DriverResult {
    if (this.forced !== 'auto') {
      const p = this.parser!;
      return { result: p.parse(text, origin), format: p.format };
    }
    if (this.parser) {
      const r = this.parser.parse(text, origin);
      if (r.kind !== 'nomatch') return { result: r, format: this.parser.format };
    }
    const detected = detectFormat(text);
    if (detected && detected.name !== this.parser?.format) {
      // Stateful parsers (W3C headers) keep their state if the format comes back later in the same input.
      let p = this.cache.get(detected.name);
      if (!p) {
        p = detected.create(this.opts);
        this.cache.set(detected.name, p);
      }
      const r = p.parse(text, origin);
      if (r.kind !== 'nomatch') {
        const from = this.parser?.format;
        this.parser = p;
        return { result: r, format: p.format, ...(from ? { switchedFrom: from } : {}) };
      }
    }
    if (text.startsWith('#')) return { result: { kind: 'meta' }, format: this.parser?.format ?? 'text' };
    return { result: FORMATS.text.create(this.opts).parse(text, origin), format: 'text', fallback: true };
  }
}
