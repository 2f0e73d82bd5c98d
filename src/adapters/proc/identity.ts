/**
 * The one /proc identity module: what /proc says about the process behind a connection or an event (exe, argv,
 * uids, ppid, start time, network namespace, container, user name), for the proxy's attribution and the agent's
 * sensors alike. One user-name table, one cgroup parser (core/parse/host-cgroup.ts), one namespace reader.
 * - `readProcess` (synchronous, the proxy's hot path) and `ProcessFactsCache` (facts keyed by pid and start time);
 * - `readProc` (asynchronous, the agent's sensors).
 */
import { createHash } from 'node:crypto';
import {
  closeSync,
  createReadStream,
  fstatSync,
  openSync,
  readFileSync,
  readlinkSync,
  readSync,
  statSync,
} from 'node:fs';
import { readFile, readlink } from 'node:fs/promises';
import type { FindingProcess } from '../../core/model/finding.ts';
import { type ContainerIdentity, parseCgroup } from '../../core/parse/host-cgroup.ts';
import { maskArgv } from '../../core/secrets/argv.ts';

/** The identity fields of the event model's process, as /proc gives them. */
export type ProcessFacts = FindingProcess;

/** Read the netns inode number from a `net:[4026531840]` link. */
export function nsInode(link: string | undefined): number | undefined {
  const m = link ? /\[(\d+)\]/.exec(link) : null;
  return m?.[1] ? Number(m[1]) : undefined;
}

/** Network namespace inode of a /proc entry ("net:[4026531840]" → 4026531840). */
export function netnsOf(procPath: string): number | undefined {
  try {
    return nsInode(readlinkSync(`${procPath}/ns/net`));
  } catch {
    return undefined;
  }
}

/**
 * uid → user name from /etc/passwd: re-read when an unknown uid shows up (users get added) at most every 10 s, and
 * at least once a minute (users get renamed).
 */
export class UserNames {
  private names = new Map<number, string>();
  private loadedAt = Number.NEGATIVE_INFINITY;
  private readonly file: string;
  constructor(file = '/etc/passwd') {
    this.file = file;
  }

  /** The name now (synchronous: the proxy reads it on its request path). */
  nameOf(uid: number, nowMs: number = Date.now()): string | undefined {
    const age = nowMs - this.loadedAt;
    if (age > 60_000 || (age > 10_000 && !this.names.has(uid))) this.load(nowMs);
    return this.names.get(uid);
  }

  async name(uid: number | undefined): Promise<string | undefined> {
    return uid === undefined ? undefined : this.nameOf(uid);
  }

  private load(nowMs: number): void {
    this.loadedAt = nowMs;
    const m = new Map<number, string>();
    try {
      for (const line of readFileSync(this.file, 'utf8').split('\n')) {
        const f = line.split(':');
        if (f.length >= 3 && f[0] && /^\d+$/.test(f[2] ?? '') && !m.has(Number(f[2]))) m.set(Number(f[2]), f[0]);
      }
    } catch {
      // Leave names empty: uids still identify callers.
      return;
    }
    this.names = m;
  }
}

/** One buffer for the small /proc files read on the proxy's request path (synchronous, so never shared at once). */
const PROC_BUF = Buffer.allocUnsafe(64 * 1024);

/**
 * Read a small /proc file into PROC_BUF with one open, one read and one close (readFileSync() takes several times as
 * long on a file whose size the kernel reports as 0, and the proxy reads these on every request); its length. A
 * file larger than the buffer (a command line over 64 KiB) is cut there.
 */
function readIntoBuffer(path: string): number {
  const fd = openSync(path, 'r');
  try {
    return readSync(fd, PROC_BUF, 0, PROC_BUF.length, 0);
  } finally {
    closeSync(fd);
  }
}

function readProcText(path: string): string {
  return PROC_BUF.toString('latin1', 0, readIntoBuffer(path));
}

