import { randomBytes } from 'node:crypto';
import { constants, fstatSync, openSync } from 'node:fs';
import { type FileHandle, lstat, open, realpath, rename, stat } from 'node:fs/promises';
import { Socket } from 'node:net';
import { basename, dirname, join } from 'node:path';
import { finished, Writable } from 'node:stream';
import { ImdsguardError } from '../../core/errors.ts';
import { removeIfOurs, settled, trackUncommitted } from './uncommitted.ts';

/**
 * How an output file is written:
 * - `created`: the name did not exist; this run creates it (O_EXCL) and writes it in place, removing it again if the
 *   run fails (it is ours).
 * - `replace`: an existing regular file; the new content goes to a temporary file beside it, renamed over it only on
 *   success. Until then the original is never touched.
 * - `node`: a device, FIFO or socket (or a link to one, or a dangling link); opened and written as it is
 *   (O_WRONLY|O_TRUNC through the node, as `cat > node` does), never unlinked, renamed or replaced.
 * A symlink to a regular file is `replace` of the file it points at: the link itself is never touched.
 */
export type OutputKind = 'created' | 'replace' | 'node';

export interface OutputFile {
  readonly path: string;
  readonly kind: OutputKind;
  /** Bytes written go straight to the file (the temporary one for `replace`). Errors are OutputWriteErrors. */
  readonly stream: Writable;
  /** Flush, and for `replace` fsync and rename into place. Throws an OutputWriteError on failure (after `abort`). */
  commit(): Promise<void>;
  /** Drop what was written: remove the temporary or created file; a `node` is left as it is. */
  abort(): Promise<void>;
}

/** The cause of an I/O error in words, with its code: `no space left on device (ENOSPC)`. */
export function describeIoError(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  const msg = String(err?.message ?? e);
  const m = /^([A-Z][A-Z0-9_]+): ([^,]+)/.exec(msg);
  if (m) return `${m[2]} (${m[1]})`;
  return err?.code && !msg.includes(err.code) ? `${msg} (${err.code})` : msg;
}

/** An output that could not be opened or written: the destination and the cause, in one line. */
export function outputWriteError(dest: string, e: unknown): ImdsguardError<'E_SINK_IO'> {
  if (e instanceof ImdsguardError && e.code === 'E_SINK_IO') return e as ImdsguardError<'E_SINK_IO'>;
  return new ImdsguardError('E_SINK_IO', `cannot write ${dest}: ${describeIoError(e)}`, { cause: e });
}

/** Temporary names start with a dot and carry this marker, so walks over directories can tell them. */
export const TEMP_MARKER = '.imdsguard-';
const TEMP_NAME = /^\..*\.imdsguard-[0-9a-f]{12}\.tmp$/;
export function isTemporaryName(name: string): boolean {
  return TEMP_NAME.test(name);
}

async function writeAll(fh: FileHandle, buf: Buffer): Promise<void> {
  let off = 0;
  while (off < buf.length) {
    const { bytesWritten } = await fh.write(buf, off, buf.length - off);
    off += bytesWritten;
  }
}

function handleStream(fh: FileHandle, dest: string): Writable {
  return new Writable({
    highWaterMark: 1 << 20,
    write(chunk: Buffer, _enc, cb) {
      writeAll(fh, chunk).then(
        () => cb(),
        (e) => cb(outputWriteError(dest, e)),
      );
    },
    writev(chunks, cb) {
      writeAll(fh, Buffer.concat(chunks.map((c) => c.chunk as Buffer))).then(
        () => cb(),
        (e) => cb(outputWriteError(dest, e)),
      );
    },
  });
}

/** End a Writable and wait until everything handed to it was written (or its error). */
export function finish(stream: Writable): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (stream.errored) return reject(stream.errored);
    if (stream.writableFinished) return resolve();
    const onError = (e: Error) => reject(e);
    stream.once('error', onError);
    stream.end(() => {
      stream.off('error', onError);
      if (stream.errored) reject(stream.errored);
      else resolve();
    });
  });
}

/**
 * Open `path` as an output that fails safe (see OutputKind): whatever happens, nothing this run did not create is
 * unlinked or replaced by a partial copy.
 */
export async function openOutputFile(path: string, opts: { mode?: number } = {}): Promise<OutputFile> {
  const dest = `"${path}"`;
  let before = await lstat(path).catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') return undefined;
    throw outputWriteError(dest, e);
  });
  // A link to a regular file: the file it points at is replaced (the link stays, and still points at it). Truncating
  // it through the link first would destroy it if the run then failed.
  let real = path;
  if (before?.isSymbolicLink()) {
    const target = await stat(path).catch(() => undefined);
    if (target?.isFile()) {
      real = await realpath(path);
      before = target;
    }
  }
  if (before?.isDirectory()) throw new ImdsguardError('E_SINK_IO', `cannot write ${dest}: it is a directory`);
  if (before && !before.isFile()) {
    // A device, FIFO, socket or symlink: written through, as `cat > node` would.
    if ((await stat(path).catch(() => undefined))?.isFIFO()) return openFifoOutput(path, dest);
    let fh: FileHandle;
    try {
      fh = await open(path, constants.O_WRONLY | constants.O_TRUNC);
    } catch (e) {
      throw outputWriteError(dest, e);
    }
    const stream = handleStream(fh, dest);
    return {
      path,
      kind: 'node',
      stream,
      async commit() {
        try {
          await finish(stream);
        } finally {
          await fh.close().catch(() => undefined);
        }
      },
      async abort() {
        stream.destroy();
        await fh.close().catch(() => undefined);
      },
    };
  }
  const existing = before;
  const replace = existing !== undefined;
  const writePath = replace
    ? join(dirname(real), `.${basename(real)}${TEMP_MARKER}${randomBytes(6).toString('hex')}.tmp`)
    : path;
  let fh: FileHandle;
  try {
    // O_EXCL: if someone creates the name between our look and our open, we fail rather than write into theirs.
    fh = await open(writePath, 'wx', existing ? existing.mode & 0o7777 : (opts.mode ?? 0o666));
  } catch (e) {
    throw outputWriteError(replace ? `${dest} (a temporary file beside it)` : dest, e);
  }
  trackUncommitted(writePath, await fh.stat());
  if (existing) {
    // The umask may have narrowed the mode; the owner is kept when we may (root), else it becomes ours.
    await fh.chmod(existing.mode & 0o7777).catch(() => undefined);
    if (existing.uid !== process.getuid?.() || existing.gid !== process.getgid?.())
      await fh.chown(existing.uid, existing.gid).catch(() => undefined);
  }
  const stream = handleStream(fh, dest);
  let done = false;
  const abort = async () => {
    if (done) return;
    done = true;
    stream.destroy();
    await fh.close().catch(() => undefined);
    removeIfOurs(writePath);
  };
  return {
    path,
    kind: replace ? 'replace' : 'created',
    stream,
    async commit() {
      if (done) return;
      try {
        await finish(stream);
        if (replace) await fh.sync();
        await fh.close();
        done = true;
        if (replace) await rename(writePath, real);
        settled(writePath);
      } catch (e) {
        done = false;
        await abort();
        throw outputWriteError(dest, e);
      }
    },
    abort,
  };
}

