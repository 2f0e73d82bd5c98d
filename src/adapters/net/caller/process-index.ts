/**
 * Socket inode → owning process, by walking /proc/<pid>/fd. Ordered so the common cases cost one or two processes:
 * recent callers first (long-lived SDK clients), then the newest pids (a fresh curl), then processes of the
 * socket's uid, then everyone. Every socket seen on the way is remembered, so a later lookup may not walk at all.
 */
import { readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs';

const SOCKET_LINK = /^socket:\[(\d+)\]$/;

export interface ProcessIndexOptions {
  /** /proc, or another mount of it (tests). */
  procRoot?: string;
  /** Pids tried last (the proxy itself, with a socket per client, and its helper): a client never holds these. */
  last?: () => ReadonlySet<number>;
  maxKnown?: number;
}

export class ProcessIndex {
  private readonly root: string;
  private readonly known = new Map<number, number>();
  private readonly recent: number[] = [];
  private readonly last: () => ReadonlySet<number>;
  private readonly maxKnown: number;

  constructor(opts: ProcessIndexOptions = {}) {
    this.root = opts.procRoot ?? '/proc';
    this.last = opts.last ?? (() => new Set([process.pid]));
    this.maxKnown = opts.maxKnown ?? 200_000;
  }

  /** Pids currently in /proc, newest (highest) first. */
  pids(): number[] {
    const out: number[] = [];
    for (const n of readdirSync(this.root)) {
      const c = n.charCodeAt(0);
      if (c >= 48 && c <= 57) out.push(Number(n));
    }
    return out.sort((a, b) => b - a);
  }

  /** The last pid the kernel handed out (cheaper than listing /proc, which costs about 0.2 ms). */
  private lastPid(): number | undefined {
    try {
      return Number(readFileSync(`${this.root}/sys/kernel/ns_last_pid`, 'utf8'));
    } catch {
      return undefined;
    }
  }

  /** Walk one process's fds, remembering its sockets. True when `inode` is among them. */
  private scan(pid: number, inode: number): boolean {
    let fds: string[];
    try {
      fds = readdirSync(`${this.root}/${pid}/fd`);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
        const i = this.recent.indexOf(pid);
        if (i >= 0) this.recent.splice(i, 1);
      }
      return false;
    }
    let found = false;
    for (const fd of fds) {
      let link: string;
      try {
        link = readlinkSync(`${this.root}/${pid}/fd/${fd}`);
      } catch {
        continue;
      }
      const m = SOCKET_LINK.exec(link);
      if (!m) continue;
      const ino = Number(m[1]);
      if (this.known.size >= this.maxKnown) this.known.clear();
      this.known.set(ino, pid);
      if (ino === inode) found = true;
    }
    return found;
  }

  private remember(pid: number): number {
    const i = this.recent.indexOf(pid);
    if (i >= 0) this.recent.splice(i, 1);
    this.recent.unshift(pid);
    if (this.recent.length > 64) this.recent.pop();
    return pid;
  }

  private tgid(pid: number): number {
    try {
      const m = /^Tgid:\s+(\d+)/m.exec(readFileSync(`${this.root}/${pid}/status`, 'latin1'));
      if (m) {
        const t = Number(m[1]);
        if (t !== pid) for (const [ino, p] of this.known) if (p === pid) this.known.set(ino, t);
        return t;
      }
    } catch {
      // Keep the id we have.
    }
    return pid;
  }

  private uidOf(pid: number): number | undefined {
    try {
      return statSync(`${this.root}/${pid}`).uid;
    } catch {
      return undefined;
    }
  }

  /**
   * The pid holding socket `inode`, or null. `candidates` limits the search (processes of one network namespace);
   * `uid` is the socket's owner, used to try that user's processes first.
   */
  findOwner(inode: number, uid?: number, candidates?: readonly number[]): number | null {
    const deferred = this.last();
    const cached = this.known.get(inode);
    // A socket inode seen in a process's fd table stays that process's while the connection is open.
    if (cached !== undefined) return this.remember(cached);
    const tried = new Set<number>(deferred);
    const attempt = (pid: number): boolean => {
      if (tried.has(pid)) return false;
      tried.add(pid);
      return this.scan(pid, inode);
    };
    const allowed = candidates ? new Set(candidates) : undefined;
    for (const pid of [...this.recent]) if ((!allowed || allowed.has(pid)) && attempt(pid)) return this.remember(pid);
    // The newest few next: a client that just started (curl, a CLI) is among them.
    const last = candidates ? undefined : this.lastPid();
    // ns_last_pid may name a thread: /proc/<tid> is reachable (though not listed), so report its thread group.
    if (last !== undefined)
      for (let pid = last; pid > last - 16 && pid > 0; pid--) if (attempt(pid)) return this.remember(this.tgid(pid));
    const pids = candidates ? [...candidates].sort((a, b) => b - a) : this.pids();
    for (const pid of pids.slice(0, 8)) if (attempt(pid)) return this.remember(pid);
    if (uid !== undefined) {
      for (const pid of pids) if (!tried.has(pid) && this.uidOf(pid) === uid && attempt(pid)) return this.remember(pid);
    }
    for (const pid of pids) if (attempt(pid)) return this.remember(pid);
    // Only in-process clients (tests) dial the proxy from the proxy's own process.
    for (const pid of deferred) if ((!allowed || allowed.has(pid)) && this.scan(pid, inode)) return this.remember(pid);
    return null;
  }
}
