import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { ImdsguardError } from '../../../core/errors.ts';
import { parseRequestHead, unescapeBpftraceBuf } from '../../../core/parse/imds-request-head.ts';
import type { PidTable } from '../host/pid-table.ts';
import type { HostSensor, SensorEvent, SensorLog } from '../host/sensor-event.ts';
import { type BtRecord, parseBtLine } from './lines.ts';
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
}

interface Conn {
  rec: Extract<BtRecord, { k: 'C' }>;
  timeMs: number;
  requests: number;
  reported: boolean;
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
  private readonly o: Required<Omit<BpftraceSensorOptions, 'addresses' | 'preflight'>> &
    Pick<BpftraceSensorOptions, 'addresses' | 'preflight'>;
  private child: ChildProcess | undefined;
  private stopping = false;
  private dir: string | undefined;
  private programPath = '';
  private emit: (ev: BpftraceEvent) => void = () => {};
  private log: SensorLog | undefined;
  private buffer: BtRecord[] = [];
  private lastW: Extract<BtRecord, { k: 'W' }> | undefined;
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
  };
  mountedTracefs = false;

  constructor(opts: BpftraceSensorOptions) {
    this.o = {
      bpftrace: 'bpftrace',
      reorderMs: 30,
      requestWaitMs: 1000,
      maxConnections: 65_536,
      backoffMs: { min: 1000, max: 30_000 },
      ...opts,
    };
    this.backoff = this.o.backoffMs.min;
  }

  /** The program this sensor runs (for `--print-program` and reviews). */
  program(): string {
    return bpftraceProgram(this.o.addresses);
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
    this.dir = await mkdtemp(join(tmpdir(), 'imdsguard-bt-'));
    this.programPath = join(this.dir, 'imds.bt');
    await writeFile(this.programPath, this.program(), { mode: 0o600 });
    this.timer = setInterval(() => this.flush(false), 10);
    this.timer.unref();
    await this.spawnOnce(true);
  }

  /** Spawn bpftrace; on the first start, resolve when probes are attached and reject if it dies first. */
  private spawnOnce(first: boolean): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const started = Date.now();
      let attached = false;
      let probes: number | undefined;
      let stderrTail = '';
      const [cmd, ...pre] = Array.isArray(this.o.bpftrace) ? this.o.bpftrace : [this.o.bpftrace];
      const child = spawn(cmd as string, [...pre, '-f', 'json', this.programPath], {
        stdio: ['ignore', 'pipe', 'pipe'],
        // 200 is the most bpftrace 0.17 allows; without it buf()/str() stop at 64 bytes and the token header is missed.
        // A 4 MiB perf ring per CPU (default 256 KiB): a flood of keep-alive requests overflows the default.
        env: { ...process.env, BPFTRACE_STRLEN: '200', BPFTRACE_MAP_KEYS_MAX: '65536', BPFTRACE_PERF_RB_PAGES: '1024' },
      });
      this.child = child;
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
        if (msg.type === 'printf' && msg.data === 'R ready\n') {
          attached = true;
          this.log?.info({ sensor: 'bpftrace', probes, pid: child.pid }, 'bpftrace probes attached');
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

  private ingest(data: string): void {
    const rec = parseBtLine(data);
    if (!rec) {
      this.counters.unparsed++;
      return;
    }
    this.counters.records++;
    if (rec.k === 'V') {
      // The continuation is printed right after its W by the same probe invocation: same CPU buffer, adjacent.
      if (this.lastW && this.lastW.pid === rec.pid && this.lastW.fd === rec.fd) this.lastW.more = rec.chunk;
      return;
    }
    if (rec.k === 'W') this.lastW = rec;
    this.buffer.push(rec);
    // Bounded: under a flood, process now rather than hold more.
    if (this.buffer.length > 20_000) this.flush(true);
  }

  private flush(all: boolean): void {
    if (this.buffer.length > 0) {
      const horizon = Number(process.hrtime.bigint()) - this.o.reorderMs * 1e6;
      // Only the records old enough are sorted and processed; the rest wait for the next tick.
      const ready: Array<Exclude<BtRecord, { k: 'V' }>> = [];
      const keep: BtRecord[] = [];
      for (const r of this.buffer) {
        if (r.k !== 'V' && (all || r.ns <= horizon)) ready.push(r);
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

  private process(r: Exclude<BtRecord, { k: 'V' }>): void {
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
      case 'C': {
        const key = `${r.pid}:${r.fd}`;
        this.conns.delete(key);
        this.conns.set(key, { rec: r, timeMs: this.toMs(r.ns), requests: 0, reported: false });
        while (this.conns.size > this.o.maxConnections) {
          this.conns.delete(this.conns.keys().next().value as string);
          this.counters.conns_evicted++;
        }
        return;
      }
      case 'W': {
        const c = this.conns.get(`${r.pid}:${r.fd}`);
        if (!c) {
          this.counters.orphan_writes++;
          return;
        }
        const first = unescapeBpftraceBuf(r.chunk, Math.min(r.len, 200));
        const bytes = r.len > 200 && r.more ? first + unescapeBpftraceBuf(r.more, r.len - 200) : first;
        const head = parseRequestHead(bytes);
        if (!head) return;
        c.requests++;
        c.reported = true;
        this.send(c, this.toMs(r.ns), head);
        return;
      }
      case 'D': {
        const key = `${r.pid}:${r.fd}`;
        const c = this.conns.get(key);
        this.conns.delete(key);
        if (c && !c.reported) this.send(c, c.timeMs, undefined);
        return;
      }
    }
  }

  /** Connections that never showed request bytes (TLS, an unsupported write path) are reported at connection level. */
  private sweep(): void {
    const now = Date.now();
    for (const c of this.conns.values()) {
      if (c.reported) continue;
      if (now - c.timeMs < this.o.requestWaitMs) break;
      c.reported = true;
      this.send(c, c.timeMs, undefined);
    }
  }

  private send(c: Conn, timeMs: number, head: ReturnType<typeof parseRequestHead> | undefined): void {
    const r = c.rec;
    const exec = this.o.pids.get(r.pid);
    this.counters.events++;
    this.emit({
      sensor: 'bpftrace',
      timeMs,
      pid: r.pid,
      ppid: r.ppid,
      uid: r.uid,
      netns: r.netns,
      comm: r.comm,
      ...(exec ? { exe: exec.exe, ...(exec.argv ? { argv: exec.argv } : {}) } : {}),
      destination: { ip: r.addr, port: r.port },
      ...(head ? { http: head } : {}),
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
    if (this.timer) clearInterval(this.timer);
    this.flush(true);
    for (const c of this.conns.values()) if (!c.reported) this.send(c, c.timeMs, undefined);
    this.conns.clear();
    if (this.dir) await rm(this.dir, { recursive: true, force: true });
  }
}
