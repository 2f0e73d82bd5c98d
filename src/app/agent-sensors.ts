import { AuditdSensor, auditdAvailable } from '../adapters/sources/auditd/sensor.ts';
import { BpftraceSensor } from '../adapters/sources/bpftrace/sensor.ts';
import { listOpenMetadataConnections } from '../adapters/sources/host/open-connections.ts';
import type { PidTable } from '../adapters/sources/host/pid-table.ts';
import type { HostSensor } from '../adapters/sources/host/sensor-event.ts';
import { which } from '../adapters/sources/host/which.ts';
import { ProcfsSensor } from '../adapters/sources/procfs/sensor.ts';
import { ImdsguardError } from '../core/errors.ts';

export const SENSOR_NAMES = ['bpftrace', 'auditd', 'procfs'] as const;
export type SensorName = (typeof SENSOR_NAMES)[number];

/** What each sensor can see, said once at startup so nobody mistakes a connection log for a request log. */
export const SENSOR_SEES: Record<SensorName, string> = {
  bpftrace:
    'every TCP connection to a metadata address (IPv4/IPv6) from the kernel socket, whatever system call made it; the request line and header names gathered across writes (IMDSv1/v2, paths; "unknown" when the head was not seen whole); exec-time exe/argv',
  auditd:
    'connections only (pid, exe, uid, destination): audit records carry no payload and no network namespace, so no method, path or token',
  procfs:
    'connections only, by polling: short connections (a single curl) are usually missed; no method, path or token',
};

export interface SensorChoiceOptions {
  sensor: SensorName | 'auto';
  auditLog: string;
  auditRule: boolean;
  procfsIntervalMs: number;
}

export interface SensorChoice {
  sensor: HostSensor;
  reason: string;
  sees: string;
}

function make(name: SensorName, o: SensorChoiceOptions, pids: PidTable): HostSensor {
  switch (name) {
    case 'bpftrace':
      return new BpftraceSensor({ pids, openConnections: () => listOpenMetadataConnections() });
    case 'auditd':
      return new AuditdSensor({ logPath: o.auditLog, installRule: o.auditRule });
    case 'procfs':
      return new ProcfsSensor({ intervalMs: o.procfsIntervalMs });
  }
}

/**
 * The sensors to try, best first: bpftrace when root and the binary are there, then auditd when the daemon runs
 * and its log is readable, then procfs polling. `--sensor` forces one. The caller starts the first that works.
 */
export async function selectSensors(o: SensorChoiceOptions, pids: PidTable): Promise<SensorChoice[]> {
  if (o.sensor !== 'auto') {
    return [{ sensor: make(o.sensor, o, pids), reason: 'forced with --sensor', sees: SENSOR_SEES[o.sensor] }];
  }
  const out: SensorChoice[] = [];
  const notes: string[] = [];
  const root = process.getuid?.() === 0;
  if (!root) notes.push('bpftrace: not root');
  else if (!(await which('bpftrace'))) notes.push('bpftrace: not installed');
  else
    out.push({
      sensor: make('bpftrace', o, pids),
      reason: 'root and bpftrace present (preferred)',
      sees: SENSOR_SEES.bpftrace,
    });
  const audit = await auditdAvailable(o.auditLog);
  if (audit.ok) {
    out.push({
      sensor: make('auditd', o, pids),
      reason: `auditd running and ${o.auditLog} readable${notes.length ? ` (${notes.join('; ')})` : ''}`,
      sees: SENSOR_SEES.auditd,
    });
  } else notes.push(`auditd: ${audit.why}`);
  out.push({
    sensor: make('procfs', o, pids),
    reason: `fallback (${notes.join('; ') || 'better sensors failed to start'})`,
    sees: SENSOR_SEES.procfs,
  });
  return out;
}

export function assertSensorName(s: string): SensorName | 'auto' {
  if (s === 'auto' || (SENSOR_NAMES as readonly string[]).includes(s)) return s as SensorName | 'auto';
  throw new ImdsguardError('E_USAGE', `Unknown sensor "${s}" (expected auto, ${SENSOR_NAMES.join(', ')})`);
}
