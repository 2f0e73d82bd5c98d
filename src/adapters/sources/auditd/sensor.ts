import { access, constants } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import TailFile from '@logdna/tail-file';
import { ImdsguardError } from '../../../core/errors.ts';
import { type AuditRecord, auditConnect, parseAuditLine } from '../../../core/parse/host-auditd.ts';
import type { HostSensor, SensorEvent, SensorLog } from '../host/sensor-event.ts';
import { metadataDestination } from '../host/watched.ts';
import { which } from '../host/which.ts';
import { auditStatus, installAuditRules, removeAuditRules } from './rules.ts';

/** Debian's audit.rules sets this backlog; the kernel's own default (64) overflows on a burst of connects. */
const MIN_BACKLOG = 8192;
/** Groups kept open at once: far more than the events that can interleave while one task writes its records. */
const MAX_PENDING = 32;

export interface AuditdSensorOptions {
  logPath: string;
  /** Install our connect rules at start and remove them at stop. */
  installRule: boolean;
  pollMs?: number;
  /** Check that auditd runs before following its log (default true; off to follow a copied or test log). */
  preflight?: boolean;
}

/** Is the auditd sensor usable: auditctl present, a daemon receiving records, the log readable? */
export async function auditdAvailable(logPath: string): Promise<{ ok: boolean; why: string }> {
  if (!(await which('auditctl'))) return { ok: false, why: 'auditctl not installed' };
  try {
    const s = await auditStatus();
    if (s.pid === 0) return { ok: false, why: 'no auditd daemon running' };
  } catch (e) {
    return { ok: false, why: (e as Error).message };
  }
  try {
    await access(logPath, constants.R_OK);
  } catch {
    return { ok: false, why: `${logPath} not readable` };
  }
  return { ok: true, why: '' };
}

/**
 * Follows auditd's log (rotation-safe) for connect syscalls and keeps those to metadata addresses. Audit records
 * carry no payload and no network namespace: this sensor attributes connections (pid, exe, argv from PROCTITLE,
 * uid, destination), not methods, paths or tokens.
 */
export class AuditdSensor implements HostSensor {
  readonly name = 'auditd' as const;
  private readonly o: AuditdSensorOptions;
  private tail: TailFile | undefined;
  private added: string[][] = [];
  /** Records of events not yet complete, by serial, oldest first. */
  private readonly pending = new Map<number, AuditRecord[]>();
  private flushTimer: NodeJS.Timeout | undefined;
  private emit: (ev: SensorEvent) => void = () => {};
  private readonly isMetadata = metadataDestination();
  private readonly counters = { lines: 0, records: 0, connects: 0, events: 0, unparsed: 0, kernel_lost: 0 };
  private lostAtStart: number | undefined;
  private lostTimer: NodeJS.Timeout | undefined;
  private log: SensorLog | undefined;

  constructor(o: AuditdSensorOptions) {
    this.o = o;
  }

  stats(): Record<string, number> {
    return { ...this.counters };
  }

  async start(emit: (ev: SensorEvent) => void, log: SensorLog): Promise<void> {
    this.emit = emit;
    this.log = log;
    if (this.o.preflight !== false) {
      const avail = await auditdAvailable(this.o.logPath);
      if (!avail.ok) throw new ImdsguardError('E_SENSOR', `auditd sensor unavailable: ${avail.why}`);
      const status = await auditStatus();
      this.lostAtStart = status.lost;
      if (status.backlogLimit < MIN_BACKLOG) {
        log.warn(
          { sensor: 'auditd', backlog_limit: status.backlogLimit },
          `the kernel's audit backlog holds ${status.backlogLimit} records: a burst of connects can overflow it and those connections are never logged; raise it (auditctl -b ${MIN_BACKLOG}, as Debian's audit.rules does)`,
        );
      }
      // Records the kernel drops never reach the log: count them, so a gap is told rather than silent.
      this.lostTimer = setInterval(() => void this.checkLost(), 60_000);
      this.lostTimer.unref();
    }
    if (this.o.installRule) {
      this.added = await installAuditRules();
      log.info({ sensor: 'auditd', rules: this.added.map((r) => r.join(' ')) }, 'installed audit rules');
    }
    this.tail = new TailFile(this.o.logPath, { encoding: 'utf8', pollFileIntervalMs: this.o.pollMs ?? 100 });
    this.tail.on('tail_error', (e: Error) => log.error({ sensor: 'auditd', err: e.message }, 'audit log tail error'));
    this.tail.on('renamed', () => log.info({ sensor: 'auditd' }, 'audit log rotated; following the new file'));
    this.tail.on('truncated', () => log.info({ sensor: 'auditd' }, 'audit log truncated; reading from the start'));
    const rl = createInterface({ input: this.tail, crlfDelay: Number.POSITIVE_INFINITY });
    rl.on('line', (line) => this.line(line));
    await this.tail.start();
    log.info({ sensor: 'auditd', log: this.o.logPath }, 'following the audit log');
  }

