import { randomBytes } from 'node:crypto';
import { open, stat } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import type { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { type AtomicReplacement, openAtomicReplacement } from '../adapters/files/atomic.ts';
import { makeDirs, removeMadeDirs } from '../adapters/files/make-dirs.ts';
import {
  type OutputFile,
  openOutputFile,
  outputWriteError,
  refuseOutputAmongInputs,
  refuseStdoutAmongInputs,
} from '../adapters/files/output-file.ts';
import { gunzipIfGzip, nullSink, readBytes, stdoutSink } from '../adapters/files/streams.ts';
import { trackMadeDirs } from '../adapters/files/uncommitted.ts';
import { lineEndOf, swapCrLf } from '../adapters/sources/line-ends.ts';
import { ImdsguardError } from '../core/errors.ts';
import { IpPseudonymiser } from '../core/secrets/pseudonymise.ts';
import { type RedactCounts, Redactor } from '../core/secrets/redactor.ts';

export interface RedactOptions {
  inputs: string[];
  /** A file, `-` for stdout, or a directory (ending in `/`, or existing) for several inputs. */
  output?: string;
  inPlace?: boolean;
  backupSuffix?: string;
  dryRun?: boolean;
  /** Replace client IP addresses with keyed pseudonyms. */
  pseudonymiseIps?: boolean;
  /** Key for the pseudonyms; random per run when absent. */
  ipKey?: string;
  /** Compress the output (default: when the output name ends in .gz, or in place when the input was gzip). */
  gzipOutput?: boolean;
  /** Told when the first redacted bytes of the current input go to its output (a dry run: when they would). */
  onOutputStarted?: (input: string) => void;
}

export interface FileSummary {
  input: string;
  /** Where the redacted copy went: a path, `-` for stdout, or null for a dry run. */
  output: string | null;
  counts: RedactCounts;
  ips?: { replaced: number; distinct: number };
}

const NEWLINE = 0x0a;
/** Lines are handled in sub-blocks of about this size, so one secret does not send a whole megabyte down the slow path. */
const SUB_BLOCK = 16 * 1024;
/** A "line" longer than this is not a log line; refuse rather than hold it in memory. */
const MAX_LINE = 256 * 1024 * 1024;

function countNewlines(b: Buffer): number {
  let n = 0;
  for (let i = b.indexOf(NEWLINE); i !== -1; i = b.indexOf(NEWLINE, i + 1)) n++;
  return n;
}

/** Redact a block of whole lines (ending in `\n`, except possibly the very last block of the input). */
function redactBlock(block: Buffer, r: Redactor): Buffer {
  const text = block.toString('latin1');
  if (r.canSkip(text)) {
    r.skipped(countNewlines(block) + (block[block.length - 1] === NEWLINE ? 0 : 1));
    return block;
  }
  const trailing = text.endsWith('\n');
  const lines = text.split('\n');
  if (trailing) lines.pop();
  let changed = false;
  for (let i = 0; i < lines.length; i++) {
    const out = r.line(lines[i]!);
    if (out !== lines[i]) {
      lines[i] = out;
      changed = true;
    }
  }
  if (!changed) return block;
  return Buffer.from(lines.join('\n') + (trailing ? '\n' : ''), 'latin1');
}

/** The byte stream with every secret masked: line count and order, and every other byte, preserved. */
export function redactBytes(r: Redactor): (source: AsyncIterable<Buffer>) => AsyncGenerator<Buffer> {
  return async function* (source) {
    let carry: Buffer | null = null;
    for await (const chunk of source) {
      const buf: Buffer = carry ? Buffer.concat([carry, chunk]) : chunk;
      const last = buf.lastIndexOf(NEWLINE);
      if (last < 0) {
        if (buf.length > MAX_LINE)
          throw new ImdsguardError('E_INPUT_FORMAT', `A line is longer than ${MAX_LINE} bytes`);
        carry = buf;
        continue;
      }
      // Copy the tail so the (large) chunk it came from can be freed.
      carry = last + 1 < buf.length ? Buffer.from(buf.subarray(last + 1)) : null;
      let at = 0;
      while (at <= last) {
        let end = Math.min(last, at + SUB_BLOCK);
        end = buf.indexOf(NEWLINE, end);
        if (end < 0 || end > last) end = last;
        yield redactBlock(buf.subarray(at, end + 1), r);
        at = end + 1;
      }
    }
    if (carry && carry.length > 0) yield redactBlock(carry, r);
  };
}

/**
 * The byte order of a UTF-16 text, or null (bytes). A byte-order mark says it, unless the bytes after it are plain
 * ASCII text without a NUL (a byte text that happens to start with those two bytes: read as UTF-16 it would be
 * nonsense and nothing in it masked). Without a mark, NUL bytes tell: every character below U+0100 (digits, blanks,
 * line ends) has one, all on the same side of each pair, so one side holding many NULs and at least twice as many as
 * the other (CJK characters U+xx00 put one there) is UTF-16 even when most of the text is CJK. A run of NULs (a file truncated under a writer) fills both sides.
 */
export function utf16Order(head: Buffer): 'le' | 'be' | null {
  const n = Math.min(head.length, 1024) & ~1;
  let evenNul = 0;
  let oddNul = 0;
  for (let i = 0; i < n; i += 2) {
    if (head[i] === 0) evenNul++;
    if (head[i + 1] === 0) oddNul++;
  }
  const bom =
    head.length >= 2
      ? head[0] === 0xff && head[1] === 0xfe
        ? 'le'
        : head[0] === 0xfe && head[1] === 0xff
          ? 'be'
          : null
      : null;
  if (bom) return evenNul + oddNul === 0 && asciiText(head.subarray(2, 1024)) ? null : bom;
  if (n < 16) return null;
  const least = Math.max(8, n / 64);
  if (oddNul >= least && oddNul >= 2 * evenNul) return 'le';
  if (evenNul >= least && evenNul >= 2 * oddNul) return 'be';
  return null;
}

/** Printable ASCII, tabs and line ends, nearly all of it (a byte or two of another encoding aside). */
function asciiText(b: Buffer): boolean {
  if (b.length < 16) return false;
  let bad = 0;
  for (const c of b) if (!((c >= 32 && c < 127) || c === 9 || c === 10 || c === 13)) bad++;
  return bad * 20 <= b.length;
}

/** UTF-16 text (either order) masked line by line and written back in the same encoding and byte order. */
function redactUtf16(r: Redactor, order: 'le' | 'be'): (source: AsyncIterable<Buffer>) => AsyncGenerator<Buffer> {
  const decode = (b: Buffer): string => (order === 'le' ? b : Buffer.from(b).swap16()).toString('utf16le');
  const encode = (s: string): Buffer => {
    const b = Buffer.from(s, 'utf16le');
    return order === 'le' ? b : b.swap16();
  };
  return async function* (source) {
    let bytes: Buffer = Buffer.alloc(0);
    let text = '';
    const flushLines = (all: boolean): Buffer | null => {
      const last = all ? text.length - 1 : text.lastIndexOf('\n');
      if (last < 0 || text.length === 0) return null;
      const whole = text.slice(0, last + 1);
      text = text.slice(last + 1);
      const trailing = whole.endsWith('\n');
      const lines = whole.split('\n');
      if (trailing) lines.pop();
      return encode(lines.map((l) => r.line(l)).join('\n') + (trailing ? '\n' : ''));
    };
    for await (const chunk of source) {
      bytes = bytes.length > 0 ? Buffer.concat([bytes, chunk]) : chunk;
      const even = bytes.length & ~1;
      text += decode(bytes.subarray(0, even));
      bytes = Buffer.from(bytes.subarray(even));
      if (text.length > MAX_LINE)
        throw new ImdsguardError('E_INPUT_FORMAT', `A line is longer than ${MAX_LINE} characters`);
      const out = flushLines(false);
      if (out) yield out;
    }
    const out = flushLines(true);
    if (out) yield out;
    if (bytes.length > 0) yield bytes;
  };
}

/** Plain bytes or UTF-16, told apart by the first bytes of the input. */
function redactAny(r: Redactor): (source: AsyncIterable<Buffer>) => AsyncGenerator<Buffer> {
  return async function* (source) {
    const it = source[Symbol.asyncIterator]();
    let head: Buffer = Buffer.alloc(0);
    let done = false;
    while (head.length < 1024) {
      const n = await it.next();
      if (n.done) {
        done = true;
        break;
      }
      head = Buffer.concat([head, n.value]);
    }
    const rest = async function* () {
      yield head;
      if (!done) for (let n = await it.next(); !n.done; n = await it.next()) yield n.value;
    };
    const order = utf16Order(head);
    if (order) yield* redactUtf16(r, order)(rest());
    else if (lineEndOf(head, done) === 'cr') {
      // Lines ended by CR: redacted as LF-ended lines, and swapped back, so every byte but a secret's stays as it was.
      for await (const b of redactBytes(r)(swapped(rest()))) yield swapCrLf(b);
    } else yield* redactBytes(r)(rest());
  };
}

async function* swapped(source: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  for await (const b of source) yield swapCrLf(b);
}

/** The bytes as they are, `told` called once before the first of them goes on. */
function tellFirst(told: () => void): (source: AsyncIterable<Buffer>) => AsyncGenerator<Buffer> {
  return async function* (source) {
    let first = true;
    for await (const b of source) {
      if (first && b.length > 0) {
        first = false;
        told();
      }
      yield b;
    }
  };
}

async function isDirectory(p: string): Promise<boolean> {
  return stat(p).then(
    (s) => s.isDirectory(),
    () => false,
  );
}

function isGzipName(p: string): boolean {
  return /\.gz$/i.test(p);
}

const IN_PLACE_ADVICE = 'write the output elsewhere, or redact a file with --in-place';

function nodeKind(st: { isFIFO(): boolean; isSocket(): boolean; isCharacterDevice(): boolean }): string {
  if (st.isFIFO()) return 'a FIFO';
  if (st.isSocket()) return 'a socket';
  return st.isCharacterDevice() ? 'a character device' : 'a block device';
}

/** Validate the combination of inputs and output flags; throws E_USAGE with what to do instead. */
async function plan(
  o: RedactOptions,
): Promise<{ pairs: Array<{ input: string; output: string | null }>; madeDirs: string[] }> {
  const inputs = o.inputs.length > 0 ? o.inputs : ['-'];
  if (o.inPlace && o.output !== undefined)
    throw new ImdsguardError('E_USAGE', '--in-place and -o cannot be used together');
  if (o.backupSuffix !== undefined && !o.inPlace) throw new ImdsguardError('E_USAGE', '--backup needs --in-place');
  if (o.backupSuffix !== undefined && (o.backupSuffix === '' || o.backupSuffix.includes('/')))
    throw new ImdsguardError('E_USAGE', '--backup needs a suffix such as .orig, without "/"');
  if (o.inPlace && inputs.includes('-')) throw new ImdsguardError('E_USAGE', '--in-place needs files, not stdin');
  if (o.dryRun) return { pairs: inputs.map((input) => ({ input, output: null })), madeDirs: [] };
  if (o.inPlace) {
    // Only a regular file can be replaced: a FIFO, device or socket would be read and written at once (and a FIFO's
    // open for writing waits for a reader that never comes, where no signal can end it).
    for (const input of inputs) {
      const st = await stat(input).catch(() => undefined);
      if (st && !st.isFile() && !st.isDirectory())
        throw new ImdsguardError('E_USAGE', `--in-place needs regular files; "${input}" is ${nodeKind(st)}`);
    }
    return { pairs: inputs.map((input) => ({ input, output: input })), madeDirs: [] };
  }
  const out = o.output ?? '-';
  const dirOut = out !== '-' && (out.endsWith('/') || (await isDirectory(out)));
  if (inputs.length > 1 && !dirOut)
    throw new ImdsguardError('E_USAGE', 'Several inputs need -o DIR/ (one redacted copy each) or --in-place');
  if (dirOut) {
    const names = new Set<string>();
    const pairs = inputs.map((input) => {
      if (input === '-') throw new ImdsguardError('E_USAGE', 'stdin cannot be written to a directory; use -o FILE');
      const name = basename(input);
      if (names.has(name))
        throw new ImdsguardError('E_USAGE', `Two inputs are named "${name}"; redact them into separate directories`);
      names.add(name);
      return { input, output: join(out, name) };
    });
    for (const p of pairs) await refuseOutputAmongInputs(p.output, [p.input], IN_PLACE_ADVICE);
    const madeDirs = await makeDirs(out).catch((e: unknown) => {
      throw outputWriteError(`"${out}"`, e);
    });
    trackMadeDirs(madeDirs);
    return { pairs, madeDirs };
  }
  // Stdin too: `redact -o FILE < FILE` would replace the file being read; and `redact r >> r` would never end.
  if (out === '-') await refuseStdoutAmongInputs([inputs[0]!]);
  else await refuseOutputAmongInputs(out, [inputs[0]!], IN_PLACE_ADVICE);
  return { pairs: [{ input: inputs[0]!, output: out }], madeDirs: [] };
}

async function inputIsGzip(path: string): Promise<boolean> {
  if (path === '-') return false;
  const fh = await open(path, 'r');
  try {
    const b = Buffer.alloc(2);
    const { bytesRead } = await fh.read(b, 0, 2, 0);
    return bytesRead === 2 && b[0] === 0x1f && b[1] === 0x8b;
  } finally {
    await fh.close();
  }
}

async function redactOne(
  input: string,
  output: string | null,
  o: RedactOptions,
  ips: IpPseudonymiser | undefined,
): Promise<FileSummary> {
  const r = new Redactor(ips ? { ips } : {});
  const ipsBefore = ips ? { replaced: ips.replaced } : undefined;
  let atomic: AtomicReplacement | undefined;
  let file: OutputFile | undefined;
  let dest: Writable;
  let gzip = false;
  if (output === null) dest = nullSink();
  else if (output === '-') {
    dest = stdoutSink();
    gzip = o.gzipOutput ?? false;
  } else if (o.inPlace) {
    gzip = o.gzipOutput ?? (await inputIsGzip(input));
    atomic = await openAtomicReplacement(input, o.backupSuffix ? { backupSuffix: o.backupSuffix } : {});
    dest = atomic.stream;
  } else {
    gzip = o.gzipOutput ?? isGzipName(output);
    // Written beside an existing file and renamed on success, created anew, or written through a device or link:
    // a failed run never removes or truncates what it did not create.
    file = await openOutputFile(output);
    dest = file.stream;
  }
  const source = readBytes(input);
  const tell = tellFirst(() => o.onOutputStarted?.(input));
  try {
    if (gzip) await pipeline(source, gunzipIfGzip, redactAny(r), tell, createGzip({ level: 6 }), dest);
    else await pipeline(source, gunzipIfGzip, redactAny(r), tell, dest);
    if (atomic) await atomic.commit();
    if (file) await file.commit();
  } catch (e) {
    if (atomic) await atomic.abort();
    // A partial copy is worse than none: it looks redacted and complete (a device or link is left as it is).
    if (file) await file.abort();
    if (e instanceof ImdsguardError && e.code === 'E_SINK_IO') throw e;
    if (e instanceof ImdsguardError)
      throw new ImdsguardError(e.code, `${input === '-' ? 'stdin' : input}: ${e.message}`, { cause: e });
    const err = e as NodeJS.ErrnoException;
    const what = err.code === 'Z_DATA_ERROR' || err.code === 'Z_BUF_ERROR' ? 'corrupt gzip data' : err.message;
    throw new ImdsguardError('E_SOURCE_IO', `${input === '-' ? 'stdin' : input}: ${what}`, { cause: e });
  }
  const summary: FileSummary = { input, output, counts: r.counts };
  if (ips && ipsBefore) summary.ips = { replaced: ips.replaced - ipsBefore.replaced, distinct: ips.distinct };
  return summary;
}

/**
 * Rewrite logs with every detected secret masked (the same mask for the same secret everywhere), and optionally
 * client addresses pseudonymised. Files are processed one at a time, streaming, so memory stays flat whatever
 * their size. `onFile` is told about each file as it completes.
 */
export async function redact(
  o: RedactOptions,
  onFile: (s: FileSummary) => void,
  /** An input that failed (unreadable, corrupt): reported here and the next input is done; without it, thrown. */
  onFailure?: (input: string, e: ImdsguardError) => void,
): Promise<FileSummary[]> {
  const { pairs, madeDirs } = await plan(o);
  const ips = o.pseudonymiseIps
    ? new IpPseudonymiser(o.ipKey ? Buffer.from(o.ipKey, 'utf8') : randomBytes(32))
    : undefined;
  const out: FileSummary[] = [];
  try {
    for (const p of pairs) {
      try {
        out.push(await redactPair(p, o, ips, onFile));
      } catch (e) {
        // An output that cannot be written stops the run (the next would fail alike); a bad input costs only itself.
        if (!onFailure || !(e instanceof ImdsguardError) || e.code === 'E_SINK_IO' || e.code === 'E_USAGE') throw e;
        onFailure(p.input, e);
      }
    }
  } finally {
    // A directory this run created and left empty (every copy failed) goes again.
    if (out.length === 0) removeMadeDirs(madeDirs);
  }
  return out;
}

async function redactPair(
  p: { input: string; output: string | null },
  o: RedactOptions,
  ips: IpPseudonymiser | undefined,
  onFile: (s: FileSummary) => void,
): Promise<FileSummary> {
  if (p.input !== '-') {
    const st = await stat(p.input).catch((e: Error) => {
      throw new ImdsguardError('E_SOURCE_IO', `Cannot read "${p.input}": ${e.message}`, { cause: e });
    });
    if (!st.isFile() && !st.isFIFO()) throw new ImdsguardError('E_SOURCE_IO', `Cannot read "${p.input}": not a file`);
  }
  const s = await redactOne(p.input, p.output === null ? null : p.output === '-' ? '-' : resolve(p.output), o, ips);
  s.output = p.output;
  onFile(s);
  return s;
}
