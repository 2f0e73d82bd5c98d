import { StringDecoder } from 'node:string_decoder';
import { asLfLines } from './line-ends.ts';

/**
 * Lines of a byte stream as text, split on `\n` only: a CR before the `\n` is the line ending's (CRLF), a CR
 * anywhere else is part of the line (readline would cut there, and one input line would become two). A text whose
 * line end is a lone CR (see `lineEndOf`) is split on its CRs. A last line
 * without a newline is still a line; an input ending in `\n` has no empty line after it.
 */
export async function* textLines(source: AsyncIterable<Buffer | string>): AsyncGenerator<string> {
  const decoder = new StringDecoder('utf8');
  let carry = '';
  for await (const chunk of asLfLines(source)) {
    const text = carry + (typeof chunk === 'string' ? chunk : decoder.write(chunk));
    let start = 0;
    for (let nl = text.indexOf('\n'); nl !== -1; nl = text.indexOf('\n', start)) {
      const end = nl > start && text.charCodeAt(nl - 1) === 13 ? nl - 1 : nl;
      yield text.slice(start, end);
      start = nl + 1;
    }
    carry = text.slice(start);
  }
  const last = carry + decoder.end();
  if (last.length > 0) yield last;
}