  private line(line: string): void {
    this.counters.lines++;
    const r = parseAuditLine(line);
    if (!r) {
      this.counters.unparsed++;
      return;
    }
    this.counters.records++;
    // Events from tasks on other CPUs can interleave in the log, so records are grouped by serial, not by adjacency.
    let g = this.pending.get(r.serial);
    if (!g) {
      g = [];
      this.pending.set(r.serial, g);
    }
    g.push(r);
    // PROCTITLE is the last record the kernel writes for a syscall event (EOE, when a log has it, comes after it).
    if (r.type === 'PROCTITLE' || r.type === 'EOE' || g.length > 64) this.flush(r.serial);
    // A task writes its event's records together: one that many serials behind the newest is complete.
    while (this.pending.size > MAX_PENDING) this.flush(this.pending.keys().next().value as number);
    if (this.pending.size > 0) this.flushWhenQuiet();
  }

  /**
   * A log quiet for 200 ms means the waiting groups are complete. The timer runs only while a group waits, so an idle
   * host does not wake the agent.
   */
  private flushWhenQuiet(): void {
    if (this.flushTimer) {
      this.flushTimer.refresh();
      return;
    }
    this.flushTimer = setTimeout(() => {
      this.flushTimer = undefined;
      this.flushAll();
    }, 200);
    this.flushTimer.unref();
  }

  private flushAll(): void {
    for (const serial of [...this.pending.keys()]) this.flush(serial);
  }

  private flush(serial: number): void {
    const g = this.pending.get(serial);
    this.pending.delete(serial);
    if (!g) return;
    const c = auditConnect(g);
    if (!c) return;
    this.counters.connects++;
    if (!this.isMetadata(c.destination.ip, c.destination.port)) return;
    this.counters.events++;
    this.emit({
      sensor: 'auditd',
      timeMs: c.timeMs,
      pid: c.pid,
      ...(c.ppid !== undefined ? { ppid: c.ppid } : {}),
      ...(c.uid !== undefined ? { uid: c.uid } : {}),
      ...(c.comm ? { comm: c.comm } : {}),
      ...(c.exe ? { exe: c.exe } : {}),
      ...(c.argv ? { argv: c.argv } : {}),
      destination: { ip: c.destination.ip, port: c.destination.port },
    });
  }

  private async checkLost(): Promise<void> {
    if (this.lostAtStart === undefined) return;
    let lost: number;
    try {
      lost = (await auditStatus()).lost - this.lostAtStart;
    } catch {
      return;
    }
    if (lost > this.counters.kernel_lost) {
      this.log?.warn(
        { sensor: 'auditd', kernel_lost: lost },
        `the kernel dropped ${lost} audit records since the agent started: connections in them were not seen`,
      );
      this.counters.kernel_lost = lost;
    }
  }

  async stop(): Promise<void> {
    if (this.lostTimer) clearInterval(this.lostTimer);
    this.lostTimer = undefined;
    await this.checkLost();
    if (this.tail) await this.tail.quit();
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    this.flushAll();
    if (this.added.length > 0) await removeAuditRules(this.added);
    this.added = [];
  }
}
