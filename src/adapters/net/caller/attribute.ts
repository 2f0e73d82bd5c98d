/**
 * Caller attribution: which process, user, network namespace and container holds the other end of a connection.
 * Same namespace: an exact sock_diag lookup of the client's socket (its remote is the metadata address the client
 * dialled, or our own address when it dialled us directly), then its inode → pid. Another namespace (a container
 * redirected in PREROUTING): /proc/<pid>/net/tcp of one process per foreign namespace. Falls back to reading
 * /proc/net/tcp when the helper is unavailable.
 */
import { readFile } from 'node:fs/promises';
import { isIPv4 } from 'node:net';
import type { CallerIdentity } from '../../../core/policy/types.ts';
import { ExeHashes, netnsOf, type ProcessFacts, ProcessFactsCache, UserNames } from '../../proc/identity.ts';
import { findRow } from './proc-net-tcp.ts';
import { ProcessIndex } from './process-index.ts';
import { type SockDiag, type SocketOwner, startSockDiag } from './sockdiag.ts';

export interface ConnectionEnds {
  peerIp: string;
  peerPort: number;
  localIp: string;
  localPort: number;
  /** The address the client dialled before the redirect (the listener's upstream), when known. */
  originalDst?: { ip: string; port: number };
}

export interface AttributorOptions {
  procRoot?: string;
  /** python3 for the sock_diag helper; false to use /proc/net/tcp only. */
  python?: string | false;
  hashExe?: boolean;
  nowMs?: () => number;
  /** Told when the fast path is lost. */
  warn?: (message: string) => void;
}

/** ::ffff:127.0.0.1 → 127.0.0.1 (a v4 client of a dual-stack listener owns an AF_INET socket). */
export function unmapV4(ip: string): string {
  return ip.startsWith('::ffff:') && isIPv4(ip.slice(7)) ? ip.slice(7) : ip;
}

function connectionKey(c: ConnectionEnds): string {
  return `${c.peerIp} ${c.peerPort} ${c.localPort}`;
}

/** A client socket and the process found holding it. */
interface HeldSocket {
  inode: number;
  pid: number;
  /** The socket's owner uid, as the kernel reported it. */
  uid: number;
  /** The namespace the socket was found in. */
  netns: number | undefined;
}

export class Attributor {
  readonly ownNetns: number | undefined;
  private diag: SockDiag | undefined;
  private readonly root: string;
  private readonly index: ProcessIndex;
  private readonly facts: ProcessFactsCache;
  private readonly hashes = new ExeHashes();
  private readonly identities = new WeakMap<ProcessFacts, CallerIdentity>();
  /** The client's socket and its holder per attributed connection (peer address and our port), until release(). */
  private readonly held = new Map<string, HeldSocket>();
  private readonly hashExe: boolean;
  private readonly now: () => number;
  private readonly warn: (m: string) => void;

  private constructor(opts: AttributorOptions, diag: SockDiag | undefined) {
    this.root = opts.procRoot ?? '/proc';
    this.diag = diag;
    this.hashExe = opts.hashExe ?? false;
    this.now = opts.nowMs ?? Date.now;
    this.warn = opts.warn ?? (() => {});
    this.ownNetns = netnsOf(`${this.root}/self`);
    this.facts = new ProcessFactsCache(new UserNames(), this.root);
    this.index = new ProcessIndex({
      procRoot: this.root,
      last: () => new Set([process.pid, ...(this.diag?.pid !== undefined ? [this.diag.pid] : [])]),
    });
  }

  static async create(opts: AttributorOptions = {}): Promise<Attributor> {
    let diag: SockDiag | undefined;
    if (opts.python !== false) {
      try {
        diag = await startSockDiag(opts.python ?? 'python3');
      } catch (e) {
        opts.warn?.(
          `sock_diag helper unavailable (${(e as Error).message}); attributing through /proc/net/tcp, which costs milliseconds per connection`,
        );
      }
    }
    return new Attributor(opts, diag);
  }

