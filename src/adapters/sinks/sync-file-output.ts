import { closeSync, openSync, writeSync } from 'node:fs';
import { ImdsguardError } from '../../core/errors.ts';
import type { TextOutput } from './output.ts';

export interface SyncFileOutputOptions {
  /**
   * Gather what is written during one turn of the event loop and write it with one write(2) before the loop waits
   * again (setImmediate), instead of one write(2) per chunk. Under load a turn finishes many requests, so this costs
   * one system call per turn; a record reaches the file within the turn that produced it. Whatever is pending is
   * written on close and, synchronously, when the process exits (SIGINT included).
   */
  batch?: boolean;
}

/**
 * A file output that writes with synchronous write(2): the record is in the file when write returns (or, batched,
 * by the end of the event-loop turn). For daemons that emit a record per request (the proxy): a page-cache write
 * costs microseconds, where a WriteStream hands every record to the thread pool and back (measured here: about
 * twice the proxy's CPU per request). Appends, so a restarted daemon keeps what it wrote before.
 */
export function openSyncFileOutput(path: string, opts: SyncFileOutputOptions = {}): TextOutput {
  let fd: number;
  try {
    fd = openSync(path, 'a', 0o640);
  } catch (e) {
    throw new ImdsguardError('E_SINK_IO', `Cannot open output "${path}": ${(e as Error).message}`, { cause: e });
  }
  let closed = false;
  const writeAll = (text: string) => {
    const buf = Buffer.from(text, 'utf8');
    let off = 0;
    try {
      while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
    } catch (e) {
      throw new ImdsguardError('E_SINK_IO', `Cannot write "${path}": ${(e as Error).message}`, { cause: e });
    }
  };
  let pending = '';
  let scheduled: NodeJS.Immediate | undefined;
  const flush = () => {
    scheduled = undefined;
    if (pending === '') return;
    const text = pending;
    pending = '';
    writeAll(text);
  };
  const flushQuietly = () => {
    try {
      flush();
    } catch (e) {
      process.emitWarning(`records: ${(e as Error).message}`);
    }
  };
  if (opts.batch) process.on('exit', flushQuietly);
  return {
    isTTY: false,
    write(chunk) {
      if (closed) throw new ImdsguardError('E_SINK_IO', `Output "${path}" is closed`);
      if (!opts.batch) {
        writeAll(chunk);
        return undefined;
      }
      pending += chunk;
      // Bound what a single turn may hold (a burst of large records).
      if (pending.length >= 1 << 20) flush();
      else scheduled ??= setImmediate(flushQuietly);
      return undefined;
    },
    async close() {
      if (!closed) {
        closed = true;
        if (scheduled) clearImmediate(scheduled);
        process.off('exit', flushQuietly);
        try {
          flush();
        } finally {
          closeSync(fd);
        }
      }
    },
  };
}
