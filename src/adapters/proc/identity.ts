/**
 * The one /proc identity module: what /proc says about the process behind a connection or an event (exe, argv,
 * uids, ppid, start time, network namespace, container, user name), for the proxy's attribution and the agent's
 * sensors alike. One user-name table, one cgroup parser (core/parse/host-cgroup.ts), one namespace reader.
 * - `readProcess` (synchronous, the proxy's hot path) and `ProcessFactsCache` (facts keyed by pid and start time);
 * - `readProc` (asynchronous, the agent's sensors).
 */
import { createHash } from 'node:crypto';
import { createReadStream, readFileSync, readlinkSync, statSync } from 'node:fs';
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
    return parseStat(readFileSync(`${procRoot}/${pid}/stat`, 'latin1'))?.startTime;
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
    const stat = parseStat(readFileSync(`${base}/stat`, 'latin1'));
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
    const raw = readFileSync(`${base}/cmdline`);
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

/**
 * Facts per process, keyed by pid AND start time (field 22 of /proc/<pid>/stat): a pid reused by another process,
 * even one running the same executable (a python3 in a container after a python3 on the host), never inherits the
 * previous owner's uid, namespace or container. A hit costs one read of /proc/<pid>/stat, one stat of /proc/<pid>
 * (the effective uid, which setuid() changes in place) and one readlink of its exe (execve() keeps pid and start
 * time) instead of six reads.
 */
export class ProcessFactsCache {
  private readonly cache = new Map<number, { facts: ProcessFacts; at: number }>();
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
    if (hit && nowMs - hit.at < this.ttlMs) {
      const base = `${this.procRoot}/${pid}`;
      try {
        if (
          startTimeOf(pid, this.procRoot) === STARTED.get(hit.facts) &&
          statSync(base).uid === hit.facts.uid &&
          readlinkSync(`${base}/exe`).replace(/ \(deleted\)$/, '') === hit.facts.exe
        )
          return hit.facts;
      } catch {
        // Gone or unreadable: read afresh below.
      }
    }
    const facts = readProcess(pid, this.users, nowMs, this.procRoot);
    if (this.cache.size > 4096) this.cache.clear();
    if (facts) this.cache.set(pid, { facts, at: nowMs });
    else this.cache.delete(pid);
    return facts;
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