  /** The sock_diag helper's pid, while it runs. */
  get helperPid(): number | undefined {
    return this.diag?.pid;
  }

  get backend(): 'sock_diag' | 'procfs' {
    return this.diag ? 'sock_diag' : 'procfs';
  }

  close(): void {
    this.facts.close();
    this.diag?.close();
    this.diag = undefined;
  }

  /**
   * The client's socket in our namespace. Candidates are tried in order (the first found wins) in one round trip
   * to the helper: our own address first (a client that dialled the proxy directly), then the endpoint the client dialled
   * before the redirect. That order matters on loopback, where the proxy's own upstream connection may share the
   * client's source port and so match the second tuple.
   */
  private async ownSocket(
    fam: 4 | 6,
    peer: string,
    port: number,
    dsts: Array<{ ip: string; port: number }>,
  ): Promise<SocketOwner | null> {
    const diag = this.diag;
    if (diag) {
      try {
        return await diag.lookupFirst(fam, peer, port, dsts);
      } catch (e) {
        this.warn(`sock_diag helper failed (${(e as Error).message}); falling back to /proc/net/tcp`);
        diag.close();
        this.diag = undefined;
      }
    }
    const table = await readFile(`${this.root}/net/tcp${fam === 6 ? '6' : ''}`, 'utf8');
    for (const d of dsts) {
      const row = findRow(table, peer, port, [d]);
      if (row) return row;
    }
    return null;
  }

  /** Search the other network namespaces for the socket bound to peer:port. */
  private async foreignSocket(
    fam: 4 | 6,
    peer: string,
    port: number,
  ): Promise<{ owner: SocketOwner; pids: number[]; netns: number } | null> {
    const groups = new Map<number, number[]>();
    for (const pid of this.index.pids()) {
      const ns = netnsOf(`${this.root}/${pid}`);
      if (ns === undefined || ns === this.ownNetns) continue;
      const g = groups.get(ns);
      if (g) g.push(pid);
      else groups.set(ns, [pid]);
    }
    for (const [netns, pids] of groups) {
      for (const rep of pids.slice(0, 3)) {
        let table: string;
        try {
          table = await readFile(`${this.root}/${rep}/net/tcp${fam === 6 ? '6' : ''}`, 'utf8');
        } catch {
          continue;
        }
        const row = findRow(table, peer, port);
        if (row) return { owner: row, pids, netns };
        break;
      }
    }
    return null;
  }

  private identify(
    pid: number | null,
    owner: SocketOwner,
    fallbackNetns?: number,
  ): Promise<CallerIdentity> | CallerIdentity {
    const otherNs = (ns: number | undefined) => ns !== undefined && this.ownNetns !== undefined && ns !== this.ownNetns;
    if (pid === null) {
      return {
        known: false,
        reason: 'socket owner not readable (the proxy needs CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH)',
        uid: owner.uid,
        ...(fallbackNetns !== undefined ? { netns: fallbackNetns } : {}),
        otherNamespace: otherNs(fallbackNetns),
      };
    }
    const f = this.facts.get(pid, this.now());
    if (!f)
      return {
        known: false,
        reason: 'process exited before it could be read',
        uid: owner.uid,
        otherNamespace: otherNs(fallbackNetns),
      };
    // One identity object per process facts (while they hold): every connection of a long-lived client then shares
    // it, and so do the parts of its records built from it; a recheck that finds the same object knows nothing
    // changed.
    const cacheable =
      (f.netns !== undefined || fallbackNetns === this.ownNetns) && (f.uid !== undefined || owner.uid === undefined);
    const cached = cacheable ? this.identities.get(f) : undefined;
    if (cached) return cached;
    const id: CallerIdentity = {
      ...f,
      uid: f.uid ?? owner.uid,
      known: true,
      otherNamespace: otherNs(f.netns ?? fallbackNetns),
    };
    if (!this.hashExe) {
      if (cacheable) this.identities.set(f, id);
      return id;
    }
    return this.hashes.hash(pid, this.root).then((h) => {
      const hashed = h ? { ...id, exeSha256: h } : id;
      if (cacheable) this.identities.set(f, hashed);
      return hashed;
    });
  }

