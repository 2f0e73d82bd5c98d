/** Exact socket lookups through the kernel's sock_diag interface, via a small long-lived helper process. */
import { type ChildProcessByStdio, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { SOCKDIAG_SCRIPT } from './sockdiag-script.ts';

export interface SocketOwner {
  uid: number;
  inode: number;
}

/** One TCP socket from a dump of the helper's network namespace. */
export interface DiagSocket {
  src: string;
  sport: number;
  dst: string;
  dport: number;
  uid: number;
  inode: number;
}

export interface SockDiag {
  /** Every TCP socket of a family that is established, connecting or half-closed, in the helper's namespace. */
  dump(family: 4 | 6): Promise<DiagSocket[]>;
  /** The socket (src:sport → dst:dport) in the helper's network namespace, null when none; throws when unavailable. */
  lookup(family: 4 | 6, src: string, sport: number, dst: string, dport: number): Promise<SocketOwner | null>;
  /** The same for several destinations in one round trip: the first that matches. */
  lookupFirst(
    family: 4 | 6,
    src: string,
    sport: number,
    dsts: ReadonlyArray<{ ip: string; port: number }>,
  ): Promise<SocketOwner | null>;
  readonly pid: number | undefined;
  close(): void;
}

/**
 * Start the helper and wait until it answers a ping. Rejects when python3 is missing or netlink is refused, so
 * the caller can fall back to /proc/net/tcp.
 */
export async function startSockDiag(
  python = 'python3',
  timeoutMs = 5000,
  opts: { netnsPath?: string } = {},
): Promise<SockDiag> {
  const argv = ['-I', '-S', '-c', SOCKDIAG_SCRIPT];
  // Another network namespace (a container's): the helper enters it before it opens its netlink socket.
  const [cmd, args] = opts.netnsPath ? ['nsenter', [`--net=${opts.netnsPath}`, '--', python, ...argv]] : [python, argv];
  const child: ChildProcessByStdio<Writable, Readable, null> = spawn(cmd, args, {
    stdio: ['pipe', 'pipe', 'ignore'],
  });
  const pending = new Map<number, (line: string | Error) => void>();
  let seq = 0;
  let dead: Error | undefined;
  // Once started, the helper keeps the event loop alive only while a lookup is pending.
  let idle: (() => void) | undefined;
  let busy: (() => void) | undefined;
  const fail = (e: Error) => {
    dead ??= e;
    for (const r of pending.values()) r(dead);
    pending.clear();
  };
  child.on('error', fail);
  child.on('exit', (code, sig) => fail(new Error(`sock_diag helper exited (${code ?? sig})`)));
  child.stdin.on('error', fail);
  createInterface({ input: child.stdout }).on('line', (line) => {
    const sp = line.indexOf(' ');
    const id = Number(line.slice(0, sp));
    const r = pending.get(id);
    if (r) {
      pending.delete(id);
      if (pending.size === 0 && idle) idle();
      r(line.slice(sp + 1));
    }
  });
  // Queries asked during one turn of the event loop go to the helper in one write (and come back in one).
  let batch = '';
  let scheduled = false;
  const flush = () => {
    scheduled = false;
    const text = batch;
    batch = '';
    if (text && !dead) child.stdin.write(text);
  };
  const ask = (payload: string): Promise<string> =>
    new Promise((resolve, reject) => {
      if (dead) {
        reject(dead);
        return;
      }
      seq = (seq + 1) % 0x7fffffff;
      const id = seq;
      if (pending.size === 0 && busy) busy();
      pending.set(id, (v) => (v instanceof Error ? reject(v) : resolve(v)));
      batch += `${id} ${payload}\n`;
      if (!scheduled) {
        scheduled = true;
        setImmediate(flush);
      }
    });

  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('sock_diag helper did not answer')), timeoutMs);
    ask('ping').then(
      (v) => {
        clearTimeout(t);
        if (v === 'pong') resolve();
        else reject(new Error(`sock_diag helper answered "${v}"`));
      },
      (e: unknown) => {
        clearTimeout(t);
        reject(e);
      },
    );
  });
  // A probe that must fail with ENOENT, not EPERM or EINVAL: proves netlink works here.
  const probe = await ask('4 127.0.0.1 1 127.0.0.1 1');
  if (!probe.startsWith('- 2')) {
    child.kill();
    throw new Error(`sock_diag unusable here (${probe})`);
  }
  const out = child.stdout as Readable & { ref?: () => void; unref?: () => void };
  const inp = child.stdin as Writable & { unref?: () => void };
  child.unref();
  inp.unref?.();
  idle = () => out.unref?.();
  busy = () => out.ref?.();
  idle();
  const diag: SockDiag = {
    pid: child.pid,
    async dump(family) {
      const r = await ask(`dump ${family}`);
      if (!r.startsWith('+')) throw new Error(`sock_diag dump failed (errno ${r.slice(2)})`);
      const out: DiagSocket[] = [];
      for (const row of r.slice(2).split('|')) {
        const [src, sport, dst, dport, uid, inode] = row.split(' ');
        if (!src || !dst) continue;
        out.push({ src, sport: Number(sport), dst, dport: Number(dport), uid: Number(uid), inode: Number(inode) });
      }
      return out;
    },
    lookup(family, src, sport, dst, dport) {
      return diag.lookupFirst(family, src, sport, [{ ip: dst, port: dport }]);
    },
    async lookupFirst(family, src, sport, dsts) {
      if (dsts.length === 0) return null;
      const r = await ask(`${family} ${src} ${sport} ${dsts.map((d) => `${d.ip} ${d.port}`).join(' ')}`);
      if (r.startsWith('- ')) {
        if (r === '- 2') return null;
        throw new Error(`sock_diag lookup failed (errno ${r.slice(2)})`);
      }
      const [uid, inode] = r.split(' ').map(Number) as [number, number];
      return { uid, inode };
    },
    close() {
      child.stdin.end();
      child.kill();
    },
  };
  return diag;
}
