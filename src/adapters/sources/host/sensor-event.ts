import type { RequestHead } from '../../../core/parse/imds-request-head.ts';

/** What a host sensor reports before attribution: as much as the kernel told it, no more. */
export interface SensorEvent {
  sensor: 'bpftrace' | 'auditd' | 'procfs';
  timeMs: number;
  pid: number;
  ppid?: number;
  uid?: number;
  netns?: number;
  /** Thread name (bpftrace, auditd); only a hint. */
  comm?: string;
  /** Executable and argv when the sensor knows them (exec tracepoint table, audit EXECVE/exe=). */
  exe?: string;
  argv?: string[];
  destination: { ip: string; port: number };
  /** The request, when the sensor sees payload bytes (bpftrace). */
  http?: RequestHead;
  /** For sensors that read payload: whether the whole request head was seen, and if not why (see ConnectEvent). */
  capture?: { complete: boolean; gap?: string };
  /** The connection was open before the sensor attached. */
  preExisting?: boolean;
  /** The pid that opened the connection, when another process sent the request on it. */
  openedBy?: number;
}

/** A host sensor: starts, pushes events, stops. `describe` says what it can and cannot see, for the startup log. */
export interface HostSensor {
  readonly name: SensorEvent['sensor'];
  start(emit: (ev: SensorEvent) => void, log: SensorLog): Promise<void>;
  stop(): Promise<void>;
  /** Counters for /metrics and /healthz. */
  stats(): Record<string, number>;
}

/** The slice of a logger sensors use (pino-compatible). */
export interface SensorLog {
  info(obj: Record<string, unknown>, msg: string): void;
  warn(obj: Record<string, unknown>, msg: string): void;
  error(obj: Record<string, unknown>, msg: string): void;
}
