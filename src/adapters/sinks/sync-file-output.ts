import { closeSync, openSync, writeSync } from 'node:fs';
import { ImdsguardError } from '../../core/errors.ts';
import type { TextOutput } from './output.ts';

/**
 * A file output that writes each chunk with one synchronous write(2): the record is in the file when write returns.
 * For daemons that emit a record per request (the proxy): a page-cache write costs microseconds, where a
 * WriteStream hands every record to the thread pool and back (measured here: about twice the proxy's CPU per
 * request). Appends, so a restarted daemon keeps what it wrote before.
 */
export function openSyncFileOutput(path: string): TextOutput {
  let fd: number;
  try {
    fd = openSync(path, 'a', 0o640);
  } catch (e) {
    throw new ImdsguardError('E_SINK_IO', `Cannot open output "${path}": ${(e as Error).message}`, { cause: e });
  }
  let closed = false;
  return {
    isTTY: false,
    write(chunk) {
      if (closed) throw new ImdsguardError('E_SINK_IO', `Output "${path}" is closed`);
      const buf = Buffer.from(chunk, 'utf8');
      let off = 0;
      try {
        while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
      } catch (e) {
        throw new ImdsguardError('E_SINK_IO', `Cannot write "${path}": ${(e as Error).message}`, { cause: e });
      }
      return undefined;
    },
    async close() {
      if (!closed) {
        closed = true;
        closeSync(fd);
      }
    },
  };
}
