import type { HttpEvent } from '../model/event.ts';
import type { QuickSpans } from './spans.ts';

/** `--log-format` names (DESIGN.md). `auto` detects per file and re-detects when a line stops parsing. */
export const LOG_FORMATS = [
  'auto',
  'nginx',
  'apache',
  'combined',
  'common',
  'json',
  'alb',
  'elb',
  'cloudfront',
  'awswaf',
  'squid',
  'haproxy',
  'envoy',
  'traefik',
  'iis',
  'zeek',
  'eve',
  'text',
] as const;
export type LogFormatName = (typeof LOG_FORMATS)[number];

/** Where a line came from. */
export interface LineOrigin {
  file: string;
  line: number;
}

/**
 * What a parser made of one line:
 * - `event`: an HTTP request to look at;
 * - `meta`: a header or comment the parser consumed (W3C `#Fields`, Zeek `#separator`), no request;
 * - `ignore`: a well-formed record that is not an HTTP request (eve.json `flow` events), with why;
 * - `nomatch`: not this format (auto-detection then tries the others).
 */
export type ParseResult =
  | { kind: 'event'; event: HttpEvent }
  | { kind: 'meta' }
  | { kind: 'ignore'; reason: string }
  | { kind: 'nomatch' };

export const NOMATCH: ParseResult = { kind: 'nomatch' };
export const META: ParseResult = { kind: 'meta' };

/** A parser instance for one input. Stateful formats (W3C, Zeek TSV) keep their header state here. */
export interface LineParser {
  readonly format: string;
  parse(text: string, origin: LineOrigin): ParseResult;
  /**
   * Optional fast path: the raw text of every field of `text` a rule could flag (the request, Referer, …), found
   * without a full parse, or null when the line may not be in this format (then it is parsed in full). Every value
   * `parse` puts in an attack-bearing event field must be a substring of one returned here, with the same text
   * before it. `noBreaks`: the caller knows `text` holds no CR, LF, U+2028 or U+2029.
   */
  quickPlaces?(text: string, noBreaks?: boolean): string[] | null;
  /** Optional, with `quickPlaces`: the same over one line of a larger text, as spans (see `QuickSpans`). */
  readonly quickSpans?: QuickSpans;
}

export interface ParserOptions {
  /** `--field name=dotted.path` mappings for JSON lines (name: url, host, referer, method, status, bytes, client, time, body). */
  fieldMap?: Record<string, string>;
}

/** One log format: a cheap guess from a line, and a factory for a parser. */
export interface LogFormat {
  readonly name: string;
  /** True when `line` looks like this format. Header lines (`#Fields`) count. */
  sniff(line: string): boolean;
  create(opts: ParserOptions): LineParser;
}

/** An object type whose optional properties may also be given as `undefined` (stripped by `httpEvent`). */
export type Loose<T> = { [K in keyof T]?: T[K] | undefined };

/** Build an HttpEvent from fields that may be undefined (parsers read many optional columns). */
export function httpEvent(
  fields: Loose<Omit<HttpEvent, 'kind' | 'origin'>> & { origin: HttpEvent['origin'] },
): HttpEvent {
  const ev: Record<string, unknown> = { kind: 'http' };
  for (const [k, v] of Object.entries(fields)) if (v !== undefined) ev[k] = v;
  return ev as unknown as HttpEvent;
}
