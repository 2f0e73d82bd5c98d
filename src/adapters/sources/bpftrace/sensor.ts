import { type ChildProcess, spawn } from 'node:child_process';
import { access, constants } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { ImdsguardError } from '../../../core/errors.ts';
import { parseRequestHead, unescapeBpftraceBuf } from '../../../core/parse/imds-request-head.ts';
import { dieWithParent } from '../../proc/die-with-parent.ts';
import type { OpenConnection } from '../host/open-connections.ts';
import type { PidTable } from '../host/pid-table.ts';
import type { HostSensor, SensorEvent, SensorLog } from '../host/sensor-event.ts';
import { which } from '../host/which.ts';
import { type BtOpen, type BtRecord, parseBtLine } from './lines.ts';
import { bpftraceProgram, type WatchedAddress } from './program.ts';
import { ensureTracefs } from './tracefs.ts';

export interface BpftraceSensorOptions {
  pids: PidTable;
  /** The bpftrace command (a path, or a command line such as a recorded-output replayer for tests). */
  bpftrace?: string | string[];
  addresses?: WatchedAddress[];
  /** Check root and mount tracefs before starting (default true; off for replayed output). */
  preflight?: boolean;
  /** Per-CPU buffers deliver out of order; hold records this long and process them by kernel time. */
  reorderMs?: number;
  /** A connection with no request bytes after this long is reported at connection level. */
  requestWaitMs?: number;
  maxConnections?: number;
  /** Restart backoff bounds. */
  backoffMs?: { min: number; max: number };
  /**
   * Lists the metadata connections already open, run each time bpftrace has attached (start and every restart):
   * their earlier traffic could not be seen, so they are reported as pre-existing.
   */
  openConnections?: () => Promise<{ connections: OpenConnection[]; errors: string[] }>;
  /** Start bpftrace so that it dies with this process even when this one is killed with SIGKILL (default true). */
  dieWithAgent?: boolean;
}

/** The longest request head gathered across send calls; a longer one is reported as partial. */
export const HEAD_MAX_BYTES = 4096;

/** One send call being put together from its W records. */
interface Call {
  id: string;
  pid: number;
  total: number;
  covered: number;
  timeMs: number;
}

/** A watched socket, from SYN_SENT (or its first write, when it was open before bpftrace attached) to TCP_CLOSE. */
interface Conn {
  rec: BtOpen;
  timeMs: number;
  requests: number;
  reported: boolean;
  /** Request-head bytes gathered so far, the writer and when it started. */
  head: string;
  headPid: number;
  headMs: number;
  /** Skipping the rest of a head that was already reported as cut. */
  skip: boolean;
  call?: Call | undefined;
  /** A path whose payload tracepoints cannot read carried bytes (sendfile, splice, io_uring). */
  outOfReach?: string;
  lastMs: number;
}

/** A connection the probes saw open after the current attach (its SYN_SENT), and when it closed. */
interface OpenedSinceAttach {
  sk: string;
  ns: number;
  pid: number;
  netns: number;
  ip: string;
  port: number;
  closedNs?: number;
}

/** Events carry the cgroup id so attribution can find a container after a short-lived process is gone. */
export type BpftraceEvent = SensorEvent & { cgroupId?: number };

/**
 * The preferred sensor: bpftrace on syscall tracepoints (connect, write/sendto/sendmsg/writev, close, execve,
 * sched_process_exec), filtered in the kernel to the metadata addresses. Sees the request line and header names,
 * so IMDSv1 and IMDSv2 are told apart per process. Survives bpftrace exiting: restarts it with backoff.
 */
