import { crc32, createInflateRaw } from 'node:zlib';

/** Why gzip data could not be read to its end; what it inflated to before the problem was yielded already. */
export class GzipDataError extends Error {
  /** Byte offset in the compressed input where the problem is. */
  readonly offset: number;
  /** Every member was read whole: only what follows them is wrong (trailing data), nothing was lost. */
  readonly whole: boolean;
  constructor(message: string, offset: number, whole = false) {
    super(message);
    this.name = 'GzipDataError';
    this.offset = offset;
    this.whole = whole;
  }
}

const FHCRC = 2;
const FEXTRA = 4;
const FNAME = 8;
const FCOMMENT = 16;

/**
 * Gunzip a byte stream member by member (RFC 1952), yielding what it inflates to as it comes. Unlike zlib's Gunzip,
 * which drops the output of the last write when bytes after a member are no member, everything up to the end of the
 * last whole member is yielded before the error: trailing data (`GARBAGE`, zero padding), a cut member or a failed
 * CRC ends the stream with a `GzipDataError` saying where.
 */
export async function* gunzipMembers(source: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  const it = source[Symbol.asyncIterator]();
  try {
    yield* members(it);
  } finally {
    // A reader that stops early (or an error) closes the source too: its file is not left open.
    await it.return?.();
  }
}

async function* members(it: AsyncIterator<Buffer | string>): AsyncGenerator<Buffer> {
  let buf: Buffer = Buffer.alloc(0);
  /** Input offset of buf[0]. */
  let offset = 0;
  let eof = false;
  const more = async (): Promise<boolean> => {
    if (eof) return false;
    const r = await it.next();
    if (r.done) {
      eof = true;
      return false;
    }
    const chunk = typeof r.value === 'string' ? Buffer.from(r.value) : r.value;
    buf = buf.length > 0 ? Buffer.concat([buf, chunk]) : chunk;
    return true;
  };
  const need = async (n: number): Promise<boolean> => {
    while (buf.length < n) if (!(await more())) return false;
    return true;
  };
  const consume = (n: number) => {
    buf = buf.subarray(n);
    offset += n;
  };
  const cut = () => new GzipDataError('the data ends inside a gzip member (truncated)', offset + buf.length);
  let members = 0;
  while (true) {
    if (!(await need(1))) return;
    const start = offset;
    if (!(await need(2)) || buf[0] !== 0x1f || buf[1] !== 0x8b) {
      throw new GzipDataError(
        members === 0
          ? 'not gzip data'
          : `data after the end of the gzip data at byte ${start} is no gzip member (trailing data)`,
        start,
        members > 0,
      );
    }
    if (!(await need(10))) throw cut();
    if (buf[2] !== 8) throw new GzipDataError(`unknown gzip compression method ${buf[2]}`, start);
    const flags = buf[3]!;
    let pos = 10;
    if (flags & FEXTRA) {
      if (!(await need(pos + 2))) throw cut();
      pos += 2 + buf.readUInt16LE(pos);
    }
    for (const flag of [FNAME, FCOMMENT])
      if (flags & flag) {
        let nul = buf.indexOf(0, pos);
        while (nul < 0) {
          if (!(await more())) throw cut();
          nul = buf.indexOf(0, pos);
        }
        pos = nul + 1;
      }
    if (flags & FHCRC) pos += 2;
    if (!(await need(pos))) throw cut();
    consume(pos);

    let crc = 0;
    let size = 0;
    const inflate = createInflateRaw({ chunkSize: 256 * 1024 });
    const out: Buffer[] = [];
    let ended = false;
    let failed: Error | undefined;
    inflate.on('data', (c: Buffer) => out.push(c));
    // Whatever ends this member's reading (its end, an error, a reader that stops) frees the inflater.
    try {
      inflate.on('end', () => {
        ended = true;
      });
      inflate.on('error', (e: Error) => {
        failed = e;
      });
      // Settles when the chunk is processed, or when the member's end (or an error) makes zlib stop taking input.
      const settle = (write: (done: () => void) => void) =>
        new Promise<void>((resolve) => {
          const done = () => {
            inflate.off('end', done);
            inflate.off('error', done);
            resolve();
          };
          inflate.once('end', done);
          inflate.once('error', done);
          write(done);
        }).then(() => new Promise<void>((r) => setImmediate(r)));
      let fed = 0;
      const drain = function* () {
        for (const c of out.splice(0)) {
          crc = crc32(c, crc);
          size = (size + c.length) >>> 0;
          yield c;
        }
      };
      while (!ended) {
        if (buf.length === 0 && !(await more())) {
          await settle((done) => inflate.end(done));
          yield* drain();
          if (!ended || failed) throw cut();
          break;
        }
        const chunk = buf;
        consume(chunk.length);
        await settle((done) => inflate.write(chunk, () => done()));
        fed += chunk.length;
        yield* drain();
        if (failed) throw new GzipDataError(`corrupt gzip data (${failed.message})`, offset);
        if (ended) {
          // The member's deflate data ended inside this chunk: the rest of it is the trailer and what follows.
          const left = fed - inflate.bytesWritten;
          buf = chunk.subarray(chunk.length - left);
          offset -= left;
        }
      }
    } finally {
      inflate.destroy();
    }
    if (!(await need(8))) throw cut();
    if (buf.readUInt32LE(0) !== crc >>> 0 || buf.readUInt32LE(4) !== size)
      throw new GzipDataError('corrupt gzip data (the CRC or length of a member does not match)', offset);
    consume(8);
    members++;
  }
}