/** How often an output FIFO without a reader is tried again. */
const FIFO_RETRY_MS = 50;

/**
 * A FIFO is opened O_NONBLOCK and written through the event loop, as a piped stdout is: a plain open waits in the
 * thread pool for a reader, and its writes for room, where nothing can cancel them and even `process.exit` waits for
 * that thread, so a signal could not end the run. Without a reader the non-blocking open fails (ENXIO); it is tried
 * again on a timer, so the run still waits for a reader as `cat > fifo` does, but a signal ends it.
 */
async function openFifoOutput(path: string, dest: string): Promise<OutputFile> {
  let fd: number;
  for (;;) {
    try {
      fd = openSync(path, constants.O_WRONLY | constants.O_NONBLOCK);
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENXIO') throw outputWriteError(dest, e);
    }
    await new Promise((r) => setTimeout(r, FIFO_RETRY_MS));
  }
  const sock = new Socket({ fd, readable: false, writable: true });
  // Errors reach the writes' callbacks (and so the stream below); this keeps them from being thrown as unhandled.
  sock.on('error', () => undefined);
  const stream = new Writable({
    highWaterMark: 1 << 20,
    write(chunk: Buffer, _enc, cb) {
      sock.write(chunk, (e) => cb(e ? outputWriteError(dest, e) : undefined));
    },
    final(cb) {
      sock.end();
      finished(sock, { readable: false }, (e) => cb(e ? outputWriteError(dest, e) : undefined));
    },
  });
  return {
    path,
    kind: 'node',
    stream,
    async commit() {
      try {
        await finish(stream);
      } finally {
        sock.destroy();
      }
    },
    async abort() {
      stream.destroy();
      sock.destroy();
    },
  };
}

/** Write a whole small file the fail-safe way (see openOutputFile). */
export async function writeOutputFile(path: string, content: string, opts: { mode?: number } = {}): Promise<void> {
  const file = await openOutputFile(path, opts);
  file.stream.on('error', () => undefined); // read back by commit
  file.stream.write(content);
  await file.commit();
}

/** Device and inode of a path (links followed), or of stdin when it is `-`; undefined when it does not exist. */
async function identity(p: string): Promise<{ dev: number; ino: number } | undefined> {
  try {
    if (p === '-') {
      const st = fstatSync(0);
      // A terminal or a pipe cannot be an output file.
      return st.isFile() ? st : undefined;
    }
    return await stat(p);
  } catch {
    return undefined;
  }
}

/**
 * Refuse a stdout redirected onto one of the inputs (`scan x >> x`): the run would read what it writes and grow the
 * file until the disk is full. Only a regular file can be that; a pipe or terminal never is.
 */
export async function refuseStdoutAmongInputs(inputs: readonly string[]): Promise<void> {
  let out: { dev: number; ino: number };
  try {
    const st = fstatSync(1);
    if (!st.isFile()) return;
    out = st;
  } catch {
    return;
  }
  // `-` is stdin, compared by what descriptor 0 is: `scan < L >> L` reads its own output as surely as `scan L >> L`.
  for (const i of inputs.length === 0 ? ['-'] : inputs) {
    const id = await identity(i);
    if (id && id.dev === out.dev && id.ino === out.ino)
      throw new ImdsguardError(
        'E_USAGE',
        `stdout is redirected onto an input (${i === '-' ? 'stdin' : `"${i}"`}); write the output elsewhere (to another file, or with -o)`,
      );
  }
}

/**
 * Refuse an output that is one of the inputs (through links too): writing it would empty what is being read.
 * `inputs` are file paths (and `-` for stdin, compared by what stdin is).
 */
export async function refuseOutputAmongInputs(
  output: string | undefined,
  inputs: readonly string[],
  advice = 'write the output elsewhere',
): Promise<void> {
  if (!output || output === '-') return;
  const out = await identity(output);
  if (!out) return;
  for (const i of inputs) {
    const id = await identity(i);
    if (id && id.dev === out.dev && id.ino === out.ino)
      throw new ImdsguardError(
        'E_USAGE',
        `The output "${output}" is also an input (${i === '-' ? 'stdin' : `"${i}"`}); ${advice}`,
      );
  }
}
