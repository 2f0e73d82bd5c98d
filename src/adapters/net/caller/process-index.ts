/**
 * Socket inode → owning process, by walking /proc/<pid>/fd. Ordered so the common cases cost one or two processes:
 * recent callers first (long-lived SDK clients), then the newest pids (a fresh curl), then processes of the
 * socket's uid, then everyone. Every socket seen on the way is remembered, so a later lookup may not walk at all.
 *
 * A client that opens a connection per request (curl in a loop, most SDKs, a load generator) closes its socket and
 * opens the next one on the lowest free descriptor, which is usually the one just closed. So when a connection we
 * attributed ends, its descriptor is remembered as freed, and the next lookup reads those few links first — one
 * readlink instead of a walk over every descriptor of the process.
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
  /** How lookups were served: walks of a whole fd table, and single-descriptor probes (for tests and tuning). */
  readonly stats = { walks: 0, probes: 0 };
  private readonly known = new Map<number, number>();
  /** inode → descriptor number in its owner, for sockets found by a walk or a probe. */
  private readonly fdOf = new Map<number, number>();
  /** pid → descriptors recently freed there, newest last. */
  private readonly freed = new Map<number, number[]>();
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
    this.stats.walks++;
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
    // Descriptors open now are not free: keep only those still closed in the freed list.
    const list = this.freed.get(pid);
    if (list) {
      const open = new Set(fds);
      for (let i = list.length - 1; i >= 0; i--) if (open.has(String(list[i]))) list.splice(i, 1);
    }
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
      this.learn(ino, pid, Number(fd));
      if (ino === inode) found = true;
    }
    return found;
  }

  private learn(inode: number, pid: number, fd: number): void {
    if (this.known.size >= this.maxKnown) {
      this.known.clear();
      this.fdOf.clear();
    }
    this.known.set(inode, pid);
    this.fdOf.set(inode, fd);
  }

  /**
   * The connection on socket `inode` has ended: its descriptor will be free in its process soon (if it is not
   * already), and is the likeliest place for that process's next socket.
   */
  released(inode: number): void {
    const pid = this.known.get(inode);
    const fd = this.fdOf.get(inode);
    this.known.delete(inode);
    this.fdOf.delete(inode);
    if (pid === undefined || fd === undefined) return;
    let list = this.freed.get(pid);
    if (!list) {
      if (this.freed.size >= 1024) this.freed.clear();
      list = [];
      this.freed.set(pid, list);
    }
    const i = list.indexOf(fd);
    if (i >= 0) list.splice(i, 1);
    list.push(fd);
    if (list.length > 32) list.shift();
  }

  /** Read the freed descriptors of recent callers, lowest first (the kernel hands out the lowest free one). */
  private probeFreed(inode: number, allowed: ReadonlySet<number> | undefined): number | null {
    const want = `socket:[${inode}]`;
    let probes = 0;
    for (const pid of this.recent) {
      const list = this.freed.get(pid);
      if (!list || list.length === 0 || (allowed && !allowed.has(pid))) continue;
      const order = [...list].sort((a, b) => a - b);
      for (const fd of order) {
        if (++probes > 16) return null;
        this.stats.probes++;
        let link: string;
        try {
          link = readlinkSync(`${this.root}/${pid}/fd/${fd}`);
        } catch {
          continue;
        }
        // Whatever socket holds it now, the descriptor is in use again: learn that socket (likely another new
        // connection of this client, about to be attributed) and stop probing it.
        list.splice(list.indexOf(fd), 1);
        const m = SOCKET_LINK.exec(link);
        if (m) this.learn(Number(m[1]), pid, fd);
        if (link === want) return pid;
      }
    }
    return null;
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
        if (t !== pid) {
          for (const [ino, p] of this.known) if (p === pid) this.known.set(ino, t);
          const list = this.freed.get(pid);
          if (list) {
            this.freed.delete(pid);
            this.freed.set(t, list);
          }
        }
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
   * Whether process `pid` still holds socket `inode`: one readlink of the descriptor it was found on, else a walk of
   * its descriptors (it may have moved the socket with dup2()).
   */
  holds(pid: number, inode: number): boolean {
    const fd = this.fdOf.get(inode);
    if (fd !== undefined && this.known.get(inode) === pid) {
      try {
        if (readlinkSync(`${this.root}/${pid}/fd/${fd}`) === `socket:[${inode}]`) return true;
      } catch {
        // Closed, or the process is gone: walk below.
      }
    }
    this.known.delete(inode);
    this.fdOf.delete(inode);
    return this.scan(pid, inode) && this.known.get(inode) === pid;
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
    const hinted = this.probeFreed(inode, allowed);
    if (hinted !== null) return this.remember(hinted);
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
