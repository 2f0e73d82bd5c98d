import { readdir, readFile, readlink } from 'node:fs/promises';
import { parseProcNetTcp } from '../../../core/parse/host-proc-net.ts';
import { nsInode } from '../../proc/identity.ts';
import type { HostSensor, SensorEvent, SensorLog } from '../host/sensor-event.ts';
import { metadataDestination } from '../host/watched.ts';

export interface ProcfsSensorOptions {
  intervalMs: number;
  procRoot?: string;
}

/**
 * The fallback: polls /proc/<pid>/net/tcp{,6} once per network namespace and finds the owner of each socket to a
 * metadata address through /proc/<pid>/fd. It sees only sockets that are open when it looks: a single curl lasts a
 * few milliseconds and is usually missed. Needs no BPF and no audit; without root it sees only its own user's
 * processes' sockets owners.
 */
export class ProcfsSensor implements HostSensor {
  readonly name = 'procfs' as const;
  private readonly o: ProcfsSensorOptions;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private reported = new Set<number>();
  private emit: (ev: SensorEvent) => void = () => {};
  private readonly isMetadata = metadataDestination();
  private readonly counters = { polls: 0, namespaces: 0, events: 0, poll_ms: 0 };

  constructor(o: ProcfsSensorOptions) {
    this.o = o;
  }

  stats(): Record<string, number> {
    return { ...this.counters };
  }

  async start(emit: (ev: SensorEvent) => void, log: SensorLog): Promise<void> {
    this.emit = emit;
    log.warn(
      { sensor: 'procfs', interval_ms: this.o.intervalMs },
      'procfs polling: short connections can be missed, and no request is seen',
    );
    await this.poll();
    this.timer = setInterval(() => {
      this.running ??= this.poll().finally(() => {
        this.running = undefined;
      });
    }, this.o.intervalMs);
  }

  private async pids(): Promise<number[]> {
    const root = this.o.procRoot ?? '/proc';
    return (await readdir(root)).filter((n) => /^\d+$/.test(n)).map(Number);
  }

  async poll(): Promise<void> {
    const t0 = performance.now();
    const root = this.o.procRoot ?? '/proc';
    const pids = await this.pids();
    // One reader per network namespace: /proc/<pid>/net/tcp shows that pid's namespace.
    const byNs = new Map<number, number>();
    for (const pid of pids) {
      try {
        const ns = nsInode(await readlink(`${root}/${pid}/ns/net`));
        if (ns !== undefined && !byNs.has(ns)) byNs.set(ns, pid);
      } catch {}
    }
    this.counters.namespaces = byNs.size;
    const wanted = new Map<number, { ns: number; ip: string; port: number; uid: number }>();
    for (const [ns, pid] of byNs) {
      for (const file of ['tcp', 'tcp6']) {
        let text: string;
        try {
          text = await readFile(`${root}/${pid}/net/${file}`, 'utf8');
        } catch {
          continue;
        }
        for (const row of parseProcNetTcp(text)) {
          if (row.inode === 0 || (row.state !== 1 && row.state !== 2)) continue;
          if (!this.isMetadata(row.remote.ip, row.remote.port) || this.reported.has(row.inode)) continue;
          wanted.set(row.inode, { ns, ip: row.remote.ip, port: row.remote.port, uid: row.uid });
        }
      }
    }
    if (wanted.size > 0) {
      for (const pid of pids) {
        let fds: string[];
        try {
          fds = await readdir(`${root}/${pid}/fd`);
        } catch {
          continue;
        }
        for (const fd of fds) {
          let link: string;
          try {
            link = await readlink(`${root}/${pid}/fd/${fd}`);
          } catch {
            continue;
          }
          const m = /^socket:\[(\d+)\]$/.exec(link);
          const inode = m?.[1] ? Number(m[1]) : 0;
          const w = wanted.get(inode);
          if (!w) continue;
          wanted.delete(inode);
          this.reported.add(inode);
          this.counters.events++;
          this.emit({
            sensor: 'procfs',
            timeMs: Date.now(),
            pid,
            uid: w.uid,
            netns: w.ns,
            destination: { ip: w.ip, port: w.port },
          });
        }
        if (wanted.size === 0) break;
      }
    }
    if (this.reported.size > 100_000) this.reported = new Set([...this.reported].slice(-50_000));
    this.counters.polls++;
    this.counters.poll_ms = Math.round(performance.now() - t0);
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.running;
  }
}
