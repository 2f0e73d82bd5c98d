/**
 * What travels on the fleet bus. Every sensor (scan, cloudtrail, agent, proxy) publishes each finding as one
 * envelope; the hub reads envelopes, correlates them and publishes its own findings back as envelopes. The body is
 * JSON: the finding exactly as the output contract prints it (masked), plus who saw it.
 */
import { createHash } from 'node:crypto';
import type { Finding } from '../model/finding.ts';
import type { Severity } from '../model/severity.ts';

export const FLEET_CONTRACT_VERSION = 1;

/** The stream every finding goes to, and the subjects it holds. */
export const FINDINGS_STREAM = 'IMDS_FINDINGS';
export const FINDINGS_SUBJECTS = 'imds.v1.finding.>';

/** The work-queue stream of distributed scanning, and its dead letters (kept in a stream of their own). */
export const SCAN_JOBS_STREAM = 'IMDS_SCAN_JOBS';
export const SCAN_JOBS_SUBJECT = 'imds.v1.scan.job';
export const SCAN_DEAD_STREAM = 'IMDS_SCAN_DEAD';
export const SCAN_DEAD_SUBJECT = 'imds.v1.scan.dead';
/** Where the hub keeps findings its readers gave up on (`<hub.dead_letter>.<reader>`), unless another stream does. */
export const HUB_DEAD_STREAM = 'IMDS_HUB_DEAD';
/** The one durable consumer every scan worker pulls from: a work queue takes one consumer per subject. */
export const SCAN_WORKERS_CONSUMER = 'imdsguard-scan-workers';

export type FleetSource = 'scan' | 'cloudtrail' | 'agent' | 'proxy' | 'posture' | 'hub';

export interface FleetHost {
  /** Stable across restarts: /etc/machine-id, or the name given with --host-id. */
  id: string;
  name?: string;
}

export interface FleetEnvelope {
  v: typeof FLEET_CONTRACT_VERSION;
  source: FleetSource;
  host: FleetHost;
  /** Cloud account and region the sensor runs in or read about; "_" when unknown. */
  account: string;
  region: string;
  /** When the sensor handed the finding to the bus (ISO 8601). */
  sent_at: string;
  finding: Finding;
}

/** A subject token: NATS tokens cannot hold '.', '*', '>' or whitespace, and cannot be empty. */
export function subjectToken(value: string | undefined | null): string {
  if (value === undefined || value === null || value === '') return '_';
  let t = '';
  for (const ch of value) t += ch <= ' ' || ch === '\u007f' || ch === '.' || ch === '*' || ch === '>' ? '_' : ch;
  return t.length > 64 ? t.slice(0, 64) : t;
}

/** imds.v1.finding.<account>.<region>.<source>.<severity> */
export function findingSubject(
  e: Pick<FleetEnvelope, 'account' | 'region' | 'source'> & { severity: Severity },
): string {
  return `imds.v1.finding.${subjectToken(e.account)}.${subjectToken(e.region)}.${subjectToken(e.source)}.${e.severity}`;
}

/**
 * The Nats-Msg-Id of an envelope: the finding's stable id, bound to the host that saw it. A finding id is stable
 * for the same rule on the same evidence, and two hosts can hold the same evidence (the same log path and line,
 * the same request): with the bare id, JetStream's duplicate window would drop the second host's finding.
 * Republishing the same finding from the same host (outbox replay, a re-scan) gives the same id and is dropped.
 */
export function envelopeMsgId(e: Pick<FleetEnvelope, 'host' | 'finding'>): string {
  if (e.host.id === '') return e.finding.id;
  return createHash('sha256').update(e.host.id).update('\u0000').update(e.finding.id).digest('hex').slice(0, 32);
}

export function encodeEnvelope(e: FleetEnvelope): string {
  return JSON.stringify(e);
}

/** Parse and check an envelope; throws with a reason naming what is wrong. */
export function decodeEnvelope(text: string): FleetEnvelope {
  const v = JSON.parse(text) as Partial<FleetEnvelope> | null;
  if (!v || typeof v !== 'object') throw new Error('envelope is not a JSON object');
  if (v.v !== FLEET_CONTRACT_VERSION)
    throw new Error(`envelope version ${String(v.v)} is not ${FLEET_CONTRACT_VERSION}`);
  if (!v.host || typeof v.host.id !== 'string') throw new Error('envelope has no host.id');
  if (typeof v.source !== 'string') throw new Error('envelope has no source');
  if (v.finding?.type !== 'finding' || typeof v.finding.id !== 'string') throw new Error('envelope holds no finding');
  return {
    v: FLEET_CONTRACT_VERSION,
    source: v.source as FleetSource,
    host: v.host,
    account: typeof v.account === 'string' ? v.account : '_',
    region: typeof v.region === 'string' ? v.region : '_',
    sent_at: typeof v.sent_at === 'string' ? v.sent_at : '',
    finding: v.finding,
  };
}

/**
 * One file to scan, as `scan --dispatch` queues it. The findings of a job are published under the dispatcher's host,
 * account and region (the archive's owner), not the worker's: which worker scans a file, and how often, then changes
 * neither the findings' ids nor their message ids, so a job scanned again after a crash adds nothing to the stream.
 */
export interface ScanJob {
  v: typeof FLEET_CONTRACT_VERSION;
  /** Absolute path, as every worker reads it (the archive is mounted at the same place on each) and as findings name it. */
  path: string;
  /** SHA-256 of the content when queued (hex), and its size in bytes. */
  sha256: string;
  size: number;
  host: FleetHost;
  account: string;
  region: string;
  queued_at: string;
}

/** The Nats-Msg-Id of a job: the same file with the same content is queued once within the duplicate window. */
export function scanJobMsgId(j: Pick<ScanJob, 'path' | 'sha256'>): string {
  return createHash('sha256').update(j.path).update('\u0000').update(j.sha256).digest('hex').slice(0, 32);
}

export function encodeScanJob(j: ScanJob): string {
  return JSON.stringify(j);
}

/** Parse and check a job; throws with a reason naming what is wrong. */
export function decodeScanJob(text: string): ScanJob {
  const v = JSON.parse(text) as Partial<ScanJob> | null;
  if (!v || typeof v !== 'object') throw new Error('job is not a JSON object');
  if (v.v !== FLEET_CONTRACT_VERSION) throw new Error(`job version ${String(v.v)} is not ${FLEET_CONTRACT_VERSION}`);
  if (typeof v.path !== 'string' || !v.path.startsWith('/')) throw new Error('job has no absolute path');
  if (typeof v.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(v.sha256)) throw new Error('job has no sha256');
  if (!v.host || typeof v.host.id !== 'string') throw new Error('job has no host.id');
  return {
    v: FLEET_CONTRACT_VERSION,
    path: v.path,
    sha256: v.sha256,
    size: typeof v.size === 'number' ? v.size : -1,
    host: v.host.name !== undefined ? { id: v.host.id, name: String(v.host.name) } : { id: v.host.id },
    account: typeof v.account === 'string' ? v.account : '_',
    region: typeof v.region === 'string' ? v.region : '_',
    queued_at: typeof v.queued_at === 'string' ? v.queued_at : '',
  };
}
