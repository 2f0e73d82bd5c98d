import { constants, createReadStream, openSync, statSync } from 'node:fs';
import { Socket } from 'node:net';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { ImdsguardError } from '../../core/errors.ts';
import { CLOSED_STDOUT, stdoutClosedAtStart } from './closed-stdout.ts';

const GZIP_MAGIC_0 = 0x1f;
const GZIP_MAGIC_1 = 0x8b;

/**
 * A file (or `-` for stdin) as a stream of bytes. A FIFO (or a process substitution, a pipe under /dev/fd) is opened
 * O_NONBLOCK and read through the event loop, as stdin is: a plain open would wait in the thread pool for a writer,
 * and its reads for data, where nothing can cancel them, and even `process.exit` waits for that thread, so a signal
 * could not end the run. Opened this way it still waits for a writer (no end of input before one came and went).
 */
export function readBytes(path: string, highWaterMark = 1 << 20): Readable {
  if (path === '-') return process.stdin;
  if (isFifo(path))
    return new Socket({ fd: openSync(path, constants.O_RDONLY | constants.O_NONBLOCK), writable: false });
  return createReadStream(path, { highWaterMark });
}

/** Whether `path` names a FIFO (links followed); false when it cannot be looked at (the open then says why). */
export function isFifo(path: string): boolean {
  try {
    return statSync(path).isFIFO();
  } catch {
    return false;
  }
}

/**
 * Bytes in, bytes out, decompressed when they start with the gzip magic number (whatever the name says, so
 * stdin and misnamed files work too). Concatenated gzip members are read as one stream, as `zcat` does.
 */
export async function* gunzipIfGzip(source: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  const it = source[Symbol.asyncIterator]();
  let first = await it.next();
  // A first chunk of one byte cannot tell; wait for a second.
  while (!first.done && first.value.length < 2) {
    const more = await it.next();
    if (more.done) break;
    first = { done: false, value: Buffer.concat([first.value, more.value]) };
  }
  if (first.done) return;
  const head = first.value;
  const rest: AsyncIterable<Buffer> = {
    [Symbol.asyncIterator]: () => it,
  };
  if (head[0] !== GZIP_MAGIC_0 || head[1] !== GZIP_MAGIC_1) {
    yield head;
    yield* rest;
    return;
  }
  async function* all(): AsyncGenerator<Buffer> {
    yield head;
    yield* rest;
  }
  const gunzip = createGunzip();
  const feeding = pipeline(Readable.from(all()), gunzip);
  // Errors of either side surface here: a corrupt stream rejects the pipeline and destroys gunzip.
  feeding.catch(() => undefined);
  for await (const chunk of gunzip) yield chunk as Buffer;
  await feeding;
}

/** stdout as a pipeline destination that is never ended (other output may follow, and stdout cannot be closed). */
export function stdoutSink(): Writable {
  if (stdoutClosedAtStart()) throw new ImdsguardError('E_SINK_IO', CLOSED_STDOUT);
  const out = process.stdout;
  let failed: Error | undefined;
  // A closed pipe (`| head`) must end the run with an error, not crash it with an unhandled 'error' event.
  const onError = (e: Error) => {
    failed = e;
    out.emit('drain');
  };
  out.on('error', onError);
  return new Writable({
    highWaterMark: 1 << 20,
    write(chunk: Buffer, _enc, cb) {
      if (failed) return cb(new Error(`stdout: ${failed.message}`));
      if (out.write(chunk)) cb();
      else out.once('drain', () => cb(failed ? new Error(`stdout: ${failed.message}`) : undefined));
    },
    final(cb) {
      out.off('error', onError);
      cb(failed ? new Error(`stdout: ${failed.message}`) : undefined);
    },
    destroy(err, cb) {
      out.off('error', onError);
      cb(err);
    },
  });
}

/** A destination that discards everything (dry runs). */
export function nullSink(): Writable {
  return new Writable({
    write(_chunk, _enc, cb) {
      cb();
    },
  });
}
