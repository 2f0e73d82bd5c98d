/**
 * The JetStream streams of fleet mode, configured in one place: the hub creates or checks them, and a sensor run
 * with --create-stream creates the findings stream when it is missing (and never changes one that exists).
 */
import {
  DiscardPolicy,
  type JetStreamManager,
  RetentionPolicy,
  StorageType,
  type StreamConfig,
  type StreamInfo,
} from '@nats-io/jetstream';
import {
  FINDINGS_STREAM,
  FINDINGS_SUBJECTS,
  HUB_DEAD_STREAM,
  SCAN_DEAD_STREAM,
  SCAN_DEAD_SUBJECT,
  SCAN_JOBS_STREAM,
  SCAN_JOBS_SUBJECT,
} from '../../core/fleet/contract.ts';

const MS_TO_NS = 1_000_000;

/**
 * How long JetStream remembers a Nats-Msg-Id. An outbox replays what was not acknowledged after a broker outage or a
 * sensor restart; a replay inside this window is dropped as a duplicate by the server. Twenty minutes covers a sensor
 * restart and most outages at the cost of one id per message held in the server's memory for that long.
 */
export const FINDINGS_DUPLICATE_WINDOW_MS = 20 * 60_000;

/** How long findings stay in the stream unless the hub says otherwise: a week of replay for a new sink. */
export const FINDINGS_DEFAULT_MAX_AGE_MS = 7 * 24 * 3600_000;

export interface FindingsStreamOptions {
  /** Age after which the server drops a finding (ms); at least the duplicate window. */
  maxAgeMs?: number;
  /** Bytes the stream may hold before the oldest findings are dropped; unlimited by default. */
  maxBytes?: number;
}

/** The findings stream: file storage, limits retention, old messages dropped first, the duplicate window above. */
export function findingsStreamConfig(o: FindingsStreamOptions = {}): Partial<StreamConfig> & { name: string } {
  const maxAgeMs = Math.max(o.maxAgeMs ?? FINDINGS_DEFAULT_MAX_AGE_MS, FINDINGS_DUPLICATE_WINDOW_MS);
  return {
    name: FINDINGS_STREAM,
    subjects: [FINDINGS_SUBJECTS],
    storage: StorageType.File,
    retention: RetentionPolicy.Limits,
    discard: DiscardPolicy.Old,
    max_age: maxAgeMs * MS_TO_NS,
    max_bytes: o.maxBytes ?? -1,
    duplicate_window: FINDINGS_DUPLICATE_WINDOW_MS * MS_TO_NS,
    num_replicas: 1,
  };
}

/**
 * How long the jobs stream remembers a job's message id (path and content hash): dispatching the same archive again
 * within a day queues nothing new, even for jobs already done and gone from the work queue.
 */
export const SCAN_JOBS_DUPLICATE_WINDOW_MS = 24 * 3600_000;

/** How long dead-lettered scan jobs are kept for an operator to look at (and queue again). */
export const SCAN_DEAD_MAX_AGE_MS = 30 * 24 * 3600_000;

/**
 * The jobs of distributed scanning: a work queue (a job leaves the stream when a worker acknowledges it), file
 * storage, no age limit (a job waits for a worker however long that takes), the duplicate window above.
 */
export function scanJobsStreamConfig(): Partial<StreamConfig> & { name: string } {
  return {
    name: SCAN_JOBS_STREAM,
    subjects: [SCAN_JOBS_SUBJECT],
    storage: StorageType.File,
    retention: RetentionPolicy.Workqueue,
    discard: DiscardPolicy.Old,
    max_age: 0,
    duplicate_window: SCAN_JOBS_DUPLICATE_WINDOW_MS * MS_TO_NS,
    num_replicas: 1,
  };
}

/** Dead-lettered scan jobs: limits retention, so that reading them does not remove them. */
export function scanDeadStreamConfig(): Partial<StreamConfig> & { name: string } {
  return {
    name: SCAN_DEAD_STREAM,
    subjects: [SCAN_DEAD_SUBJECT],
    storage: StorageType.File,
    retention: RetentionPolicy.Limits,
    discard: DiscardPolicy.Old,
    max_age: SCAN_DEAD_MAX_AGE_MS * MS_TO_NS,
    num_replicas: 1,
  };
}

/** How long the hub's dead letters are kept for an operator to look at (and replay into a sink). */
export const HUB_DEAD_MAX_AGE_MS = 30 * 24 * 3600_000;

/** The hub's dead letters: limits retention, so that reading them does not remove them. */
export function hubDeadStreamConfig(prefix: string): Partial<StreamConfig> & { name: string } {
  return {
    name: HUB_DEAD_STREAM,
    subjects: [`${prefix}.>`],
    storage: StorageType.File,
    retention: RetentionPolicy.Limits,
    discard: DiscardPolicy.Old,
    max_age: HUB_DEAD_MAX_AGE_MS * MS_TO_NS,
    num_replicas: 1,
  };
}

/**
 * Make sure a stream keeps what is published under `<prefix>.>`: a stream that already takes those subjects is
 * used as it is; otherwise IMDS_HUB_DEAD is created, or given those subjects when it exists (the prefix changed).
 * Returns the stream's name.
 */
export async function ensureHubDeadStream(jsm: JetStreamManager, prefix: string): Promise<string> {
  const subject = `${prefix}.>`;
  const holder = await jsm.streams.find(subject).catch(() => undefined);
  if (holder) return holder;
  const own = await streamInfo(jsm, HUB_DEAD_STREAM);
  if (!own) return (await ensureStream(jsm, hubDeadStreamConfig(prefix))).info.config.name;
  if (own.config.subjects?.includes(subject)) return HUB_DEAD_STREAM;
  await jsm.streams.update(HUB_DEAD_STREAM, { subjects: [...(own.config.subjects ?? []), subject] });
  return HUB_DEAD_STREAM;
}

/** A stream's info, or undefined when it does not exist. */
export async function streamInfo(jsm: JetStreamManager, name: string): Promise<StreamInfo | undefined> {
  try {
    return await jsm.streams.info(name);
  } catch (e) {
    if (isStreamNotFound(e)) return undefined;
    throw e;
  }
}

/** The findings stream's info, or undefined when it does not exist. */
export function findingsStreamInfo(jsm: JetStreamManager): Promise<StreamInfo | undefined> {
  return streamInfo(jsm, FINDINGS_STREAM);
}

/** Create a stream when it is missing; an existing one is left as its owner configured it. */
export async function ensureStream(
  jsm: JetStreamManager,
  config: Partial<StreamConfig> & { name: string },
): Promise<{ created: boolean; info: StreamInfo }> {
  const existing = await streamInfo(jsm, config.name);
  if (existing) return { created: false, info: existing };
  try {
    return { created: true, info: await jsm.streams.add(config) };
  } catch (e) {
    // Two processes creating it at once: the other one won.
    const now = await streamInfo(jsm, config.name);
    if (now) return { created: false, info: now };
    throw e;
  }
}

/** Create the findings stream when it is missing; an existing one is left as its owner configured it. */
export function ensureFindingsStream(
  jsm: JetStreamManager,
  o: FindingsStreamOptions = {},
): Promise<{ created: boolean; info: StreamInfo }> {
  return ensureStream(jsm, findingsStreamConfig(o));
}

function isStreamNotFound(e: unknown): boolean {
  const err = e as { name?: string; code?: number | string; api_error?: { err_code?: number }; message?: string };
  if (err?.name === 'StreamNotFoundError') return true;
  if (err?.api_error?.err_code === 10059) return true;
  return /stream not found/i.test(String(err?.message ?? ''));
}