export class BpftraceSensor implements HostSensor {
  readonly name = 'bpftrace' as const;
  private readonly o: Required<Omit<BpftraceSensorOptions, 'addresses' | 'preflight' | 'openConnections'>> &
    Pick<BpftraceSensorOptions, 'addresses' | 'preflight' | 'openConnections'>;
  private child: ChildProcess | undefined;
  private stopping = false;
  /** The command line that runs bpftrace, resolved at start; the program goes to its stdin. */
  private command: string[] = [];
  private emit: (ev: BpftraceEvent) => void = () => {};
  private log: SensorLog | undefined;
  private buffer: BtRecord[] = [];
  private readonly conns = new Map<string, Conn>();
  private readonly pendingArgv = new Map<number, string[]>();
  private timer: NodeJS.Timeout | undefined;
  private restartTimer: NodeJS.Timeout | undefined;
  private backoff: number;
  /** Kernel monotonic ns → epoch ms. bpftrace's nsecs and Node's hrtime are both CLOCK_MONOTONIC. */
  private readonly offsetMs = Date.now() - Number(process.hrtime.bigint()) / 1e6;
  private readonly counters = {
    lines: 0,
    records: 0,
    events: 0,
    lost: 0,
    restarts: 0,
    unparsed: 0,
    orphan_writes: 0,
    conns_evicted: 0,
    partial: 0,
    not_http: 0,
    pre_existing: 0,
  };
  mountedTracefs = false;
  /**
   * Connections the probes saw open since the current attach, kept while its listing of open connections is being
   * matched: the listing runs after the attach, so it also finds connections opened meanwhile, which are not
   * pre-existing and were reported from their own records.
   */
  private openedSinceAttach: OpenedSinceAttach[] | undefined;
  /** Kernel time of the current attach (BEGIN's nsecs). */
  private attachNs = 0;

  constructor(opts: BpftraceSensorOptions) {
    this.o = {
      bpftrace: 'bpftrace',
      reorderMs: 30,
      requestWaitMs: 1000,
      maxConnections: 65_536,
      backoffMs: { min: 1000, max: 30_000 },
      dieWithAgent: true,
      ...opts,
    };
    this.backoff = this.o.backoffMs.min;
  }

  /** io_uring SEND payloads are read through kernel types from BTF; off when this kernel's BTF lacks them. */
  private uringPayload = true;

  /** The program this sensor runs (for `--print-program` and reviews). */
  program(): string {
    return bpftraceProgram(this.o.addresses, 8, { uringPayload: this.uringPayload });
  }

  stats(): Record<string, number> {
    return { ...this.counters, connections: this.conns.size, pid_table: this.o.pids.size };
  }

  async start(emit: (ev: SensorEvent) => void, log: SensorLog): Promise<void> {
    this.emit = emit;
    this.log = log;
    if (this.o.preflight !== false) {
      if (process.getuid?.() !== 0)
        throw new ImdsguardError('E_SENSOR', 'bpftrace needs root (bpftrace 0.17 refuses to run otherwise)');
      try {
        this.mountedTracefs = await ensureTracefs();
      } catch (e) {
        throw new ImdsguardError('E_SENSOR', `Cannot mount tracefs: ${(e as Error).message}`, { cause: e });
      }
    }
    if (this.mountedTracefs) log.info({ sensor: 'bpftrace' }, 'mounted tracefs at /sys/kernel/tracing');
    this.command = await this.commandLine(log);
    try {
      await this.spawnOnce(true);
    } catch (e) {
      // The io_uring payload probes name kernel-internal types; a kernel whose BTF differs refuses them. Everything
      // else is stable ABI or tracepoint fields, so run without them rather than not at all.
      if (!/io_kiocb|io_sr_msg|io_uring/.test((e as Error).message)) throw e;
      log.warn(
        { sensor: 'bpftrace', err: (e as Error).message },
        'io_uring payload probes refused by this kernel; io_uring sends are reported without their payload',
      );
      this.uringPayload = false;
      await this.spawnOnce(true);
    }
  }

  /**
   * bpftrace's command line. Its probes stay attached for as long as it runs, so it must not outlive the agent: a
   * SIGKILL runs no stop(), and bpftrace would notice only at its next write into the closed pipe (never, on a quiet
   * host). It is started through the parent-death signal where the host has it; the log says when it does not.
   */
  private async commandLine(log: SensorLog): Promise<string[]> {
    const [cmd, ...pre] = Array.isArray(this.o.bpftrace) ? this.o.bpftrace : [this.o.bpftrace];
    const name = String(cmd);
    // Resolved here so that a missing binary is named as such, not as a wrapper's failure to exec it.
    const path = name.includes('/')
      ? await access(name, constants.X_OK).then(
          () => name,
          () => undefined,
        )
      : await which(name);
    if (!path) throw new ImdsguardError('E_SENSOR', `Cannot run ${name}: ENOENT`);
    if (!this.o.dieWithAgent) return [path, ...pre];
    const death = await dieWithParent();
    if (death.unavailable)
      log.warn(
        { sensor: 'bpftrace', why: death.unavailable },
        'bpftrace cannot be tied to the agent: if the agent is killed (SIGKILL, OOM), bpftrace keeps running until its next output fails',
      );
    return [...death.prefix, path, ...pre];
  }

