import { access, constants } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import TailFile from '@logdna/tail-file';
import { ImdsguardError } from '../../../core/errors.ts';
import { type AuditRecord, auditConnect, parseAuditLine } from '../../../core/parse/host-auditd.ts';
import type { HostSensor, SensorEvent, SensorLog } from '../host/sensor-event.ts';
import { metadataDestination } from '../host/watched.ts';
import { which } from '../host/which.ts';
import { auditStatus, installAuditRules, removeAuditRules } from './rules.ts';

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
  private group: AuditRecord[] = [];
  private flushTimer: NodeJS.Timeout | undefined;
  private emit: (ev: SensorEvent) => void = () => {};
  private readonly isMetadata = metadataDestination();
  private readonly counters = { lines: 0, records: 0, connects: 0, events: 0, unparsed: 0 };

  constructor(o: AuditdSensorOptions) {
    this.o = o;
  }

  stats(): Record<string, number> {
    return { ...this.counters };
  }

  async start(emit: (ev: SensorEvent) => void, log: SensorLog): Promise<void> {
    this.emit = emit;
    if (this.o.preflight !== false) {
      const avail = await auditdAvailable(this.o.logPath);
      if (!avail.ok) throw new ImdsguardError('E_SENSOR', `auditd sensor unavailable: ${avail.why}`);
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
    if (this.group.length > 0 && this.group[0]?.serial !== r.serial) this.flush();
    this.group.push(r);
    if (r.type === 'EOE' || this.group.length > 64) this.flush();
    else this.flushWhenQuiet();
  }

  /**
   * The records of one event are written together; a log quiet for 200 ms means the last group is complete. The
   * timer runs only while a group waits, so an idle host does not wake the agent.
   */
  private flushWhenQuiet(): void {
    if (this.flushTimer) {
      this.flushTimer.refresh();
      return;
    }
    this.flushTimer = setTimeout(() => {
      this.flushTimer = undefined;
      this.flush();
    }, 200);
    this.flushTimer.unref();
  }

  private flush(): void {
    const g = this.group;
    this.group = [];
    if (g.length === 0) return;
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

  async stop(): Promise<void> {
    if (this.tail) await this.tail.quit();
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    this.flush();
    if (this.added.length > 0) await removeAuditRules(this.added);
    this.added = [];
  }
}