function readProcBytes(path: string): Buffer {
  return Buffer.from(PROC_BUF.subarray(0, readIntoBuffer(path)));
}

const MAX_ARGV = 64;
const MAX_ARG_LEN = 512;

/** ppid (field 4) and start time in clock ticks since boot (field 22) from /proc/<pid>/stat; null when unreadable. */
export function parseStat(stat: string): { ppid: number; startTime: number } | null {
  // Fields after the command name, which is in parentheses and may hold spaces or parentheses itself.
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // f[0] is field 3 (state): field N is f[N - 3].
  const ppid = Number(f[1]);
  const startTime = Number(f[19]);
  return Number.isInteger(ppid) && Number.isInteger(startTime) ? { ppid, startTime } : null;
}

/** A process's start time (field 22 of /proc/<pid>/stat): with the pid, it names one process, never its successor. */
export function startTimeOf(pid: number, procRoot = '/proc'): number | undefined {
  try {
    return parseStat(readProcText(`${procRoot}/${pid}/stat`))?.startTime;
  } catch {
    return undefined;
  }
}

/** Read a process's facts. Fields the proxy cannot read (no CAP_SYS_PTRACE) are left out. */
export function readProcess(pid: number, users: UserNames, nowMs: number, procRoot = '/proc'): ProcessFacts | null {
  const base = `${procRoot}/${pid}`;
  const facts: ProcessFacts = { pid };
  let startTime: number;
  try {
    // /proc/<pid> belongs to the process's effective uid; stat is far cheaper than formatting /proc/<pid>/status.
    facts.uid = statSync(base).uid;
    const stat = parseStat(readProcText(`${base}/stat`));
    if (!stat) return null;
    facts.ppid = stat.ppid;
    startTime = stat.startTime;
  } catch {
    return null;
  }
  const name = users.nameOf(facts.uid, nowMs);
  if (name) facts.user = name;
  try {
    facts.exe = readlinkSync(`${base}/exe`).replace(/ \(deleted\)$/, '');
  } catch {
    // Kernel threads and processes we may not trace have no readable exe.
  }
  try {
    const raw = readProcBytes(`${base}/cmdline`);
    CMDLINE.set(facts, raw);
    const parts = raw.toString('utf8').split('\u0000');
    if (parts.at(-1) === '') parts.pop();
    // Masked whole, then cut: a secret cut first would no longer be recognised, and its first part would be kept.
    facts.argv = maskArgv(parts)
      .slice(0, MAX_ARGV)
      .map((a) => (a.length > MAX_ARG_LEN ? `${a.slice(0, MAX_ARG_LEN)}…` : a));
  } catch {
    // argv stays unknown.
  }
  const ns = netnsOf(base);
  if (ns !== undefined) facts.netns = ns;
  try {
    const c = parseCgroup(readFileSync(`${base}/cgroup`, 'utf8'));
    if (c) facts.container = c.id;
  } catch {
    // Not in a container, or unreadable.
  }
  // Read last: if the pid was reused while we read, the start time differs from the one read first.
  if (startTimeOf(pid, procRoot) !== startTime) return null;
  STARTED.set(facts, startTime);
  return facts;
}

const STARTED = new WeakMap<ProcessFacts, number>();
/** The raw command line the facts were read from: execve() of the same executable keeps pid, start time and exe. */
const CMDLINE = new WeakMap<ProcessFacts, Buffer>();

function sameCmdline(base: string, facts: ProcessFacts): boolean {
  const was = CMDLINE.get(facts);
  let n: number;
  try {
    n = readIntoBuffer(`${base}/cmdline`);
  } catch {
    return was === undefined;
  }
  return was !== undefined && PROC_BUF.subarray(0, n).equals(was);
}

/**
 * Open descriptors on a process's /proc directory and command line. They stay bound to that process, not to its pid
 * number: a read through them fails once it has exited (even when the pid is reused), while execve() and setuid()
 * show through (the command line and the directory's owner, its effective uid, are read anew at each use). A check
 * through them costs a pread, an fstat and a readlink, a few microseconds, instead of opening /proc files by path.
 */
