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

/** The work-queue stream of distributed scanning, and its dead letters. */
export const SCAN_JOBS_STREAM = 'IMDS_SCAN_JOBS';
export const SCAN_JOBS_SUBJECT = 'imds.v1.scan.job';
export const SCAN_DEAD_SUBJECT = 'imds.v1.scan.dead';

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
