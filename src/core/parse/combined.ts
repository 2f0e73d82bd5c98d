import type { HttpEvent } from '../model/event.ts';
import { clfTime, intOrUndef, orUndef, splitRequestLine } from './fields.ts';
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
      };
    },
  };
}

export const combinedFormat = make('combined');
export const commonFormat = make('common');
export const nginxFormat = make('nginx');
export const apacheFormat = make('apache');
