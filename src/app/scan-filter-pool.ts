import { Worker } from 'node:worker_threads';
import type { ParserOptions } from '../core/parse/types.ts';
import type { ChunkFilterResult } from './scan-line-filter.ts';

/** A chunk sent to a filter worker: its bytes (transferred) and the format its lines are read in, if known. */
export interface FilterRequest {
  id: number;
  /** A buffer of the pool's, transferred; the chunk is its first `length` bytes. It comes back with the response. */
  bytes: ArrayBuffer;
  length: number;
  format: string | undefined;
}

export type FilterResponse = ({ result: ChunkFilterResult } | { error: string }) & { id: number; bytes: ArrayBuffer };

/** Buffers for chunks in flight, passed to the workers and back: no allocation (and no GC pressure) per chunk. */
const BUFFER_BYTES = 256 << 10;

interface Slot {
  worker: Worker;
  busy: number;
}

/**
 * Worker threads running the stateless filter stage of `scan` (`filterChunk`) on chunks in parallel, so that the
 * main thread only reads, keeps order and evaluates the few lines that may matter. Started on first use; a worker
 * that fails makes `filter` reject, and the caller reads that chunk itself.
 */
export class ScanFilterPool {
  private readonly slots: Slot[] = [];
  private readonly waiting = new Map<number, { resolve: (r: ChunkFilterResult) => void; reject: (e: Error) => void }>();
  private nextId = 0;
  private broken: Error | undefined;
  private readonly free: ArrayBuffer[] = [];

  readonly size: number;
  private readonly parser: ParserOptions;

  constructor(size: number, parser: ParserOptions) {
    this.size = size;
    this.parser = parser;
  }

  private start(): void {
    // Next to this module: `.ts` when run from source, `.js` when built.
    const ext = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
    const url = new URL(`./scan-filter-worker${ext}`, import.meta.url);
    const options = { workerData: { parser: this.parser } };
    for (let i = 0; i < this.size; i++) {
      // Run from source (tests), the worker registers the TypeScript loader itself first: a loader given through
      // execArgv does not reach a worker's entry module. A built install always takes the plain branch.
      const worker =
        ext === '.ts'
          ? new Worker(
              `import('tsx/esm/api').then(({ register }) => { register(); return import(${JSON.stringify(url.href)}); })`,
              { ...options, eval: true },
            )
          : new Worker(url, options);
      worker.unref();
      worker.on('message', (m: FilterResponse) => {
        slot.busy--;
        if (m.bytes.byteLength === BUFFER_BYTES) this.free.push(m.bytes);
        const w = this.waiting.get(m.id);
        if (!w) return;
        this.waiting.delete(m.id);
        if ('error' in m) w.reject(new Error(m.error));
        else w.resolve(m.result);
      });
      const fail = (e: Error) => {
        this.broken ??= e;
        for (const w of this.waiting.values()) w.reject(e);
        this.waiting.clear();
      };
      worker.on('error', fail);
      worker.on('exit', (code) => {
        if (code !== 0) fail(new Error(`scan filter worker exited with code ${code}`));
      });
      const slot: Slot = { worker, busy: 0 };
      this.slots.push(slot);
    }
  }

  /** Filter one chunk in a worker (the bytes are copied; `bytes` stays usable). */
  filter(bytes: Uint8Array, format: string | undefined): Promise<ChunkFilterResult> {
    if (this.broken) return Promise.reject(this.broken);
    if (this.slots.length === 0) this.start();
    let slot = this.slots[0]!;
    for (const s of this.slots) if (s.busy < slot.busy) slot = s;
    const buffer =
      bytes.length <= BUFFER_BYTES ? (this.free.pop() ?? new ArrayBuffer(BUFFER_BYTES)) : new ArrayBuffer(bytes.length);
    new Uint8Array(buffer, 0, bytes.length).set(bytes);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      slot.busy++;
      const req: FilterRequest = { id, bytes: buffer, length: bytes.length, format };
      slot.worker.postMessage(req, [buffer]);
    });
  }

  async close(): Promise<void> {
    const slots = this.slots.splice(0);
    await Promise.all(slots.map((s) => s.worker.terminate()));
  }
}
