import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const BIN = join(ROOT, 'dist', 'cli', 'main.js');
export const skipUnbuilt = existsSync(BIN) ? false : 'dist/ is not built (npm ci or npm run build builds it)';

export interface Run {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Run the built CLI; `stdout` may be a file descriptor (a device copy) instead of a pipe. */
export function runCli(
  args: string[],
  opts: {
    cwd?: string;
    input?: string;
    /** A file descriptor for stdin instead of a pipe fed with `input`. */
    stdin?: number;
    stdout?: number;
    extraFds?: number[];
    timeoutMs?: number;
    /** Run as the unprivileged user `nobody` (root reads through any mode bits; see `asNobody`). */
    asNobody?: boolean;
  } = {},
): Promise<Run> {
  const [cmd, argv] =
    opts.asNobody && isRoot
      ? ['setpriv', ['--reuid=nobody', '--regid=nogroup', '--clear-groups', process.execPath, BIN, ...args]]
      : [process.execPath, [BIN, ...args]];
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, argv, {
      cwd: opts.cwd ?? ROOT,
      stdio: [opts.stdin ?? 'pipe', opts.stdout ?? 'pipe', 'pipe', ...(opts.extraFds ?? [])],
    });
    let out = '';
    let err = '';
    child.stdout?.on('data', (b: Buffer) => {
      out += b.toString('utf8');
    });
    child.stderr?.on('data', (b: Buffer) => {
      err += b.toString('utf8');
    });
    // A command that hangs is killed (SIGKILL: it may ignore the others), so the test fails instead of waiting.
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
    child.on('error', reject);
    child.on('close', (status, signal) => {
      clearTimeout(timer);
      resolve({ status, signal, stdout: out, stderr: err });
    });
    child.stdin?.on('error', () => undefined);
    child.stdin?.end(opts.input ?? '');
  });
}

/** What a directory holds, entry by entry (no recursion into links): type, inode, and content hash or link target. */
export function snapshot(dir: string, prefix = ''): Map<string, string> {
  const out = new Map<string, string>();
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    const st = lstatSync(p);
    const key = prefix + name;
    if (st.isDirectory()) {
      out.set(key, `dir ${st.ino}`);
      for (const [k, v] of snapshot(p, `${key}/`)) out.set(k, v);
    } else if (st.isSymbolicLink()) out.set(key, `link ${st.ino} -> ${readlinkSync(p)}`);
    else if (st.isFile())
      out.set(key, `file ${st.ino} ${createHash('sha256').update(readFileSync(p)).digest('hex').slice(0, 16)}`);
    else out.set(key, `node ${st.ino} mode ${st.mode.toString(8)} rdev ${st.rdev}`);
  }
  return out;
}

/** Entries of `before` that changed or vanished, except those named in `mayChange`. */
export function touched(before: Map<string, string>, after: Map<string, string>, mayChange: string[] = []): string[] {
  const out: string[] = [];
  for (const [k, v] of before) {
    if (mayChange.includes(k)) continue;
    if (after.get(k) !== v) out.push(`${k}: ${v} -> ${after.get(k) ?? 'gone'}`);
  }
  return out;
}

export const isRoot = process.getuid?.() === 0;

/**
 * Why a test that needs mode bits to deny a read cannot run, or false. Root reads through them, so as root the CLI runs
 * as `nobody` under setpriv (runCli's `asNobody`); only a root without setpriv outside CI skips (CI runs as root, and
 * there the test must run).
 */
export const cannotRunUnprivileged: string | false =
  isRoot && !process.env.CI && spawnSync('setpriv', ['--version']).status !== 0
    ? 'needs setpriv to run the CLI as nobody (root reads through mode bits)'
    : false;

/** A copy of a device node in `dir` (never the system's own /dev entry). */
export function mknod(path: string, major: number, minor: number): boolean {
  return spawnSync('mknod', [path, 'c', String(major), String(minor)]).status === 0;
}

/** Finding ids in jsonl text. */
export function findingIds(jsonl: string): string[] {
  return jsonl
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => (JSON.parse(l) as { id: string }).id)
    .sort();
}
