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
import { FINDINGS_STREAM, FINDINGS_SUBJECTS } from '../../core/fleet/contract.ts';

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

/** The stream's info, or undefined when it does not exist. */
export async function findingsStreamInfo(jsm: JetStreamManager): Promise<StreamInfo | undefined> {
  try {
    return await jsm.streams.info(FINDINGS_STREAM);
  } catch (e) {
    if (isStreamNotFound(e)) return undefined;
    throw e;
  }
}

/** Create the findings stream when it is missing; an existing one is left as its owner configured it. */
export async function ensureFindingsStream(
  jsm: JetStreamManager,
  o: FindingsStreamOptions = {},
): Promise<{ created: boolean; info: StreamInfo }> {
  const existing = await findingsStreamInfo(jsm);
  if (existing) return { created: false, info: existing };
  try {
    return { created: true, info: await jsm.streams.add(findingsStreamConfig(o)) };
  } catch (e) {
    // Two processes creating it at once: the other one won.
    const now = await findingsStreamInfo(jsm);
    if (now) return { created: false, info: now };
    throw e;
  }
}

function isStreamNotFound(e: unknown): boolean {
  const err = e as { name?: string; code?: number | string; api_error?: { err_code?: number }; message?: string };
  if (err?.name === 'StreamNotFoundError') return true;
  if (err?.api_error?.err_code === 10059) return true;
  return /stream not found/i.test(String(err?.message ?? ''));
}
