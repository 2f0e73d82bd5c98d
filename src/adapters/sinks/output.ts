import { once } from 'node:events';
import { createWriteStream, type WriteStream } from 'node:fs';
import type { Writable } from 'node:stream';
import { ImdsguardError } from '../../core/errors.ts';
import { CLOSED_STDOUT, stdoutClosedAtStart } from '../files/closed-stdout.ts';
import { openOutputFile, outputWriteError } from '../files/output-file.ts';

/** A text output with backpressure: stdout, or a file given with -o. */
export interface TextOutput {
  readonly isTTY: boolean;
  write(chunk: string): Promise<void> | undefined;
  /** Flush and keep what was written (for a whole-run output: rename it into place). */
  close(): Promise<void>;
  /** Drop what was written where that is possible (a whole-run output's temporary or created file). */
  abort?(): Promise<void>;
}

export interface OpenOutputOptions {
  /**
   * The output is one run's result, kept only when the run completes: an existing file is replaced by rename on
   * success (never truncated first), a new one is removed if the run fails, a device or FIFO is written through.
   * Without it (daemons), records go to the file as they come, so it can be followed while the daemon runs.
   */
  wholeRun?: boolean;
}

/** Wait until `stream` may take more, or reject with its error. */
function drained(stream: Writable): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const onDrain = () => {
      stream.off('error', onError);
      resolve();
    };
    const onError = (e: Error) => {
      stream.off('drain', onDrain);
      reject(e);
    };
    stream.once('drain', onDrain);
    stream.once('error', onError);
  });
}

/** Open stdout (no path or '-') or a file. Writes return a promise only when the stream asks us to wait. */
export async function openOutput(path?: string, opts: OpenOutputOptions = {}): Promise<TextOutput> {
  if (!path || path === '-') {
    if (stdoutClosedAtStart()) throw new ImdsguardError('E_SINK_IO', CLOSED_STDOUT);
    const out = process.stdout;
    return {
      isTTY: Boolean(out.isTTY),
      write(chunk) {
        if (!out.write(chunk)) return once(out, 'drain').then(() => undefined);
        return undefined;
      },
      async close() {
        if (out.writableNeedDrain) await once(out, 'drain');
      },
    };
  }
  const dest = `"${path}"`;
  if (opts.wholeRun) {
    const file = await openOutputFile(path);
    const s = file.stream;
    // Errors are read from `s.errored` by the next write or by close; this listener only keeps them from being
    // thrown as unhandled 'error' events.
    s.on('error', () => undefined);
    return {
      isTTY: false,
      write(chunk) {
        if (s.errored) throw outputWriteError(dest, s.errored);
        if (!s.write(chunk)) return drained(s);
        return undefined;
      },
      close: () => file.commit(),
      abort: () => file.abort(),
    };
  }
  const ws: WriteStream = createWriteStream(path, { flags: 'w' });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', (e) => reject(outputWriteError(dest, e)));
  });
  let failed: Error | undefined;
  ws.on('error', (e) => {
    failed = e;
  });
  return {
    isTTY: false,
    write(chunk) {
      if (failed) throw outputWriteError(dest, failed);
      if (!ws.write(chunk)) return drained(ws).catch((e) => Promise.reject(outputWriteError(dest, e)));
      return undefined;
    },
    close() {
      return new Promise<void>((resolve, reject) => {
        ws.end((err?: Error | null) => (err || failed ? reject(outputWriteError(dest, err ?? failed)) : resolve()));
      });
    },
  };
}