  /** The connection has ended: its client's descriptor is the likeliest home of that client's next socket. */
  release(c: ConnectionEnds): void {
    const key = connectionKey(c);
    const held = this.held.get(key);
    if (held === undefined) return;
    this.held.delete(key);
    this.index.released(held.inode);
  }

  private hold(c: ConnectionEnds, h: HeldSocket): void {
    if (this.held.size >= 100_000) this.held.clear();
    this.held.set(connectionKey(c), h);
  }

  /**
   * The caller of a connection attributed earlier, as it is now (every request of a keep-alive connection): the
   * process found holding the socket must still hold it (one readlink), and its facts are re-checked against its
   * start time, effective uid, executable and command line (ProcessFactsCache). A process that changed user or ran
   * another program is judged as what it is now; a socket whose holder let go (it exited, leaving a forked child or
   * a process it passed the socket to) is looked up again. Unchanged, `previous` itself comes back, synchronously.
   * An unknown caller stays unknown: nothing was found holding its socket to re-check.
   */
  recheck(c: ConnectionEnds, previous: CallerIdentity): CallerIdentity | Promise<CallerIdentity> {
    const h = this.held.get(connectionKey(c));
    if (!h || !previous.known) return previous;
    try {
      if (!this.index.holds(h.pid, h.inode)) {
        const pid = this.index.findOwner(h.inode, h.uid);
        if (pid === null)
          return {
            known: false,
            reason: 'the process that opened the connection no longer holds it, and no other holder was found',
            uid: h.uid,
            otherNamespace: previous.otherNamespace,
          };
        h.pid = pid;
      }
      return this.identify(h.pid, h, h.netns);
    } catch (e) {
      return { known: false, reason: `attribution failed: ${(e as Error).message}`, otherNamespace: false };
    }
  }

  /** Attribute one connection. Never throws: failures give an unknown identity with a reason. */
  async attribute(c: ConnectionEnds): Promise<CallerIdentity> {
    try {
      const peer = unmapV4(c.peerIp);
      const fam: 4 | 6 = isIPv4(peer) ? 4 : 6;
      const local = { ip: unmapV4(c.localIp), port: c.localPort };
      const dsts = [local, c.originalDst]
        .filter((d): d is { ip: string; port: number } => d !== undefined && isIPv4(unmapV4(d.ip)) === (fam === 4))
        .map((d) => ({ ip: unmapV4(d.ip), port: d.port }));
      const own = await this.ownSocket(fam, peer, c.peerPort, dsts);
      if (own) {
        const pid = this.index.findOwner(own.inode, own.uid);
        if (pid !== null) this.hold(c, { inode: own.inode, pid, uid: own.uid, netns: this.ownNetns });
        // No holder found: either the client already closed its end, or we may not read its fds. Say which.
        // (An orphaned socket, closed by its process but not yet gone, has inode 0.)
        if (
          pid === null &&
          (own.inode === 0 || (await this.ownSocket(fam, peer, c.peerPort, dsts))?.inode !== own.inode)
        ) {
          return {
            known: false,
            reason: 'the client closed its connection before it could be attributed',
            uid: own.uid,
            otherNamespace: false,
          };
        }
        return await this.identify(pid, own, this.ownNetns);
      }
      const foreign = await this.foreignSocket(fam, peer, c.peerPort);
      if (foreign) {
        const pid = this.index.findOwner(foreign.owner.inode, foreign.owner.uid, foreign.pids);
        if (pid !== null)
          this.hold(c, { inode: foreign.owner.inode, pid, uid: foreign.owner.uid, netns: foreign.netns });
        return await this.identify(pid, foreign.owner, foreign.netns);
      }
      return { known: false, reason: 'no local socket matches the peer address (another host?)', otherNamespace: true };
    } catch (e) {
      return { known: false, reason: `attribution failed: ${(e as Error).message}`, otherNamespace: false };
    }
  }
}
