import { open, stat } from 'node:fs/promises';
import { ImdsguardError } from '../../core/errors.ts';
import { readBytes } from '../files/streams.ts';
import { gunzipMembers } from './gunzip-members.ts';

const GZIP_MAGIC = [0x1f, 0x8b];

/** Whether a file starts with the gzip magic (`.gz` names are not trusted either way: rotated logs lie). */
async function isGzipFile(path: string): Promise<boolean> {
  const fh = await open(path, 'r');
  try {
    const b = Buffer.alloc(2);
    const { bytesRead } = await fh.read(b, 0, 2, 0);
    return bytesRead === 2 && b[0] === GZIP_MAGIC[0] && b[1] === GZIP_MAGIC[1];
  } finally {
    await fh.close();
  }
}

/** Gunzip a byte stream when its first bytes are the gzip magic; pass it through otherwise. */
export async function* maybeGunzip(source: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  const it = source[Symbol.asyncIterator]();
  const first = await it.next();
  if (first.done) return;
  const head = first.value;
  const rest = {
    async *[Symbol.asyncIterator]() {
      yield head;
      for (let r = await it.next(); !r.done; r = await it.next()) yield r.value;
    },
  };
  if (!(head.length >= 2 && head[0] === GZIP_MAGIC[0] && head[1] === GZIP_MAGIC[1])) {
    yield* rest;
    return;
  }
  yield* gunzipMembers(rest);
}

/**
 * Open a file for reading, gunzipping it if it is gzip. Errors name the file. A FIFO, a character device or a
 * process substitution (`<(cmd)`, a pipe under /dev/fd) cannot be peeked at by position: it is read as a stream,
 * gunzipped when its first bytes say so, as stdin is.
 */
export async function openFileBytes(path: string, highWaterMark = 64 * 1024): Promise<AsyncIterable<Buffer>> {
  let gz: boolean;
  let regular: boolean;
  try {
    const st = await stat(path);
    if (st.isDirectory()) throw Object.assign(new Error('is a directory'), { code: 'EISDIR' });
    regular = st.isFile();
    gz = regular && (await isGzipFile(path));
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new ImdsguardError('E_SOURCE_IO', `${path}: cannot read (${err.code ?? err.message})`, { cause: e });
  }
  let rs: ReturnType<typeof readBytes>;
  try {
    rs = readBytes(path, highWaterMark);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new ImdsguardError('E_SOURCE_IO', `${path}: cannot read (${err.code ?? err.message})`, { cause: e });
  }
  if (!regular) return maybeGunzip(rs as AsyncIterable<Buffer>);
  if (!gz) return rs as AsyncIterable<Buffer>;
  // Member by member: data after the last member is an error only after every line before it was read.
  return gunzipMembers(rs as AsyncIterable<Buffer>);
}
