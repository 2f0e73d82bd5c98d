/**
 * `scan --dispatch`: queue every file of an archive as one job for the scan workers. A job names the file by its
 * absolute path and its content's SHA-256; the pair is the job's message id, so dispatching the same archive again
 * queues only the files that are new or changed.
 */
import { resolve } from 'node:path';
import type { NatsClientOptions } from '../adapters/fleet/nats-connection.ts';
import { hashFile, ScanJobQueue } from '../adapters/fleet/scan-jobs.ts';
import { expandInputs } from '../adapters/sources/expand-inputs.ts';
import { ImdsguardError } from '../core/errors.ts';
import { FLEET_CONTRACT_VERSION, type FleetHost, SCAN_JOBS_STREAM, type ScanJob } from '../core/fleet/contract.ts';
import { maskText } from '../core/secrets/masker.ts';

export interface DispatchSettings {
  inputs: string[];
  nats: NatsClientOptions;
  /** The archive's owner: findings of these jobs are published under it, whichever worker scans them. */
  host: FleetHost;
  account?: string;
  region?: string;
  warn: (message: string) => void;
  signal?: AbortSignal;
  nowMs?: () => number;
}

export interface DispatchOutcome {
  files: number;
  queued: number;
  /** Jobs the stream already held (same path and content, within its duplicate window). */
  already: number;
  /** Inputs that could not be read (missing, unreadable), not queued. */
  failed: string[];
  /** Files not queued because a stop signal came first. */
  notQueued: number;
}

/** Publishes awaiting their PubAck at once. */
const WINDOW = 64;

export async function dispatchScanJobs(s: DispatchSettings): Promise<DispatchOutcome> {
  if (s.inputs.length === 0 || s.inputs.includes('-'))
    throw new ImdsguardError(
      'E_USAGE',
      '--dispatch takes files, directories or globs (stdin cannot go to another host)',
    );
  const { inputs, errors } = await expandInputs(s.inputs);
  const out: DispatchOutcome = { files: 0, queued: 0, already: 0, failed: [], notQueued: 0 };
  for (const e of errors) {
    out.failed.push(e.input);
    s.warn(e.message);
  }
  const paths = inputs.flatMap((i) => (i.kind === 'file' ? [resolve(i.path)] : []));
  out.files = paths.length;
  if (paths.length === 0) return out;
  let queue: ScanJobQueue;
  try {
    queue = await ScanJobQueue.open({ ...s.nats, name: 'imdsguard scan --dispatch' });
  } catch (e) {
    throw new ImdsguardError(
      'E_SINK_IO',
      `cannot queue jobs on ${s.nats.servers.join(', ')}: ${(e as Error).message}; nothing was queued`,
    );
  }
  const now = s.nowMs ?? Date.now;
  const inFlight = new Set<Promise<void>>();
  let failure: Error | undefined;
  try {
    for (let i = 0; i < paths.length; i++) {
      const path = paths[i]!;
      if (s.signal?.aborted || failure) {
        out.notQueued = paths.length - i;
        break;
      }
      // The job leaves the host with its path, and a worker must open that path as it is: a path the masker would
      // change (a key id in a file or directory name) cannot be queued masked nor sent raw. Named masked, not queued.
      const shown = maskText(path);
      if (shown !== path) {
        out.failed.push(shown);
        s.warn(`${shown}: not queued: its path holds a credential (masked here); scan that file on this host`);
        continue;
      }
      let content: { sha256: string; size: number };
      try {
        content = await hashFile(path);
      } catch (e) {
        out.failed.push(path);
        s.warn(`${path}: cannot read: ${(e as Error).message}`);
        continue;
      }
      const job: ScanJob = {
        v: FLEET_CONTRACT_VERSION,
        path,
        ...content,
        host: s.host,
        account: s.account || '_',
        region: s.region || '_',
        queued_at: new Date(now()).toISOString(),
      };
      const p: Promise<void> = queue.queue(job).then(
        (isNew) => {
          if (isNew) out.queued++;
          else out.already++;
        },
        (e: Error) => {
          failure ??= e;
        },
      );
      inFlight.add(p);
      void p.finally(() => inFlight.delete(p));
      if (inFlight.size >= WINDOW) await Promise.race(inFlight);
    }
    await Promise.all(inFlight);
  } finally {
    await queue.close();
  }
  if (failure)
    throw new ImdsguardError(
      'E_SINK_IO',
      `queueing jobs on ${SCAN_JOBS_STREAM} failed: ${failure.message}; ${out.queued} queued, ${out.already} already queued before it failed`,
    );
  return out;
}

/** The stderr line a dispatch ends with. */
export function describeDispatch(o: DispatchOutcome): string {
  const parts = [`${o.queued} queued`, `${o.already} already queued`];
  if (o.failed.length > 0) parts.push(`${o.failed.length} not readable`);
  if (o.notQueued > 0) parts.push(`${o.notQueued} not queued (stopped)`);
  return `imdsguard: dispatched ${o.files} file(s) to ${SCAN_JOBS_STREAM}: ${parts.join(', ')}\n`;
}
