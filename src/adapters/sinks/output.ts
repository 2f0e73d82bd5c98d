import { once } from 'node:events';
import { createWriteStream, type WriteStream } from 'node:fs';
import { ImdsguardError } from '../../core/errors.ts';

/** A text output with backpressure: stdout, or a file given with -o. */
export interface TextOutput {
  readonly isTTY: boolean;
  write(chunk: string): Promise<void> | undefined;
  close(): Promise<void>;
}

/** Open stdout (no path or '-') or a file. Writes return a promise only when the stream asks us to wait. */
export async function openOutput(path?: string): Promise<TextOutput> {
  if (!path || path === '-') {
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
  const ws: WriteStream = createWriteStream(path, { flags: 'w' });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', (e) =>
      reject(new ImdsguardError('E_SINK_IO', `Cannot open output "${path}": ${e.message}`, { cause: e })),
    );
  });
  let failed: Error | undefined;
  ws.on('error', (e) => {
    failed = e;
  });
  return {
    isTTY: false,
    write(chunk) {
      if (failed) throw new ImdsguardError('E_SINK_IO', `Cannot write "${path}": ${failed.message}`);
      if (!ws.write(chunk)) return once(ws, 'drain').then(() => undefined);
      return undefined;
    },
    close() {
      return new Promise<void>((resolve, reject) => {
        ws.end((err?: Error | null) => (err ? reject(err) : resolve()));
      });
    },
  };
}
