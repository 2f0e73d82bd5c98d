/**
 * The job queue of distributed scanning on JetStream: `scan --dispatch` puts one job per file on the work-queue
 * stream, and `scan --worker` processes pull them from one shared durable consumer. JetStream does the bookkeeping:
 * the message id drops a job queued twice, the consumer hands each job to one worker at a time, a job not
 * acknowledged within the ack wait (the worker died) goes to the next worker, and it leaves the stream when
 * acknowledged. Dead letters go to a stream of their own.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import {
  AckPolicy,
  type ConsumerConfig,
  DeliverPolicy,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
  jetstream,
  jetstreamManager,
} from '@nats-io/jetstream';
import { headers, type NatsConnection } from '@nats-io/transport-node';
import {
  encodeScanJob,
  SCAN_DEAD_SUBJECT,
  SCAN_JOBS_STREAM,
  SCAN_JOBS_SUBJECT,
  SCAN_WORKERS_CONSUMER,
  type ScanJob,
  scanJobMsgId,
} from '../../core/fleet/contract.ts';
import { maskText } from '../../core/secrets/masker.ts';
import { connectNats, type NatsClientOptions } from './nats-connection.ts';
import { ensureStream, scanDeadStreamConfig, scanJobsStreamConfig } from './streams.ts';

const MS_TO_NS = 1_000_000;

/** SHA-256 (hex) and size of a file's content, read as a stream. */
export async function hashFile(path: string): Promise<{ sha256: string; size: number }> {
  const h = createHash('sha256');
  let size = 0;
  for await (const b of createReadStream(path, { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>) {
    h.update(b);
    size += b.length;
  }
  return { sha256: h.digest('hex'), size };
}

export interface WorkersConsumerOptions {
  /** Tries a job gets before it is dead-lettered. */
  maxTries: number;
  /** How long a job may go without an acknowledgement or a progress signal before it goes to another worker (ms). */
  ackWaitMs: number;
}

/**
 * The shared consumer. The server delivers a job once more than the tries allowed: a worker that gets a job past
 * its last try (the ones before died with the process: killed, out of memory) dead-letters it instead of leaving it
 * in the work queue for ever, which is what the server's own max deliver would do.
 */
export function scanWorkersConsumerConfig(
  o: WorkersConsumerOptions,
): Partial<ConsumerConfig> & { max_deliver: number; ack_wait: number } {
  return {
    durable_name: SCAN_WORKERS_CONSUMER,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    filter_subject: SCAN_JOBS_SUBJECT,
    max_deliver: o.maxTries + 1,
    ack_wait: o.ackWaitMs * MS_TO_NS,
  };
}

/** A connection to the job queue, with the streams created when missing (the queue belongs to scanning). */
export class ScanJobQueue {
  readonly nc: NatsConnection;
  readonly js: JetStreamClient;
  readonly jsm: JetStreamManager;

  private constructor(nc: NatsConnection, js: JetStreamClient, jsm: JetStreamManager) {
    this.nc = nc;
    this.js = js;
    this.jsm = jsm;
  }

  /** Connect (rejects when no server answers) and create the jobs and dead-letter streams when missing. */
  static async open(nats: NatsClientOptions): Promise<ScanJobQueue> {
    const nc = await connectNats(nats);
    try {
      const jsm = await jetstreamManager(nc);
      await ensureStream(jsm, scanJobsStreamConfig());
      await ensureStream(jsm, scanDeadStreamConfig());
      return new ScanJobQueue(nc, jetstream(nc), jsm);
    } catch (e) {
      await nc.close().catch(() => undefined);
      throw e;
    }
  }

  /** Queue a job; resolves to false when the stream already held it (same path and content). */
  async queue(job: ScanJob): Promise<boolean> {
    const ack = await this.js.publish(SCAN_JOBS_SUBJECT, encodeScanJob(job), {
      msgID: scanJobMsgId(job),
      expect: { streamName: SCAN_JOBS_STREAM },
    });
    return !ack.duplicate;
  }

  /**
   * Create the workers' consumer, or bring its tries and ack wait to these (the last worker started sets them for
   * all: they are the consumer's, not a worker's).
   */
  async ensureWorkersConsumer(o: WorkersConsumerOptions): Promise<void> {
    const want = scanWorkersConsumerConfig(o);
    let info: Awaited<ReturnType<JetStreamManager['consumers']['info']>> | undefined;
    try {
      info = await this.jsm.consumers.info(SCAN_JOBS_STREAM, SCAN_WORKERS_CONSUMER);
    } catch {
      info = undefined;
    }
    if (!info) {
      try {
        await this.jsm.consumers.add(SCAN_JOBS_STREAM, want);
        return;
      } catch (e) {
        // Two workers starting at once: the other one created it.
        info = await this.jsm.consumers.info(SCAN_JOBS_STREAM, SCAN_WORKERS_CONSUMER).catch(() => undefined);
        if (!info) throw e;
      }
    }
    if (info.config.max_deliver !== want.max_deliver || info.config.ack_wait !== want.ack_wait)
      await this.jsm.consumers.update(SCAN_JOBS_STREAM, SCAN_WORKERS_CONSUMER, {
        max_deliver: want.max_deliver,
        ack_wait: want.ack_wait,
      });
  }

  /** The next job, or null when none came within `expiresMs`. */
  async next(expiresMs: number): Promise<JsMsg | null> {
    const c = await this.js.consumers.get(SCAN_JOBS_STREAM, SCAN_WORKERS_CONSUMER);
    return c.next({ expires: expiresMs });
  }

  /**
   * Jobs the workers still have to finish: waiting, handed to a worker and not acknowledged yet, or waiting for a
   * retry. A job the server will not deliver again (past max deliver) does not count: no worker could finish it.
   */
  async jobsLeft(): Promise<number> {
    const c = await this.jsm.consumers.info(SCAN_JOBS_STREAM, SCAN_WORKERS_CONSUMER);
    return c.num_pending + c.num_ack_pending;
  }

  /**
   * Publish a job on the dead-letter subject (the job as it was, why and after how many tries in headers), then
   * acknowledge it: that takes it out of the work queue (a terminated message stays in a work-queue stream on
   * nats-server 2.9, and would keep the queue from ever being empty).
   */
  async deadLetter(m: JsMsg, reason: string, tries: number): Promise<void> {
    const h = headers();
    // A message leaves the host: the reason (an error naming a file) goes through the masker like any record.
    h.set('Imdsguard-Reason', maskText(reason.slice(0, 1000)).replace(/[\r\n]+/g, ' '));
    h.set('Imdsguard-Tries', String(tries));
    h.set('Imdsguard-Stream-Seq', String(m.info.streamSequence));
    // The same job dead-lettered twice (a worker killed between these two steps) is kept once.
    const msgID = `${m.info.streamSequence}-${createHash('sha256').update(m.data).digest('hex').slice(0, 24)}`;
    // The job as it was, unless it holds a credential (a path queued by another publisher, or an older imdsguard):
    // the dead letters are kept for 30 days and read by people, so the job goes through the masker too.
    const raw = m.string();
    const masked = maskText(raw);
    await this.js.publish(SCAN_DEAD_SUBJECT, masked === raw ? m.data : masked, { headers: h, msgID, timeout: 5_000 });
    await m.ackAck();
  }

  async close(): Promise<void> {
    await this.nc.close().catch(() => undefined);
  }
}
