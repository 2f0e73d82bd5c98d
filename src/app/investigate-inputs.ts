import { open, stat } from 'node:fs/promises';
import { GzipDataError, gunzipMembers } from '../adapters/sources/gunzip-members.ts';
import { ImdsguardError } from '../core/errors.ts';
import { type InputKind, inputKindOf } from '../core/investigate/input-kind.ts';
import { MAX_RECORD_BYTES } from '../core/parse/json-records.ts';

/** Bytes looked at to decide what an input holds: many records of any log or trail, read once more afterwards. */
const HEAD_BYTES = 1 << 20;

/** An input and how `investigate` reads it. */
export interface InputReading {
  file: string;
  kind: InputKind;
  /** Why it is read that way when the content did not decide it (stdin, a pipe). */
  note?: string;
}

/**
 * The first `limit` bytes a gzip prefix inflates to (a cut stream gives what it can); `ended` when all of it was
 * inflated (data after the last member, which is an error for the reader, leaves what came before whole).
 */
async function gunzipHead(gz: Buffer, limit: number): Promise<{ bytes: Buffer; ended: boolean; broken: boolean }> {
  const out: Buffer[] = [];
  let n = 0;
  async function* one() {
    yield gz;
  }
  try {
    for await (const c of gunzipMembers(one())) {
      out.push(c);
      n += c.length;
      if (n >= limit) return { bytes: Buffer.concat(out).subarray(0, limit), ended: false, broken: false };
    }
    return { bytes: Buffer.concat(out), ended: true, broken: false };
  } catch (e) {
    // Corrupt data: decide on what came out before it; the reader of that kind then names the problem.
    const whole = e instanceof GzipDataError && e.whole;
    return { bytes: Buffer.concat(out), ended: whole, broken: true };
  }
}

/**
 * Decide what an input holds from its first bytes (gunzipped when they say gzip). Stdin and pipes cannot be read
 * twice: they are read as findings, as before raw inputs were taken.
 */
export async function readingOf(file: string): Promise<InputReading> {
  if (file === '-') return { file, kind: 'findings', note: 'stdin is read as findings' };
  // Looked at by name first: opening a FIFO waits for its writer, and what is read from it cannot be read again.
  const named = await stat(file).catch((e: Error) => {
    throw new ImdsguardError('E_SOURCE_IO', `Cannot read "${file}": ${e.message}`, { cause: e });
  });
  if (!named.isFile() && !named.isDirectory())
    return { file, kind: 'findings', note: 'a pipe or device is read as findings' };
  let fh: Awaited<ReturnType<typeof open>>;
  try {
    fh = await open(file, 'r');
  } catch (e) {
    throw new ImdsguardError('E_SOURCE_IO', `Cannot read "${file}": ${(e as Error).message}`, { cause: e });
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) return { file, kind: 'findings', note: 'a pipe or device is read as findings' };
    // A first record longer than the bytes looked at: look at more, up to the longest record the readers take.
    for (let limit = HEAD_BYTES; ; limit *= 8) {
      const raw = Buffer.alloc(Math.min(limit, st.size));
      const { bytesRead } = await fh.read(raw, 0, raw.length, 0);
      const head = raw.subarray(0, bytesRead);
      const wholeRaw = bytesRead >= st.size;
      let kind: InputKind | undefined;
      let whole = wholeRaw;
      if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) {
        const { bytes, ended, broken } = await gunzipHead(head, limit);
        whole = wholeRaw && ended;
        kind = inputKindOf(bytes, file, whole);
        // A cut or corrupt gzip stream gives no more however much is read: decide on what it gave.
        if (kind === undefined && wholeRaw && broken) kind = 'log';
      } else kind = inputKindOf(head, file, whole);
      if (kind !== undefined) return { file, kind };
      if (whole || limit > MAX_RECORD_BYTES) return { file, kind: 'log' };
    }
  } catch (e) {
    if (e instanceof ImdsguardError) throw e;
    throw new ImdsguardError('E_SOURCE_IO', `Cannot read "${file}": ${(e as Error).message}`, { cause: e });
  } finally {
    await fh.close();
  }
}