interface ProcessWatch {
  dir: number;
  cmdline: number;
}

function openWatch(pid: number, procRoot: string, startTime: number | undefined): ProcessWatch | null {
  const base = `${procRoot}/${pid}`;
  const opened: number[] = [];
  try {
    opened.push(openSync(base, 'r'));
    opened.push(openSync(`${base}/cmdline`, 'r'));
    // Opened after the facts were read: the pid must still name the process they were read from.
    if (startTime !== undefined && startTimeOf(pid, procRoot) === startTime)
      return { dir: opened[0]!, cmdline: opened[1]! };
  } catch {
    // Gone or unreadable: checked by path.
  }
  for (const fd of opened) closeSync(fd);
  return null;
}

function closeWatch(w: ProcessWatch): void {
  closeSync(w.dir);
  closeSync(w.cmdline);
}

/** At most this many processes are watched through open descriptors; the others are checked by path. */
const MAX_WATCHES = 256;

interface CachedFacts {
  facts: ProcessFacts;
  at: number;
  watch?: ProcessWatch | null;
}

/**
 * Facts per process, keyed by pid AND start time (field 22 of /proc/<pid>/stat): a pid reused by another process,
 * even one running the same executable (a python3 in a container after a python3 on the host), never inherits the
 * previous owner's uid, namespace or container. Every use re-checks that the process is the same one and still
 * has the effective uid, the executable and the command line the facts were read with (setuid() changes the uid in
 * place; execve() keeps pid and start time, and a program that runs its own interpreter again keeps the exe too):
 * through a ProcessWatch from the second use on, else by path (the start time from /proc/<pid>/stat, a stat of
 * /proc/<pid>, a readlink of its exe and a read of its command line). The same object comes back while nothing
 * of this changed, so callers can tell "unchanged" by identity; the other facts are read afresh after `ttlMs`.
 */
export class ProcessFactsCache {
  private readonly cache = new Map<number, CachedFacts>();
  /** Entries with an open watch, least recently used first. */
  private readonly watched = new Map<number, CachedFacts>();
  private readonly users: UserNames;
  private readonly procRoot: string;
  private readonly ttlMs: number;
  constructor(users: UserNames, procRoot = '/proc', ttlMs = 5000) {
    this.users = users;
    this.procRoot = procRoot;
    this.ttlMs = ttlMs;
  }

  get(pid: number, nowMs: number): ProcessFacts | null {
    const hit = this.cache.get(pid);
    if (hit && nowMs - hit.at < this.ttlMs && this.unchanged(pid, hit)) return hit.facts;
    if (hit) this.drop(pid, hit);
    const facts = readProcess(pid, this.users, nowMs, this.procRoot);
    if (this.cache.size > 4096) this.close();
    if (facts) this.cache.set(pid, { facts, at: nowMs });
    return facts;
  }

  /** Close every watch (the cache stays usable, checking by path until it watches again). */
  close(): void {
    for (const e of this.watched.values()) if (e.watch) closeWatch(e.watch);
    this.watched.clear();
    this.cache.clear();
  }

  private drop(pid: number, e: CachedFacts): void {
    this.cache.delete(pid);
    if (e.watch) {
      closeWatch(e.watch);
      this.watched.delete(pid);
    }
  }

