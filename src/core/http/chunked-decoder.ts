/**
 * Incremental decoder of a chunked request body (RFC 9112 §7.1), strict like the head parser: hex sizes without
 * signs or spaces, extensions allowed but bounded, CRLF after every chunk, trailers read and dropped. Fed the bytes
 * as they arrive; says how many it consumed, so whatever follows the body (a pipelined request) stays with the caller.
 */
import { HttpRequestError } from './request-head.ts';

const MAX_LINE = 4096;

function bad(message: string): HttpRequestError {
  return new HttpRequestError(400, 'HPE_INVALID_CHUNK', message);
}

export class ChunkedDecoder {
  private state: 'size' | 'data' | 'data-crlf' | 'trailer' | 'done' = 'size';
  private remaining = 0;
  private line = '';
  private total = 0;
  private readonly maxBody: number;
  private readonly parts: Buffer[] = [];

  /** @param maxBody largest decoded body accepted (413 beyond). */
  constructor(maxBody: number) {
    this.maxBody = maxBody;
  }

  get done(): boolean {
    return this.state === 'done';
  }

  /** The decoded body, once done. */
  body(): Buffer {
    return Buffer.concat(this.parts, this.total);
  }

  /** Read from `buf`; returns how many bytes belong to the body (all of them unless it ended inside). */
  write(buf: Buffer): number {
    let i = 0;
    while (i < buf.length && this.state !== 'done') {
      if (this.state === 'data') {
        const n = Math.min(this.remaining, buf.length - i);
        this.parts.push(buf.subarray(i, i + n));
        i += n;
        this.remaining -= n;
        if (this.remaining === 0) this.state = 'data-crlf';
        continue;
      }
      // A line: the chunk size (with extensions), the CRLF after data, or a trailer field.
      const lf = buf.indexOf(10, i);
      const end = lf < 0 ? buf.length : lf + 1;
      this.line += buf.toString('latin1', i, end);
      i = end;
      if (this.line.length > MAX_LINE) throw bad('chunk line too long');
      if (lf < 0) continue;
      if (!this.line.endsWith('\r\n')) throw bad('bare LF in chunked body');
      const line = this.line.slice(0, -2);
      this.line = '';
      if (this.state === 'data-crlf') {
        if (line !== '') throw bad('chunk data longer than its size');
        this.state = 'size';
      } else if (this.state === 'size') {
        const m = /^([0-9a-fA-F]{1,8})(?:;.*)?$/.exec(line);
        // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what an extension may not hold.
        if (!m || /[\u0000-\u0008\u000a-\u001f\u007f]/.test(line)) throw bad('malformed chunk size');
        const size = Number.parseInt(m[1]!, 16);
        if (size === 0) this.state = 'trailer';
        else {
          this.total += size;
          if (this.total > this.maxBody)
            throw new HttpRequestError(413, 'HPE_BODY_TOO_LARGE', `request body over ${this.maxBody} bytes`);
          this.remaining = size;
          this.state = 'data';
        }
      } else if (line === '') this.state = 'done';
      else if (!/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+:/.test(line)) throw bad('malformed trailer field');
    }
    return i;
  }
}
