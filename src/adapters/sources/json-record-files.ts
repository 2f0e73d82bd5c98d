import { promises as fsp } from 'node:fs';
import { ImdsguardError } from '../../core/errors.ts';
import { JsonRecordSplitter, parseRecord } from '../../core/parse/json-records.ts';
import { readBytes } from '../files/streams.ts';
import { unreadableDirectory, type WalkOptions, walkFiles } from './expand-inputs.ts';
import { GzipDataError, gunzipMembers } from './gunzip-members.ts';

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

/**
 * Files under a directory, sorted, recursively (links followed); CloudTrail digest files carry no records. A directory
 * that cannot be listed is told to `onUnreadable` (the walk goes on), or thrown without it.
 */
async function walk(dir: string, onUnreadable?: WalkOptions['onUnreadable']): Promise<string[]> {
  const out: string[] = [];
  await walkFiles(dir, out, {
    keep: (name) => !name.startsWith('.') && RECORD_FILE.test(name) && !name.includes('CloudTrail-Digest'),
    skipDir: (name) => name.startsWith('.') || name === 'CloudTrail-Digest',
    ...(onUnreadable ? { onUnreadable } : {}),
  });
  return out;
}

/** Something wrong with one input; the others are read all the same. */
export interface InputProblem {
  file: string;
  line?: number;
  message: string;
  /** What it cost: one record, the rest of a line, the rest of the input, or the whole input. */
  skipped: 'record' | 'line' | 'rest' | 'input';
}

/** Expand the inputs: '-' or none is stdin, directories are walked; an input that cannot be expanded is a problem. */
export async function expandInputs(inputs: string[], onProblem?: (p: InputProblem) => void): Promise<string[]> {
  if (inputs.length === 0) return ['-'];
  const out: string[] = [];
  for (const p of inputs) {
    if (p === '-') {
      out.push(p);
      continue;
    }
    try {
      const st = await fsp.stat(p);
      if (st.isDirectory())
        out.push(
          ...(await walk(
            p,
            onProblem &&
              ((dir, err) => onProblem({ file: dir, message: unreadableDirectory(dir, err), skipped: 'input' })),
          )),
        );
      else out.push(p);
    } catch (e) {
      const err = new ImdsguardError('E_SOURCE_IO', `Cannot read "${p}": ${describe(e)}`, { cause: e });
      if (!onProblem) throw err;
      onProblem({ file: p, message: err.message, skipped: 'input' });
    }
  }
  return out;
}

function describe(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  if (err.code === 'Z_DATA_ERROR' || err.code === 'Z_BUF_ERROR') return `corrupt or truncated gzip data (${err.code})`;
  if (/unexpected end of file/i.test(err.message)) return 'truncated gzip data';
  return err.message;
}

/** Byte chunks of a file or stdin, gunzipped when the content starts with the gzip magic (not by name). */
async function* bytes(path: string): AsyncGenerator<Buffer> {
  let it: AsyncIterator<Buffer>;
  let first: IteratorResult<Buffer>;
  try {
    it = readBytes(path, CHUNK)[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
    first = await it.next();
  } catch (e) {
    throw new ImdsguardError('E_SOURCE_IO', `Cannot read "${path}": ${describe(e)}`, { cause: e });
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
      // Member by member: data after the last member is an error after everything before it was read.
      yield* gunzipMembers(rest());
    } else {
      yield* rest();
    }
  } catch (e) {
    if (e instanceof ImdsguardError) throw e;
    const message = e instanceof GzipDataError ? e.message : describe(e);
    throw new ImdsguardError('E_SOURCE_IO', `Cannot read "${path}": ${message}`, { cause: e });
  }
}

export interface ReadJsonRecordsOptions {
  keys?: ReadonlySet<string>;
  keepText?: boolean;
  /**
   * Report a problem and read on: a bad record or line is stepped over, an unreadable or truncated input ends that
   * input only. Without it, the first problem throws.
   */
  onProblem?: (p: InputProblem) => void;
  /** Told the expanded list of files once, then the index of each file as its reading starts. */
  onFile?: (index: number, files: readonly string[]) => void;
}

/**
 * Every JSON record in the inputs, streamed: trail files `{"Records":[…]}` (gzipped or not), bare arrays,
 * NDJSON and concatenated objects. Syntax errors name the file and line.
 */
export async function* readJsonRecords(
  inputs: string[],
  opts: ReadJsonRecordsOptions = {},
): AsyncGenerator<SourcedRecord> {
  const report = opts.onProblem;
  const files = await expandInputs(inputs, report);
  for (let f = 0; f < files.length; f++) {
    const path = files[f]!;
    opts.onFile?.(f, files);
    const name = path === '-' ? '<stdin>' : path;
    const splitter = new JsonRecordSplitter(name, opts.keys, { recover: Boolean(report) });
    const problems = () => {
      for (const p of splitter.takeProblems())
        report?.({
          file: name,
          ...(p.error.line !== undefined ? { line: p.error.line } : {}),
          message: p.error.message,
          skipped: p.skipped,
        });
    };
    let line = 0;
    try {
      for await (const chunk of bytes(path)) {
        const recs = splitter.push(chunk);
        problems();
        for (const rec of recs) {
          line = rec.line;
          let value: unknown;
          try {
            value = parseRecord(rec, name);
          } catch (e) {
            if (!report) throw e;
            report({ file: name, line: rec.line, message: (e as Error).message, skipped: 'record' });
            continue;
          }
          const out: SourcedRecord = { file: name, line: rec.line, value };
          if (rec.key) out.key = rec.key;
          if (opts.keepText) out.text = rec.text;
          yield out;
        }
      }
      splitter.end();
      problems();
    } catch (e) {
      if (!report) throw e;
      problems();
      const message =
        line > 0 ? `${(e as Error).message}; the records up to line ${line} were read` : (e as Error).message;
      report({ file: name, message, skipped: line > 0 ? 'rest' : 'input' });
    }
  }
}