  private unchanged(pid: number, e: CachedFacts): boolean {
    const base = `${this.procRoot}/${pid}`;
    const f = e.facts;
    if (e.watch === undefined) {
      if (this.watched.size >= MAX_WATCHES) {
        const [oldPid, oldest] = this.watched.entries().next().value as [number, CachedFacts];
        this.watched.delete(oldPid);
        if (oldest.watch) closeWatch(oldest.watch);
        delete oldest.watch;
      }
      e.watch = openWatch(pid, this.procRoot, STARTED.get(f));
      if (e.watch) this.watched.set(pid, e);
    } else if (e.watch) {
      // Most recently used last.
      this.watched.delete(pid);
      this.watched.set(pid, e);
    }
    try {
      const w = e.watch;
      if (w) {
        const was = CMDLINE.get(f);
        const n = readSync(w.cmdline, PROC_BUF, 0, PROC_BUF.length, 0);
        return (
          was !== undefined &&
          PROC_BUF.subarray(0, n).equals(was) &&
          fstatSync(w.dir).uid === f.uid &&
          readlinkSync(`${base}/exe`).replace(/ \(deleted\)$/, '') === f.exe
        );
      }
      return (
        startTimeOf(pid, this.procRoot) === STARTED.get(f) &&
        statSync(base).uid === f.uid &&
        readlinkSync(`${base}/exe`).replace(/ \(deleted\)$/, '') === f.exe &&
        sameCmdline(base, f)
      );
    } catch {
      // Gone (a watch reads ESRCH once its process has exited) or unreadable: read afresh.
      return false;
    }
  }
}

/** sha256 of executables, cached by (device, inode, size, mtime) so each binary is hashed once. */
export class ExeHashes {
  private readonly cache = new Map<string, Promise<string | undefined>>();
  hash(pid: number, procRoot = '/proc'): Promise<string | undefined> {
    let key: string;
    try {
      const st = statSync(`${procRoot}/${pid}/exe`);
      key = `${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}`;
    } catch {
      return Promise.resolve(undefined);
    }
    let p = this.cache.get(key);
    if (!p) {
      p = new Promise((resolve) => {
        const h = createHash('sha256');
        createReadStream(`${procRoot}/${pid}/exe`)
          .on('data', (c) => h.update(c))
          .on('end', () => resolve(h.digest('hex')))
          .on('error', () => resolve(undefined));
      });
      if (this.cache.size > 1000) this.cache.clear();
      this.cache.set(key, p);
    }
    return p;
  }
}

/** What /proc says about a live process. Every field is optional: the process may be gone or unreadable. */
export interface ProcSnapshot {
  pid: number;
  exe?: string;
  argv?: string[];
  ppid?: number;
  uid?: number;
  netns?: number;
  container?: ContainerIdentity;
  comm?: string;
}

async function maybe<T>(p: Promise<T>): Promise<T | undefined> {
  try {
    return await p;
  } catch {
    return undefined;
  }
}

/** Read /proc/<pid> (exe, cmdline, status, netns, cgroup). `root` lets tests point at a fixture tree. */
export async function readProc(pid: number, root = '/proc'): Promise<ProcSnapshot> {
  const base = `${root}/${pid}`;
  const [exe, cmdline, status, ns, cgroup] = await Promise.all([
    maybe(readlink(`${base}/exe`)),
    maybe(readFile(`${base}/cmdline`, 'latin1')),
    maybe(readFile(`${base}/status`, 'utf8')),
    maybe(readlink(`${base}/ns/net`)),
    maybe(readFile(`${base}/cgroup`, 'utf8')),
  ]);
  const out: ProcSnapshot = { pid };
  if (exe) out.exe = exe;
  if (cmdline) out.argv = cmdline.split('\0').filter((_, i, a) => i < a.length - 1 || a[i] !== '');
  if (status) {
    const ppid = /^PPid:\s*(\d+)/m.exec(status)?.[1];
    const uid = /^Uid:\s*(\d+)/m.exec(status)?.[1];
    const name = /^Name:\s*(.*)$/m.exec(status)?.[1];
    if (ppid) out.ppid = Number(ppid);
    if (uid) out.uid = Number(uid);
    if (name) out.comm = name;
  }
  const inode = nsInode(ns);
  if (inode !== undefined) out.netns = inode;
  const c = cgroup ? parseCgroup(cgroup) : undefined;
  if (c) out.container = c;
  return out;
}
