import { readFileSync } from 'node:fs';

/**
 * The WebAssembly line stage for combined/common logs (source: assembly/combined-scan.ts, built to
 * dist/wasm/combined-scan.wasm by `npm run build`). It finds every line's fields on the chunk's bytes, exactly as
 * `quickCombinedSpans` does, and answers from its own cache of the prefilter's verdicts, compared byte for byte.
 * Only lines it cannot settle come back here: those it declines (read through `lineWanted`), those with a field
 * whose cached verdict passes, and those with fields it has not seen (decided here with the prefilter, then taught
 * to the cache). Without the module (a source checkout not yet built) the JavaScript path does the same work.
 */

/** The part of the WebAssembly JS API used here (this project's type libraries do not declare it). */
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: unknown };
}
const Wasm = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

interface Exports {
  memory: { buffer: ArrayBuffer };
  init(): void;
  inPtr(): number;
  inCap(): number;
  recPtr(): number;
  missPtr(): number;
  scan(len: number): number;
  learn(a: number, b: number, flagged: number): void;
  spansOf(start: number, end: number): number;
  spanPtr(): number;
  secretMarkers(len: number): number;
}

const KIND_DOUBT = 1;
const KIND_FLAGGED = 2;
const KIND_MISS = 3;

let compiled: object | null | undefined;

function moduleBytes(): Uint8Array | undefined {
  // Built next to dist/app (an install), or in dist/ when run from source, or next to a bundle.
  for (const rel of ['../wasm/combined-scan.wasm', '../../dist/wasm/combined-scan.wasm', './combined-scan.wasm']) {
    try {
      return readFileSync(new URL(rel, import.meta.url));
    } catch {}
  }
  return undefined;
}

function compiledModule(): object | null {
  if (compiled === undefined) {
    const bytes = moduleBytes();
    try {
      compiled = bytes ? new Wasm.Module(bytes) : null;
    } catch {
      compiled = null;
    }
  }
  return compiled ?? null;
}

/** Whether the WebAssembly line stage is available (false in a source checkout that was never built). */
export function combinedScanAvailable(): boolean {
  return compiledModule() !== null;
}

export class CombinedScan {
  private readonly x: Exports;
  private readonly filter: (value: string) => boolean;
  private readonly inPtr: number;
  private readonly inCap: number;

  private constructor(x: Exports, filter: (value: string) => boolean) {
    this.x = x;
    this.filter = filter;
    x.init();
    this.inPtr = x.inPtr();
    this.inCap = x.inCap();
  }

  /** A scanner with its own cache for one prefilter, or undefined when the module is not there. */
  static create(filter: (value: string) => boolean): CombinedScan | undefined {
    const m = compiledModule();
    if (!m) return undefined;
    try {
      return new CombinedScan(new Wasm.Instance(m, {}).exports as Exports, filter);
    } catch {
      // Its memory could not be had (about 8 MiB): the JavaScript path does the same work.
      return undefined;
    }
  }

  /**
   * Whether `buf` holds a secret marker: the core's secret prefilter (`mayHoldSecret`) on the bytes, with no string
   * made. Undefined when the chunk is too large for the module.
   */
  secretMarkers(buf: Uint8Array): boolean | undefined {
    if (buf.length > this.inCap) return undefined;
    new Uint8Array(this.x.memory.buffer, this.inPtr, buf.length).set(buf);
    return this.x.secretMarkers(buf.length) !== 0;
  }

  /** For tests: the field spans the module finds in line [start, end) of `buf`, or null where it declines. */
  spansOf(buf: Uint8Array, start: number, end: number): Array<[number, number]> | null {
    const x = this.x;
    new Uint8Array(x.memory.buffer, this.inPtr, buf.length).set(buf);
    const n = x.spansOf(start, end);
    if (n < 0) return null;
    const s = new Uint32Array(x.memory.buffer, x.spanPtr(), n * 2);
    return Array.from({ length: n }, (_, k) => [s[k * 2]!, s[k * 2 + 1]!] as [number, number]);
  }

  /**
   * Visit the lines of `buf` (whole lines, valid UTF-8 without NUL) whose fields may matter, with their 0-based index
   * and text: the lines `pickLines` would pick. `general` decides the lines the fast path declines. Returns false,
   * having visited nothing, when the chunk is too large for the module.
   */
  pick(buf: Uint8Array, general: (line: string) => boolean, visit: (index: number, line: string) => void): boolean {
    if (buf.length > this.inCap) return false;
    const x = this.x;
    new Uint8Array(x.memory.buffer, this.inPtr, buf.length).set(buf);
    const n = x.scan(buf.length);
    if (n < 0) return false;
    const chunk = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
    // Memory may not grow during scan or learn: these views stay valid.
    const rec = new Uint32Array(x.memory.buffer, x.recPtr(), n * 6);
    const miss = new Uint32Array(x.memory.buffer, x.missPtr());
    for (let r = 0; r < n; r++) {
      const o = r * 6;
      const index = rec[o]!;
      const start = rec[o + 1]!;
      const end = rec[o + 2]!;
      const kind = rec[o + 3]!;
      if (kind === KIND_FLAGGED) {
        visit(index, chunk.toString('utf8', start, end));
      } else if (kind === KIND_DOUBT) {
        const line = chunk.toString('utf8', start, end);
        if (general(line)) visit(index, line);
      } else if (kind === KIND_MISS) {
        const first = rec[o + 4]!;
        const count = rec[o + 5]!;
        let wanted = false;
        for (let k = first; k < first + count; k++) {
          const a = miss[k * 2]!;
          const b = miss[k * 2 + 1]!;
          const flagged = this.filter(chunk.toString('utf8', a, b));
          x.learn(a, b, flagged ? 1 : 0);
          if (flagged) wanted = true;
        }
        if (wanted) visit(index, chunk.toString('utf8', start, end));
      }
    }
    return true;
  }
}
