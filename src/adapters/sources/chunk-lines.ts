import { asLfLines } from './line-ends.ts';

/**
 * Cut a byte stream into chunks of whole lines, without decoding (a CR-ended input is cut at its CRs, see
 * `asLfLines`): the scanner decides per chunk whether any line is
 * worth decoding. A line longer than `maxLineBytes` is dropped (reported, not buffered), so memory stays bounded
 * whatever the input.
 */
export interface LineChunk {
  /** Whole lines, `\n`-separated; the last one may lack its newline at end of input. */
  buf: Buffer;
  /** 1-based number of the first line in `buf`. */
  firstLine: number;
  /** Number of lines in `buf`. */
  lines: number;
}

export interface OverlongLine {
  overlong: true;
  line: number;
  bytes: number;
}

function countNewlines(buf: Buffer): number {
  let n = 0;
  let i = buf.indexOf(10);
  while (i >= 0) {
    n++;
    i = buf.indexOf(10, i + 1);
  }
  return n;
}

/** In a source: the input restarted (a followed file was rotated or truncated); line numbers start again at 1. */
export const RESET: unique symbol = Symbol('reset');

/** In a source: the next bytes start at this 1-based line (a followed file read from its end). */
export interface LineBase {
  lineBase: number;
}

export async function* chunkLines(
  source: AsyncIterable<Buffer | string | typeof RESET | LineBase>,
  maxLineBytes: number,
  /** Reads larger than this are cut into pieces of about this size (at line ends). */
  maxChunkBytes = Number.POSITIVE_INFINITY,
): AsyncGenerator<LineChunk | OverlongLine> {
  let carry: Buffer[] = [];
  let carryLen = 0;
  let line = 1;
  // While dropping an overlong line: bytes dropped so far (0 = not dropping).
  let dropping = 0;
  for await (const part of asLfLines(source, RESET)) {
    if (typeof part === 'object' && 'lineBase' in part) {
      line = part.lineBase;
      continue;
    }
    if (part === RESET) {
      if (carryLen > 0) yield { buf: Buffer.concat(carry), firstLine: line, lines: 1 };
      carry = [];
      carryLen = 0;
      dropping = 0;
      line = 1;
      continue;
    }
    let chunk = typeof part === 'string' ? Buffer.from(part) : part;
    if (dropping > 0) {
      const nl = chunk.indexOf(10);
      if (nl < 0) {
        dropping += chunk.length;
        continue;
      }
      yield { overlong: true, line, bytes: dropping + nl };
      line++;
      dropping = 0;
      chunk = chunk.subarray(nl + 1);
    }
    const last = chunk.lastIndexOf(10);
    if (last < 0) {
      carry.push(chunk);
      carryLen += chunk.length;
      if (carryLen > maxLineBytes) {
        dropping = carryLen;
        carry = [];
        carryLen = 0;
      }
      continue;
    }
    let head = chunk.subarray(0, last + 1);
    const bufs: Buffer[] = [];
    if (carryLen > 0) {
      // Join the carried start of a line with its end only, not with the whole read (which would copy it all).
      const firstEnd = head.length > maxChunkBytes ? chunk.indexOf(10) + 1 : head.length;
      bufs.push(Buffer.concat([...carry, head.subarray(0, firstEnd)]));
      head = head.subarray(firstEnd);
    }
    if (head.length > 0) bufs.push(head);
    carry = [];
    carryLen = 0;
    const rest = chunk.subarray(last + 1);
    if (rest.length > 0) {
      carry.push(rest);
      carryLen = rest.length;
    }
    // Large reads are handed on in pieces of about `maxChunkBytes`, cut at line ends. A single line inside a piece
    // may still exceed the line limit (it arrived within one read); the scanner checks that.
    for (const buf of bufs) {
      let from = 0;
      while (from < buf.length) {
        let to = buf.length;
        if (to - from > maxChunkBytes) {
          const cut = buf.lastIndexOf(10, from + maxChunkBytes - 1);
          to = cut >= from ? cut + 1 : buf.indexOf(10, from + maxChunkBytes) + 1 || buf.length;
        }
        const piece = from === 0 && to === buf.length ? buf : buf.subarray(from, to);
        const n = countNewlines(piece);
        yield { buf: piece, firstLine: line, lines: n };
        line += n;
        from = to;
      }
    }
  }
  if (dropping > 0) {
    yield { overlong: true, line, bytes: dropping };
  } else if (carryLen > 0) {
    yield { buf: Buffer.concat(carry), firstLine: line, lines: 1 };
  }
}
