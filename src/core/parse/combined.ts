import type { HttpEvent } from '../model/event.ts';
import { clfTime, intOrUndef, orUndef, requestTargetSpan, splitRequestLine } from './fields.ts';
import { NextIndex, type SpanBuffer, spanBuffer } from './spans.ts';
import { httpEvent, type LineParser, type LogFormat, NOMATCH } from './types.ts';

/**
 * nginx and Apache `common` and `combined` (`%h %l %u [%t] "%r" %>s %b "%{Referer}i" "%{User-Agent}i"`), and the
 * common variants that append fields (nginx `"$http_x_forwarded_for"`). nginx and Apache escape `"`, control and
 * non-ASCII bytes as `\xHH` inside quoted fields: the text is kept as logged and the classifier undoes the escapes.
 */
const RE =
  /^(\S+) (\S+) (.+?) \[([^\]]+)\] "((?:[^"\\]|\\.)*)" (\d{3}|-) (\d+|-)(?: "((?:[^"\\]|\\.)*)" "((?:[^"\\]|\\.)*)")?(.*)$/;

export function parseCombined(line: string, format: string, origin: { file: string; line: number }): HttpEvent | null {
  const m = RE.exec(line);
  if (!m) return null;
  const req = splitRequestLine(m[5]!);
  const extra: Record<string, string> = {};
  // nginx's usual third quoted field is X-Forwarded-For; anything else quoted after the user agent is kept as text.
  const tail = m[10]?.trim();
  if (tail) extra.trailing = tail;
  return httpEvent({
    origin: { file: origin.file, line: origin.line, format },
    clientIp: m[1],
    time: clfTime(m[4]!),
    method: req.method,
    target: req.target,
    status: intOrUndef(m[6]),
    bytes: intOrUndef(m[7]) ?? (m[7] === '-' ? 0 : undefined),
    referer: orUndef(m[8]),
    userAgent: orUndef(m[9]),
    ...(tail ? { extra } : {}),
  });
}

/** The first space at or after `k` in `[k, end)` (or `end`), or -1 when a character before it is not `[!-~]`. */
function tokenEnd(text: string, k: number, end: number): number {
  for (; k < end; k++) {
    const c = text.charCodeAt(k);
    if (c === 32) return k;
    if (c < 33 || c > 126) return -1;
  }
  return end;
}

/**
 * The request target, Referer and trailing text of one combined/common line: exactly the values `parseCombined`
 * gives, or null whenever the line's shape leaves any doubt (then it is parsed in full). It is `quickCombinedSpans`
 * on the line alone; lines holding CR, LF, U+2028 or U+2029 are left to the full parse (the regex's `.` does not
 * cross them) unless the caller promises `noBreaks`.
 */
export function quickCombinedPlaces(line: string, noBreaks = false): string[] | null {
  const out = SPANS;
  const n = quickCombinedSpans(line, 0, line.length, noBreaks || !BREAKS.test(line), FIND.reset(line), out);
  if (n < 0) return null;
  const places: string[] = [];
  for (let k = 0; k < n; k++) places.push(line.slice(out[k * 2]!, out[k * 2 + 1]!));
  return places;
}
/** One span buffer and one searcher serve every line (the function is not re-entered). */
const SPANS = spanBuffer();
const FIND = new NextIndex('');
const BREAKS = /[\r\n\u2028\u2029]/;

/** ASCII whitespace as `String.prototype.trim` removes it. */
const isAsciiSpace = (c: number) => c === 32 || (c >= 9 && c <= 13);

const SLOT_QUOTE = 0;

/** `closingQuote` within `[i, end)` of a larger text, through `find`; -1 when the line has none. */
function closingQuoteIn(text: string, i: number, end: number, find: NextIndex): number {
  for (;;) {
    const q = find.next(SLOT_QUOTE, '"', i);
    if (q >= end) return -1;
    let bs = 0;
    for (let k = q - 1; k >= i && text.charCodeAt(k) === 92; k--) bs++;
    if (bs % 2 === 0) return q;
    i = q + 1;
  }
}

/**
 * `quickCombinedPlaces(text.slice(start, end))` as spans of `text`, without slicing: -1 where that gives null, and
 * also where a value is not a plain span of the line (a request with surrounding whitespace, a tail that may end in
 * Unicode whitespace) or the caller cannot promise `noBreaks`; the caller then takes the general path. Written with
 * character loops and few searches: it runs on every line `scan` reads.
 */
