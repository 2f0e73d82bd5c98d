import { open, stat } from 'node:fs/promises';
import { sleepUnlessAborted } from './abortable.ts';
import { type LineBase, RESET } from './chunk-lines.ts';

/**
 * `tail -F` for one file: yields appended bytes as they arrive, from the end by default (`fromStart` reads what is
 * there first). Survives rotation (the path now names another inode: the old file is drained, then the new one is
 * read from its start) and truncation (size shrank: read again from 0). Polls, so it works on every filesystem and
 * for files that do not exist yet; stops when `signal` aborts.
 */
export interface FollowOptions {
  fromStart: boolean;
  signal: AbortSignal;
  pollMs?: number;
  /** Told when the file was rotated or truncated; the stream also yields RESET so line numbering restarts. */
  onReset?: (why: 'rotated' | 'truncated') => void;
  /** Told when the file is opened, with the 1-based line reading starts at. */
  onOpen?: (line: number) => void;
}

const READ = 1 << 20;

/** Complete lines in the first `end` bytes (a partial last line continues in what is appended next). */
async function countLines(fh: Awaited<ReturnType<typeof open>>, end: number, buf: Buffer): Promise<number> {
  let n = 0;
  for (let at = 0; at < end; ) {
    const { bytesRead } = await fh.read(buf, 0, Math.min(buf.length, end - at), at);
    if (bytesRead === 0) break;
    for (let i = buf.indexOf(10, 0); i >= 0 && i < bytesRead; i = buf.indexOf(10, i + 1)) n++;
    at += bytesRead;
  }
  return n;
}

export async function* followFile(path: string, opts: FollowOptions): AsyncGenerator<Buffer | typeof RESET | LineBase> {
  const poll = opts.pollMs ?? 250;
  let fh: Awaited<ReturnType<typeof open>> | undefined;
  let ino = -1;
  let pos = 0;
  let first = true;
  const buf = Buffer.alloc(READ);
  try {
    while (!opts.signal.aborted) {
      if (!fh) {
        try {
          fh = await open(path, 'r');
          const st = await fh.stat();
          ino = st.ino;
          pos = first && !opts.fromStart ? st.size : 0;
          // Findings name real line numbers: count the lines already there (and start after a partial last line).
          const base = pos > 0 ? (await countLines(fh, pos, buf)) + 1 : 1;
          if (pos > 0) yield { lineBase: base };
          opts.onOpen?.(base);
          first = false;
        } catch {
          first = false; // a file created later is read from its start
          await sleepUnlessAborted(poll, opts.signal);
          continue;
        }
      }
      // Drain what is there.
      let got = 0;
      for (;;) {
        const { bytesRead } = await fh.read(buf, 0, READ, pos);
        if (bytesRead === 0) break;
        pos += bytesRead;
        got += bytesRead;
        yield Buffer.from(buf.subarray(0, bytesRead));
      }
      if (got > 0) continue;
      // Nothing new: rotated or truncated?
      let st: Awaited<ReturnType<typeof stat>> | undefined;
      try {
        st = await stat(path);
      } catch {
        st = undefined; // moved away and not yet recreated: keep draining the old inode
      }
      if (st && st.ino !== ino) {
        await fh.close();
        fh = undefined;
        opts.onReset?.('rotated');
        yield RESET;
        continue;
      }
      const cur = await fh.stat();
      if (cur.size < pos) {
        pos = 0;
        opts.onReset?.('truncated');
        yield RESET;
        continue;
      }
      await sleepUnlessAborted(poll, opts.signal);
    }
  } finally {
    await fh?.close();
  }
}
