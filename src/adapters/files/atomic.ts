import { randomBytes } from 'node:crypto';
import { type FileHandle, link, lstat, open, realpath, rename, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { Writable } from 'node:stream';
import { ImdsguardError } from '../../core/errors.ts';
import { removeIfOurs, settled, trackUncommitted } from './uncommitted.ts';

/** A replacement for a file, written beside it and swapped in only when complete. */
export interface AtomicReplacement {
  /** The temporary file being written. */
  readonly tempPath: string;
  /** The file that will be replaced (symlinks resolved, so a link keeps pointing at the new content). */
  readonly targetPath: string;
  readonly stream: Writable;
  /** fsync the new content, keep the original as a backup when asked, rename over the original, fsync the directory. */
  commit(): Promise<void>;
  /** Remove the temporary file; the original is untouched. */
  abort(): Promise<void>;
}

async function writeAll(fh: FileHandle, buf: Buffer): Promise<void> {
  let off = 0;
  while (off < buf.length) {
    const { bytesWritten } = await fh.write(buf, off, buf.length - off);
    off += bytesWritten;
  }
}

/**
 * Open an atomic replacement for `path`: the new content goes to a temporary file in the same directory (so the
 * final rename stays on one filesystem and is atomic), created with the original's mode and owner. Until `commit`,
 * the original is never written; a crash or kill leaves it intact (and at worst a `.NAME.imdsguard-*.tmp` file).
 */
export async function openAtomicReplacement(
  path: string,
  opts: { backupSuffix?: string } = {},
): Promise<AtomicReplacement> {
  let target: string;
  try {
    target = await realpath(path);
  } catch (e) {
    throw new ImdsguardError('E_SOURCE_IO', `Cannot read "${path}": ${(e as Error).message}`, { cause: e });
  }
  const st = await stat(target);
  if (!st.isFile()) throw new ImdsguardError('E_USAGE', `Cannot rewrite "${path}" in place: not a regular file`);
  const backup = opts.backupSuffix ? `${target}${opts.backupSuffix}` : undefined;
  if (backup) {
    const exists = await lstat(backup).then(
      () => true,
      () => false,
    );
    if (exists) throw new ImdsguardError('E_USAGE', `Backup "${backup}" already exists; refusing to overwrite it`);
  }
  const tempPath = join(dirname(target), `.${basename(target)}.imdsguard-${randomBytes(6).toString('hex')}.tmp`);
  let fh: FileHandle;
  try {
    fh = await open(tempPath, 'wx', st.mode & 0o7777);
  } catch (e) {
    throw new ImdsguardError('E_SINK_IO', `Cannot create a temporary file beside "${path}": ${(e as Error).message}`, {
      cause: e,
    });
  }
  trackUncommitted(tempPath, await fh.stat());
  const cleanup = async () => {
    removeIfOurs(tempPath);
  };
  try {
    // The umask may have narrowed the mode; the owner is kept when it differs from ours (needs privilege).
    await fh.chmod(st.mode & 0o7777);
    if (st.uid !== process.getuid?.() || st.gid !== process.getgid?.()) await fh.chown(st.uid, st.gid);
  } catch (e) {
    await fh.close().catch(() => undefined);
    await cleanup();
    throw new ImdsguardError('E_SINK_IO', `Cannot keep the mode and owner of "${path}": ${(e as Error).message}`, {
      cause: e,
    });
  }
  // Writes go straight to the handle, which stays open until `commit` has fsynced it.
  const stream = new Writable({
    highWaterMark: 1 << 20,
    write(chunk: Buffer, _enc, cb) {
      writeAll(fh, chunk).then(() => cb(), cb);
    },
    writev(chunks, cb) {
      writeAll(fh, Buffer.concat(chunks.map((c) => c.chunk as Buffer))).then(() => cb(), cb);
    },
  });
  let done = false;
  return {
    tempPath,
    targetPath: target,
    stream,
    async commit() {
      if (done) return;
      done = true;
      try {
        await fh.sync();
        await fh.close();
        if (backup) await link(target, backup);
        await rename(tempPath, target);
        settled(tempPath);
      } catch (e) {
        await cleanup();
        throw new ImdsguardError('E_SINK_IO', `Cannot replace "${path}": ${(e as Error).message}`, { cause: e });
      }
      // Make the rename itself durable.
      const dir = await open(dirname(target), 'r').catch(() => undefined);
      if (dir) {
        await dir.sync().catch(() => undefined);
        await dir.close();
      }
    },
    async abort() {
      if (done) return;
      done = true;
      stream.destroy();
      await fh.close().catch(() => undefined);
      await cleanup();
    },
  };
}
