const LF = 0x0a;
const CR = 0x0d;

/**
 * The line ending an input uses, told by its first block holding a line end: `cr` when that block has a lone CR (not
 * before a LF) and no LF at all, as text from classic Mac OS and some devices has; `lf` otherwise (LF, or CRLF whose CR
 * readers strip). A lone CR inside a LF or CRLF text stays part of its line. `undefined`: no line end yet (a first line
 * longer than the block), or only a CR as the block's last byte, whose next byte decides (`atEnd`: there is none).
 */
export function lineEndOf(block: Buffer, atEnd = false): 'lf' | 'cr' | undefined {
  if (block.indexOf(LF) >= 0) return 'lf';
  const cr = block.indexOf(CR);
  if (cr < 0) return undefined;
  if (cr + 1 < block.length || atEnd) return 'cr';
  return undefined;
}

/** A copy of `b` with CR and LF swapped: a CR-ended text read by splitters that cut at LF, its bytes counted alike. */
export function swapCrLf(b: Buffer): Buffer {
  const out = Buffer.from(b);
  for (let i = b.indexOf(CR); i >= 0; i = b.indexOf(CR, i + 1)) out[i] = LF;
  for (let i = b.indexOf(LF); i >= 0; i = b.indexOf(LF, i + 1)) out[i] = CR;
  return out;
}

/**
 * The byte chunks of `source`, as LF-ended text: unchanged when the input's line end is LF or CRLF, with CR and LF
 * swapped when it is CR (so each CR ends a line, with the line count and the byte count of the original). Anything
 * that is not bytes is passed on; `restart` (a followed file truncated or rotated) decides anew.
 */
export async function* asLfLines<T>(
  source: AsyncIterable<Buffer | string | T>,
  restart?: T,
): AsyncGenerator<Buffer | T> {
  let mode: 'lf' | 'cr' | undefined;
  let held: Buffer | undefined;
  for await (const part of source) {
    if (typeof part !== 'string' && !Buffer.isBuffer(part)) {
      if (held) yield held;
      held = undefined;
      if (part === restart) mode = undefined;
      yield part as T;
      continue;
    }
    let chunk = typeof part === 'string' ? Buffer.from(part) : part;
    if (mode === 'lf') {
      yield chunk;
      continue;
    }
    if (mode === undefined) {
      if (held) chunk = Buffer.concat([held, chunk]);
      held = undefined;
      mode = lineEndOf(chunk);
      if (mode === undefined) {
        // A CR as the last byte waits for the next; a block without any line end goes on as it is.
        if (chunk.indexOf(CR) >= 0) held = chunk;
        else yield chunk;
        continue;
      }
    }
    yield mode === 'cr' ? swapCrLf(chunk) : chunk;
  }
  if (held) yield mode === 'lf' ? held : swapCrLf(held);
}