export function quickCombinedSpans(
  text: string,
  start: number,
  end: number,
  noBreaks: boolean,
  find: NextIndex,
  out: SpanBuffer,
): number {
  if (!noBreaks) return -1;
  // `(\S+) (\S+) `: two fields of printable ASCII.
  const s1 = tokenEnd(text, start, end);
  if (s1 < 0 || s1 >= end || s1 === start) return -1;
  const s2 = tokenEnd(text, s1 + 1, end);
  if (s2 < 0 || s2 >= end || s2 === s1 + 1) return -1;
  let k: number;
  // The first ` [` after the user field (`.+?`: at least one character, not starting with `[`).
  if (text.charCodeAt(s2 + 1) === 91) return -1;
  k = s2 + 1;
  while (k + 1 < end && !(text.charCodeAt(k) === 32 && text.charCodeAt(k + 1) === 91)) k++;
  if (k + 1 >= end || k < s2 + 2) return -1;
  const lb = k;
  // The first `]` after `[`, with at least one character between.
  if (lb + 2 >= end || text.charCodeAt(lb + 2) === 93) return -1;
  k = lb + 3;
  while (k < end && text.charCodeAt(k) !== 93) k++;
  const rb = k;
  if (rb + 2 >= end || text.charCodeAt(rb + 1) !== 32 || text.charCodeAt(rb + 2) !== 34) return -1;
  const reqEnd = closingQuoteIn(text, rb + 3, end, find);
  if (reqEnd < 0 || reqEnd + 1 >= end || text.charCodeAt(reqEnd + 1) !== 32) return -1;
  // Status: three digits or `-`, then a space.
  const st = reqEnd + 2;
  let stEnd: number;
  if (
    st + 3 < end &&
    isDigit(text.charCodeAt(st)) &&
    isDigit(text.charCodeAt(st + 1)) &&
    isDigit(text.charCodeAt(st + 2))
  )
    stEnd = st + 3;
  else if (st + 1 < end && text.charCodeAt(st) === 45) stEnd = st + 1;
  else return -1;
  if (text.charCodeAt(stEnd) !== 32) return -1;
  // Size: digits or `-`, up to the next space or the end of the line.
  k = stEnd + 1;
  for (; k < end; k++) {
    const c = text.charCodeAt(k);
    if (c === 32) break;
    if (!isDigit(c) && !(c === 45 && k === stEnd + 1)) return -1;
  }
  const byEnd = k;
  if (byEnd === stEnd + 1) return -1;
  if (text.charCodeAt(stEnd + 1) === 45 && byEnd !== stEnd + 2) return -1;
  let n = 0;
  // The request target, as `splitRequestLine` finds it.
  const t = requestTargetSpan(text, rb + 3, reqEnd, out, 0);
  if (t < 0) return -1;
  n += t;
  let rest = byEnd;
  if (byEnd + 1 < end && text.charCodeAt(byEnd) === 32 && text.charCodeAt(byEnd + 1) === 34) {
    const refEnd = closingQuoteIn(text, byEnd + 2, end, find);
    if (refEnd >= 0 && refEnd + 2 < end && text.charCodeAt(refEnd + 1) === 32 && text.charCodeAt(refEnd + 2) === 34) {
      const uaEnd = closingQuoteIn(text, refEnd + 3, end, find);
      if (uaEnd >= 0) {
        const ra = byEnd + 2;
        const empty = refEnd === ra || (refEnd === ra + 1 && text.charCodeAt(ra) === 45);
        if (!empty) {
          out[n * 2] = ra;
          out[n * 2 + 1] = refEnd;
          n++;
        }
        rest = uaEnd + 1;
      }
    }
  }
  if (rest < end) {
    let ta = rest;
    let tb = end;
    while (ta < tb && isAsciiSpace(text.charCodeAt(ta))) ta++;
    while (tb > ta && isAsciiSpace(text.charCodeAt(tb - 1))) tb--;
    if (ta < tb) {
      if (text.charCodeAt(ta) >= 128 || text.charCodeAt(tb - 1) >= 128) return -1;
      out[n * 2] = ta;
      out[n * 2 + 1] = tb;
      n++;
    }
  }
  return n;
}

const isDigit = (c: number) => c >= 48 && c <= 57;

function make(name: string): LogFormat {
  return {
    name,
    sniff: (line) => RE.test(line),
    create(): LineParser {
      return {
        format: name,
        parse(text, origin) {
          const ev = parseCombined(text, name, origin);
          return ev ? { kind: 'event', event: ev } : NOMATCH;
        },
        quickPlaces: quickCombinedPlaces,
        quickSpans: quickCombinedSpans,
      };
    },
  };
}

export const combinedFormat = make('combined');
export const commonFormat = make('common');
export const nginxFormat = make('nginx');
export const apacheFormat = make('apache');