  /** Spawn bpftrace; on the first start, resolve when probes are attached and reject if it dies first. */
  private spawnOnce(first: boolean): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const started = Date.now();
      let attached = false;
      let probes: number | undefined;
      let stderrTail = '';
      const [cmd, ...pre] = this.command;
      // The program goes through stdin ("-"): no file is left behind whatever ends the agent.
      const child = spawn(cmd as string, [...pre, '-f', 'json', '-'], {
        stdio: ['pipe', 'pipe', 'pipe'],
        // 200 is the most bpftrace 0.17 allows; without it buf()/str() stop at 64 bytes and the token header is missed.
        // A 4 MiB perf ring per CPU (default 256 KiB): a flood of keep-alive requests overflows the default.
        env: { ...process.env, BPFTRACE_STRLEN: '200', BPFTRACE_MAP_KEYS_MAX: '65536', BPFTRACE_PERF_RB_PAGES: '1024' },
      });
      this.child = child;
      // A bpftrace that exits before reading it all closes the pipe: its exit is reported below, not this.
      child.stdin?.on('error', () => undefined);
      child.stdin?.end(this.program());
      child.stderr?.setEncoding('utf8');
      child.stderr?.on('data', (d: string) => {
        stderrTail = (stderrTail + d).slice(-2000);
        for (const line of d.split('\n')) {
          // Harmless where CAP_SYS_RESOURCE is missing: BPF memory is charged to the memcg.
          if (line.trim() && !line.includes('RLIMIT_MEMLOCK'))
            this.log?.warn({ sensor: 'bpftrace', stderr: line.trim() }, 'bpftrace says');
        }
      });
      const rl = createInterface({ input: child.stdout as NodeJS.ReadableStream, crlfDelay: Number.POSITIVE_INFINITY });
      rl.on('line', (line) => {
        this.counters.lines++;
        let msg: { type?: string; data?: unknown };
        try {
          msg = JSON.parse(line) as { type?: string; data?: unknown };
        } catch {
          this.counters.unparsed++;
          return;
        }
        const ready = msg.type === 'printf' && typeof msg.data === 'string' ? /^R (\d+) ready\n$/.exec(msg.data) : null;
        if (ready) {
          attached = true;
          this.openedSinceAttach = [];
          this.attachNs = Number(ready[1]);
          this.log?.info({ sensor: 'bpftrace', probes, pid: child.pid }, 'bpftrace probes attached');
          this.reportOpenConnections();
          if (first) resolve();
        } else if (msg.type === 'printf' && typeof msg.data === 'string') this.ingest(msg.data);
        else if (msg.type === 'attached_probes') probes = (msg.data as { probes?: number })?.probes;
        else if (msg.type === 'lost_events') {
          this.counters.lost += Number((msg.data as { events?: number })?.events ?? 0);
        }
      });
      child.once('error', (e: NodeJS.ErrnoException) => {
        if (first && !attached)
          reject(new ImdsguardError('E_SENSOR', `Cannot run ${String(cmd)}: ${e.code ?? e.message}`, { cause: e }));
      });
      child.once('exit', (code, signal) => {
        this.child = undefined;
        if (this.stopping) return;
        if (first && !attached) {
          reject(
            new ImdsguardError(
              'E_SENSOR',
              `bpftrace exited before attaching (code ${code ?? signal}): ${stderrTail.trim().split('\n').slice(-3).join(' | ')}`,
            ),
          );
          return;
        }
        if (Date.now() - started > 60_000) this.backoff = this.o.backoffMs.min;
        const wait = this.backoff;
        this.backoff = Math.min(this.o.backoffMs.max, this.backoff * 2);
        this.counters.restarts++;
        this.log?.error(
          { sensor: 'bpftrace', code, signal, restart_in_ms: wait },
          `bpftrace exited (${code ?? signal}); restarting in ${wait} ms`,
        );
        this.restartTimer = setTimeout(() => {
          this.spawnOnce(false).catch((e: unknown) =>
            this.log?.error({ sensor: 'bpftrace', err: String(e) }, 'bpftrace restart failed'),
          );
        }, wait);
      });
    });
  }

  /**
   * Connections open before this attach: listed after it, so that none falls between the list and the probes. The
   * list also holds connections opened while it was taken; the probes saw those connect, so each listed connection
   * that matches one of them (same process, namespace and destination, open while the list was taken) is left out.
   * Their records may still wait in bpftrace's buffers or the reorder window: matching waits until those are read.
   */
  private reportOpenConnections(): void {
    const list = this.o.openConnections;
    if (!list) {
      this.openedSinceAttach = undefined;
      return;
    }
    const startNs = Number(process.hrtime.bigint());
    list().then(
      ({ connections, errors }) => {
        if (errors.length)
          this.log?.warn({ sensor: 'bpftrace', errors }, 'some network namespaces could not be listed');
        const endNs = Number(process.hrtime.bigint());
        const settle = setTimeout(
          () => {
            if (this.stopping) return;
            this.flush(false);
            const opened = this.openedSinceAttach ?? [];
            this.openedSinceAttach = undefined;
            let pre = 0;
            for (const c of connections) {
              const i = opened.findIndex(
                (o) =>
                  o.pid === c.pid &&
                  o.netns === c.netns &&
                  o.ip === c.destination.ip &&
                  o.port === c.destination.port &&
                  o.ns <= endNs &&
                  (o.closedNs === undefined || o.closedNs >= startNs),
              );
              if (i >= 0) opened.splice(i, 1);
              else {
                this.openConnection(c);
                pre++;
              }
            }
            this.log?.info(
              { sensor: 'bpftrace', connections: pre, opened_during_listing: connections.length - pre },
              'metadata connections open at attach',
            );
          },
          this.o.reorderMs * 4 + 100,
        );
        settle.unref();
      },
      (e: unknown) => {
        this.openedSinceAttach = undefined;
        this.log?.error({ sensor: 'bpftrace', err: String(e) }, 'cannot list open connections');
      },
    );
  }

  private openConnection(c: OpenConnection): void {
    this.counters.pre_existing++;
    this.counters.events++;
    const exec = c.pid !== undefined ? this.o.pids.get(c.pid) : undefined;
    this.emit({
      sensor: 'bpftrace',
      timeMs: Date.now(),
      // Pid 0: the socket has no owner left in /proc (its process passed it on and exited, or it is closing).
      pid: c.pid ?? 0,
      uid: c.uid,
      netns: c.netns,
      ...(exec ? { exe: exec.exe, ...(exec.argv ? { argv: exec.argv } : {}) } : {}),
      destination: c.destination,
      capture: { complete: false, gap: 'connection open before the sensor attached: earlier requests on it not seen' },
      preExisting: true,
    });
  }

  private ingest(data: string): void {
    const rec = parseBtLine(data);
    if (!rec) {
      this.counters.unparsed++;
      return;
    }
    this.counters.records++;
    this.buffer.push(rec);
    // Bounded: under a flood, process now rather than hold more.
    if (this.buffer.length > 20_000) this.flush(true);
    this.schedule();
  }

  /**
   * Wake up only while there is something to do: when the oldest waiting record has sat out the reorder window, or
   * every 100 ms while connections wait for their request. Execs anywhere on the host print records, so one burst
   * costs one wake-up, not one per 10 ms until it is old enough. With no records the sensor does not wake at all.
   */
  private schedule(): void {
    if (this.timer || this.stopping) return;
    let delay = this.conns.size > 0 ? 100 : 0;
    if (this.buffer.length > 0) {
      let oldest = Number.POSITIVE_INFINITY;
      for (const r of this.buffer) if (r.ns < oldest) oldest = r.ns;
      const ripe = Math.ceil((oldest - Number(process.hrtime.bigint())) / 1e6 + this.o.reorderMs);
      delay = Math.min(delay || 100, Math.max(5, ripe));
    }
    if (delay === 0) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.flush(false);
      this.schedule();
    }, delay);
    this.timer.unref();
  }

  private flush(all: boolean): void {
    if (this.buffer.length > 0) {
      const horizon = Number(process.hrtime.bigint()) - this.o.reorderMs * 1e6;
      // Only the records old enough are sorted and processed; the rest wait for the next tick.
      const ready: BtRecord[] = [];
      const keep: BtRecord[] = [];
      for (const r of this.buffer) {
        if (all || r.ns <= horizon) ready.push(r);
        else keep.push(r);
      }
      this.buffer = keep;
      ready.sort((a, b) => a.ns - b.ns);
      for (const r of ready) this.process(r);
    }
    this.sweep();
  }

  private toMs(ns: number): number {
    return ns / 1e6 + this.offsetMs;
  }

  private process(r: BtRecord): void {
    switch (r.k) {
      case 'A': {
        if (r.index === 0) this.pendingArgv.set(r.pid, [r.arg]);
        else this.pendingArgv.get(r.pid)?.push(r.arg);
        if (this.pendingArgv.size > 4096) this.pendingArgv.delete(this.pendingArgv.keys().next().value as number);
        return;
      }
      case 'E': {
        const argv = this.pendingArgv.get(r.pid);
        this.pendingArgv.delete(r.pid);
        this.o.pids.set({
          pid: r.pid,
          ppid: r.ppid,
          uid: r.uid,
          exe: r.filename,
          ...(argv ? { argv } : {}),
          timeMs: this.toMs(r.ns),
        });
        return;
      }
      case 'S':
      case 'P': {
        const old = this.conns.get(r.sk);
        // A socket address reused after a close we did not see: the old connection is over.
        if (old) this.finish(old);
        this.conns.delete(r.sk);
        if (r.k === 'S' && r.ns >= this.attachNs && this.openedSinceAttach && this.openedSinceAttach.length < 65_536)
          this.openedSinceAttach.push({ sk: r.sk, ns: r.ns, pid: r.pid, netns: r.netns, ip: r.addr, port: r.port });
        const t = this.toMs(r.ns);
        this.conns.set(r.sk, {
          rec: r,
          timeMs: t,
          requests: 0,
          reported: false,
          head: '',
          headPid: r.pid,
          headMs: t,
          skip: false,
          lastMs: t,
        });
        while (this.conns.size > this.o.maxConnections) {
          const first = this.conns.values().next().value as Conn;
          this.finish(first);
          this.conns.delete(first.rec.sk);
          this.counters.conns_evicted++;
        }
        return;
      }
      case 'W': {
        const c = this.conns.get(r.sk);
        if (!c) {
          this.counters.orphan_writes++;
          return;
        }
        const t = this.toMs(r.ns);
        c.lastMs = t;
        if (c.call?.id !== r.call) {
          this.endCall(c);
          c.call = { id: r.call, pid: r.pid, total: r.total, covered: 0, timeMs: t };
        }
        const call = c.call as Call;
        // A chunk after a missing one (a lost record) cannot be placed: the call ends as cut.
        if (r.off !== call.covered) return;
        call.covered += r.n;
        this.feed(c, unescapeBpftraceBuf(r.chunk, r.n), r.pid, t);
        return;
      }
      case 'F': {
        const c = this.conns.get(r.sk);
        if (c) c.outOfReach = r.kind;
        return;
      }
      case 'D': {
        for (const o of this.openedSinceAttach ?? []) if (o.sk === r.sk && o.closedNs === undefined) o.closedNs = r.ns;
        const c = this.conns.get(r.sk);
        if (!c) return;
        this.conns.delete(r.sk);
        this.finish(c);
        return;
      }
    }
  }

  /** The call's last chunk was seen: bytes it sent beyond what was printed cut a head in progress. */
  private endCall(c: Conn): void {
    const call = c.call;
    if (!call) return;
    c.call = undefined;
    if (call.covered < call.total && c.head) {
      this.partial(c, `request head longer than the bytes read from one send call (${call.covered} of ${call.total})`);
      c.skip = true;
    }
  }

  /** Add sent bytes to the socket's request stream; report each request head as soon as it ends. */
  private feed(c: Conn, bytes: string, pid: number, timeMs: number): void {
    let s = bytes;
    while (s.length > 0) {
      if (c.skip) {
        const end = s.indexOf('\r\n\r\n');
        if (end < 0) return;
        c.skip = false;
        s = s.slice(end + 4);
        continue;
      }
      if (!c.head) {
        // Bytes that cannot begin a request line are a body (or a continuation we did not see begin).
        if (!/^[A-Z]/.test(s)) return;
        c.headPid = pid;
        c.headMs = timeMs;
      }
      // The head end may straddle two writes: search from just before the new bytes.
      const from = Math.max(0, c.head.length - 3);
      c.head += s;
      s = '';
      const end = c.head.indexOf('\r\n\r\n', from);
      if (end >= 0) {
        s = c.head.slice(end + 4);
        const text = c.head.slice(0, end + 4);
        c.head = '';
        this.request(c, text, undefined);
      } else if (c.head.length > HEAD_MAX_BYTES) {
        this.partial(c, `request head longer than ${HEAD_MAX_BYTES} bytes`);
        c.skip = true;
      }
    }
  }

  /** Report the head gathered so far as cut, for a reason. */
  private partial(c: Conn, gap: string): void {
    const text = c.head;
    c.head = '';
    this.request(c, text, gap);
  }

  private request(c: Conn, text: string, gap: string | undefined): void {
    const head = parseRequestHead(text);
    if (!head) {
      this.counters.not_http++;
      return;
    }
    c.requests++;
    c.reported = true;
    if (gap) this.counters.partial++;
    this.send(c, c.headMs, c.headPid, head, gap ? { complete: false, gap } : { complete: true });
  }

  /** The connection is over (closed, evicted or the sensor stops): whatever was pending is reported. */
  private finish(c: Conn): void {
    this.endCall(c);
    if (c.head) this.partial(c, 'request head incomplete when the connection closed');
    if (!c.reported) this.connectionOnly(c);
  }

  private connectionOnly(c: Conn): void {
    c.reported = true;
    this.counters.partial++;
    const gap = c.outOfReach
      ? `request sent by ${c.outOfReach}, whose payload tracepoints cannot read`
      : c.rec.via === 'u'
        ? 'no request bytes seen (io_uring operation whose payload tracepoints cannot read)'
        : 'no request bytes seen';
    this.send(c, c.timeMs, c.rec.pid, undefined, { complete: false, gap });
  }

  /**
   * Heads that stopped growing, and connections that never showed request bytes (TLS, a path whose payload is out
   * of reach), are reported once requestWaitMs has passed.
   */
  private sweep(): void {
    const now = Date.now();
    for (const c of this.conns.values()) {
      this.endCallIfStale(c, now);
      if (c.head && now - c.lastMs >= this.o.requestWaitMs)
        this.partial(c, `request head incomplete after ${this.o.requestWaitMs} ms`);
      if (!c.reported && now - c.timeMs >= this.o.requestWaitMs) this.connectionOnly(c);
    }
  }

  /** Every chunk of a call is printed by one probe run, so a call older than the reorder window is complete. */
  private endCallIfStale(c: Conn, now: number): void {
    if (c.call && now - c.call.timeMs > this.o.reorderMs * 2) this.endCall(c);
  }

  private send(
    c: Conn,
    timeMs: number,
    writer: number,
    head: ReturnType<typeof parseRequestHead> | undefined,
    capture: { complete: boolean; gap?: string },
  ): void {
    const r = c.rec;
    this.counters.events++;
    // The writer may be another process than the one that connected (a forked child, a passed descriptor). A
    // child that did not exec runs the same program: the opener's exec record stands in for it. uid, netns and
    // cgroup are the opener's: the kernel records them at SYN_SENT.
    const exec = this.o.pids.get(writer) ?? (writer !== r.pid ? this.o.pids.get(r.pid) : undefined);
    this.emit({
      sensor: 'bpftrace',
      timeMs,
      pid: writer,
      ...(writer === r.pid ? { ppid: r.ppid } : {}),
      uid: r.uid,
      netns: r.netns,
      comm: r.comm,
      ...(exec ? { exe: exec.exe, ...(exec.argv ? { argv: exec.argv } : {}) } : {}),
      destination: { ip: r.addr, port: r.port },
      ...(head ? { http: head } : {}),
      capture,
      ...(r.k === 'P' ? { preExisting: true } : {}),
      ...(writer !== r.pid ? { openedBy: r.pid } : {}),
      cgroupId: r.cgroup,
    });
  }

  async stop(): Promise<void> {
    this.stopping = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    const child = this.child;
    if (child && child.exitCode === null) {
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGINT');
      const t = setTimeout(() => child.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(t);
    }
    if (this.timer) clearTimeout(this.timer);
    this.flush(true);
    for (const c of this.conns.values()) this.finish(c);
    this.conns.clear();
  }
}
