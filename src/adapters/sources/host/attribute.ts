import type { ConnectEvent, ProcessInfo } from '../../../core/model/event.ts';
import { type ContainerIdentity, parseCgroup } from '../../../core/parse/host-cgroup.ts';
import { maskArgv } from '../../../core/secrets/argv.ts';
import { type ProcSnapshot, readProc, UserNames } from '../../proc/identity.ts';
import { CgroupPaths } from './cgroup-paths.ts';
import type { PidTable } from './pid-table.ts';
import type { SensorEvent } from './sensor-event.ts';

/** A connect event with what the rules need beyond the output contract. */
export interface AttributedEvent {
  event: ConnectEvent;
  timeMs: number;
  container?: ContainerIdentity;
}

/**
 * Attribution: pid, ppid and three ancestors, exe, argv (masked), uid and user, netns, container. The sensor's own
 * facts win (they were true at the time of the call); the exec table fills what short-lived processes no longer
 * show; /proc fills the rest for processes still alive.
 */
export class Attributor {
  private readonly users: UserNames;
  private readonly cgroups: CgroupPaths;
  /** netns → container, learned from live processes; a short-lived client in the same netns inherits it. */
  private readonly netnsContainer = new Map<number, ContainerIdentity>();

  private readonly pids: PidTable;
  constructor(pids: PidTable, opts: { procRoot?: string; users?: UserNames; cgroups?: CgroupPaths } = {}) {
    this.pids = pids;
    this.procRoot = opts.procRoot ?? '/proc';
    this.users = opts.users ?? new UserNames();
    this.cgroups = opts.cgroups ?? new CgroupPaths();
  }
  private readonly procRoot: string;

  /**
   * Recent attributions by process: a keep-alive client sends many requests, and reading /proc for each costs
   * about twenty file reads. Keyed with the exec time so a reused pid is never given the old identity.
   */
  private readonly recent = new Map<string, { atMs: number; process: ProcessInfo; container?: ContainerIdentity }>();

  async attribute(ev: SensorEvent & { cgroupId?: number }): Promise<AttributedEvent> {
    const exec = this.pids.get(ev.pid);
    const key = `${ev.pid}:${exec?.timeMs ?? ''}:${ev.uid ?? ''}:${ev.netns ?? ''}:${ev.exe ?? ''}`;
    const now = Date.now();
    let hit = this.recent.get(key);
    if (!hit || now - hit.atMs > 5000) {
      hit = { atMs: now, ...(await this.identify(ev)) };
      this.recent.delete(key);
      this.recent.set(key, hit);
      if (this.recent.size > 4096) this.recent.delete(this.recent.keys().next().value as string);
    }
    const event: ConnectEvent = {
      kind: 'connect',
      origin: { sensor: ev.sensor },
      time: new Date(ev.timeMs).toISOString(),
      process: hit.process,
      destination: ev.destination,
      ...(ev.http
        ? {
            http: {
              method: ev.http.method,
              path: ev.http.path,
              token: ev.http.token,
              headerNames: ev.http.headerNames,
            },
          }
        : {}),
      ...(ev.capture ? { capture: ev.capture } : {}),
      ...(ev.preExisting ? { preExisting: true } : {}),
      ...(ev.openedBy !== undefined ? { openedBy: ev.openedBy } : {}),
    };
    return { event, timeMs: ev.timeMs, ...(hit.container ? { container: hit.container } : {}) };
  }

  private async identify(
    ev: SensorEvent & { cgroupId?: number },
  ): Promise<{ process: ProcessInfo; container?: ContainerIdentity }> {
    const snap: ProcSnapshot = await readProc(ev.pid, this.procRoot);
    const exec = this.pids.get(ev.pid);
    const p: ProcessInfo = { pid: ev.pid };
    const ppid = ev.ppid ?? snap.ppid ?? exec?.ppid;
    if (ppid !== undefined) p.ppid = ppid;
    // /proc's exe is the real binary (python3 for a script); exec's filename is the fallback once the process is gone.
    const exe = snap.exe ?? exec?.exe ?? ev.exe;
    if (exe) p.exe = exe;
    const argv = ev.argv ?? exec?.argv ?? snap.argv;
    if (argv?.length) p.argv = maskArgv(argv);
    const uid = ev.uid ?? snap.uid ?? exec?.uid;
    if (uid !== undefined) p.uid = uid;
    const user = await this.users.name(uid);
    if (user) p.user = user;
    const netns = ev.netns ?? snap.netns;
    if (netns !== undefined) p.netns = netns;

    let container = snap.container;
    if (!container && ev.cgroupId !== undefined) {
      const path = await this.cgroups.path(ev.cgroupId);
      if (path) container = parseCgroup(`0::${path}`);
    }
    if (!container && netns !== undefined) container = this.netnsContainer.get(netns);
    if (!container && ppid !== undefined && ppid > 1) container = (await readProc(ppid, this.procRoot)).container;
    if (container && netns !== undefined) {
      this.netnsContainer.set(netns, container);
      if (this.netnsContainer.size > 4096)
        this.netnsContainer.delete(this.netnsContainer.keys().next().value as number);
    }
    if (container) {
      p.container = container.id;
      p.containerRuntime = container.runtime;
    }
    p.ancestors = await this.ancestors(ppid, 3);
    return { process: p, ...(container ? { container } : {}) };
  }

  private async ancestors(ppid: number | undefined, levels: number): Promise<Array<{ pid: number; exe?: string }>> {
    const out: Array<{ pid: number; exe?: string }> = [];
    let cur = ppid;
    for (let i = 0; i < levels && cur !== undefined && cur > 0; i++) {
      const exec = this.pids.get(cur);
      const snap = await readProc(cur, this.procRoot);
      const exe = snap.exe ?? exec?.exe;
      out.push({ pid: cur, ...(exe ? { exe } : {}) });
      cur = snap.ppid ?? exec?.ppid;
      if (cur === 0) break;
    }
    return out;
  }
}
