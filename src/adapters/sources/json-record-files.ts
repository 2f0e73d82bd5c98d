import { createReadStream, promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { ImdsguardError } from '../../core/errors.ts';
import { JsonRecordSplitter, parseRecord } from '../../core/parse/json-records.ts';

/** A parsed JSON record and where it came from. */
export interface SourcedRecord {
  file: string;
  line: number;
  value: unknown;
  /** The wrapper key the record was listed under, if any. */
  key?: string;
  /** The record's JSON text (kept only when asked: posture uses it to find the line of a resource). */
  text?: string;
}

const CHUNK = 1 << 20;

/** In a directory, only files named like records are read (a README or LICENSE next to them is not). */
const RECORD_FILE = /\.(json|jsonl|ndjson|log|txt)(\.gz)?$|\.gz$/i;

/** Files under a directory, sorted, recursively; CloudTrail digest files carry no records and are skipped. */
async function walk(dir: string): Promise<string[]> {
  const out: string[] = [];
  const entries = await fsp.readdir(dir, { withFileTypes: true });
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const e of entries) {
    if (e.name.startsWith('.')) continue;
    const p = join(dir, e.name);
    if (e.isDirectory()) {
      if (e.name === 'CloudTrail-Digest') continue;
      out.push(...(await walk(p)));
    } else if (e.isFile() && RECORD_FILE.test(e.name) && !e.name.includes('CloudTrail-Digest')) {
      out.push(p);
    }
  }
  return out;
}

/** Expand the inputs: '-' or none is stdin, directories are walked. */
export async function expandInputs(inputs: string[]): Promise<string[]> {
  if (inputs.length === 0) return ['-'];
  const out: string[] = [];
  for (const p of inputs) {
    if (p === '-') {
      out.push(p);
      continue;
    }
    let st: Awaited<ReturnType<typeof fsp.stat>>;
    try {
      st = await fsp.stat(p);
    } catch (e) {
      throw new ImdsguardError('E_SOURCE_IO', `Cannot read "${p}": ${(e as Error).message}`, { cause: e });
    }
    if (st.isDirectory()) out.push(...(await walk(p)));
    else out.push(p);
  }
  return out;
}

/** Byte chunks of a file or stdin, gunzipped when the content starts with the gzip magic (not by name). */
async function* bytes(path: string): AsyncGenerator<Buffer> {
  const src: Readable = path === '-' ? process.stdin : createReadStream(path, { highWaterMark: CHUNK });
  const it = src[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  let first: IteratorResult<Buffer>;
  try {
    first = await it.next();
  } catch (e) {
    throw new ImdsguardError('E_SOURCE_IO', `Cannot read "${path}": ${(e as Error).message}`, { cause: e });
  }
  if (first.done) return;
  const head = typeof first.value === 'string' ? Buffer.from(first.value) : first.value;
  async function* rest(): AsyncGenerator<Buffer> {
    yield head;
    while (true) {
      const r = await it.next();
      if (r.done) return;
      yield r.value;
    }
  }
  try {
    if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) {
      const gunzip = Readable.from(rest()).pipe(createGunzip({ chunkSize: 256 * 1024 }));
      for await (const c of gunzip) yield c as Buffer;
    } else {
      yield* rest();
    }
  } catch (e) {
    if (e instanceof ImdsguardError) throw e;
    throw new ImdsguardError('E_SOURCE_IO', `Cannot read "${path}": ${(e as Error).message}`, { cause: e });
  }
}

/**
 * Every JSON record in the inputs, streamed: trail files `{"Records":[…]}` (gzipped or not), bare arrays,
 * NDJSON and concatenated objects. Syntax errors name the file and line.
 */
export async function* readJsonRecords(
  inputs: string[],
  opts: { keys?: ReadonlySet<string>; keepText?: boolean } = {},
): AsyncGenerator<SourcedRecord> {
  for (const path of await expandInputs(inputs)) {
    const name = path === '-' ? '<stdin>' : path;
    const splitter = new JsonRecordSplitter(name, opts.keys);
    for await (const chunk of bytes(path)) {
      for (const rec of splitter.push(chunk)) {
        const out: SourcedRecord = { file: name, line: rec.line, value: parseRecord(rec, name) };
        if (rec.key) out.key = rec.key;
        if (opts.keepText) out.text = rec.text;
        yield out;
      }
    }
    splitter.end();
  }
}
