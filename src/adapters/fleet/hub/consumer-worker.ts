/**
 * One reader of the findings stream (a sink, or the correlator) on its own durable pull consumer: fetch a batch,
 * hand it over, acknowledge what was accepted, ask for redelivery later (with backoff) of what was not, and after
 * max deliver hand a message to the dead letters. Readers share nothing but the connection, so a slow or failing
 * one never holds the others back.
 */
import type { Consumer, JetStreamClient, JsMsg } from '@nats-io/jetstream';
import { headers } from '@nats-io/nats-core';
import type { Logger } from 'pino';
import { decodeEnvelope, envelopeMsgId, FINDINGS_STREAM } from '../../../core/fleet/contract.ts';
import { Masker, maskText } from '../../../core/secrets/masker.ts';
import { sleepUnlessAborted } from '../../sources/abortable.ts';
import type { Delivery, DeliveryResult } from './sink.ts';

export interface WorkerCounters {
  delivered(n: number): void;
  /** A batch or a message that will be tried again. */
  retried(n: number): void;
  /** Given up: published on the dead-letter subject, or dropped (logged and counted) when that is off. */
  deadLettered(n: number, dropped: boolean): void;
  lag(pending: number): void;
}

export interface WorkerOptions {
  reader: string;
  consumer: string;
  js: JetStreamClient;
  handle: (batch: readonly Delivery[]) => Promise<DeliveryResult[]>;
  batch: number;
  maxDeliver: number;
  /** Delay before each redelivery: the n-th retry waits backoffMs[n-1] (the last one repeats). */
  backoffMs: readonly number[];
  /** Subject prefix for dead letters (`<prefix>.<reader>`, a stream must take it), or null to drop, log and count. */
  deadLetter: string | null;
  counters: WorkerCounters;
  log: Logger;
  /** How long one fetch waits for messages. */
  expiresMs?: number;
}

/** Message ids handed over recently: a redelivery after a lost acknowledgement is acknowledged, not delivered twice. */
class RecentIds {
  private readonly ids = new Set<string>();
  private readonly max: number;
  constructor(max: number) {
    this.max = max;
  }
  has(id: string): boolean {
    return this.ids.has(id);
  }
  add(id: string): void {
    this.ids.add(id);
    if (this.ids.size > this.max) {
      const first = this.ids.values().next().value;
      if (first !== undefined) this.ids.delete(first);
    }
  }
}

const RETRY_LOG_INTERVAL_MS = 10_000;

export class ConsumerWorker {
  private readonly abort = new AbortController();
  private running: Promise<void> | undefined;
  private readonly recent = new RecentIds(200_000);
  /** Dead letters counted: one published again (its termination lost) is not counted twice. */
  private readonly deadCounted = new RecentIds(10_000);
  private failures = 0;
  /** Last error, for /healthz. */
  lastError: string | undefined;
  /** Fetches or deliveries that failed in a row (a delivery that took anything resets it). */
  consecutiveFailures = 0;
  /** When the current run of failures began (ms since the epoch), while it lasts. */
  failingSinceMs: number | undefined;
  private fetchFailingSinceMs: number | undefined;
  private readonly masker = new Masker();
  private lastRetryLogMs = 0;
  private retriesNotLogged = 0;

  private readonly o: WorkerOptions;
  constructor(o: WorkerOptions) {
    this.o = o;
  }

  start(): void {
    this.running ??= this.loop();
  }

  /** Finish the batch in hand, then stop. */
  async stop(): Promise<void> {
    this.abort.abort();
    await this.running;
  }

  private async loop(): Promise<void> {
    const { o } = this;
    // Taken once, and again only after a failure (the consumer may have been recreated while the server restarted):
    // getting it costs a request to the server at each fetch for nothing.
    let c: Consumer | undefined;
    while (!this.abort.signal.aborted) {
      try {
        c ??= await o.js.consumers.get(FINDINGS_STREAM, o.consumer);
        const iter = await c.fetch({ max_messages: o.batch, expires: o.expiresMs ?? 1000 });
        const msgs: JsMsg[] = [];
        for await (const m of iter) msgs.push(m);
        if (msgs.length > 0) await this.process(msgs);
        // Asked of the server now, after this batch's acknowledgements were taken (process waits for that), not the
        // copy cached when the consumer was got: the lag then says where this reader is, not where it was one fetch
        // ago. Messages handed over but not acknowledged yet count as lag too: a sink that refuses everything has a
        // backlog even though the consumer has nothing new to hand out.
        const info = await c.info();
        o.counters.lag(info.num_pending + info.num_ack_pending);
        this.failures = 0;
        this.fetchFailingSinceMs = undefined;
      } catch (e) {
        // Broker gone, consumer not found while the server restarts, a timeout: wait and fetch again. The client
        // reconnects by itself; unacknowledged messages come back after ack_wait.
        c = undefined;
        this.failures++;
        this.fetchFailingSinceMs ??= Date.now();
        this.lastError = maskText((e as Error).message, this.masker);
        o.log.warn({ reader: o.reader, err: this.lastError }, 'fetch failed; retrying');
        await sleepUnlessAborted(Math.min(5_000, 100 * 2 ** Math.min(this.failures, 6)), this.abort.signal);
      }
    }
  }

  private async process(msgs: JsMsg[]): Promise<void> {
    const { o } = this;
    const batch: Array<{ m: JsMsg; d: Delivery }> = [];
    for (const m of msgs) {
      let d: Delivery;
      try {
        const envelope = decodeEnvelope(m.string());
        d = { id: envelopeMsgId(envelope), envelope };
      } catch (e) {
        await this.dead(m, `undecodable envelope: ${(e as Error).message}`);
        continue;
      }
      if (this.recent.has(d.id)) {
        m.ack();
        continue;
      }
      batch.push({ m, d });
    }
    if (batch.length === 0) return;
    let results: DeliveryResult[];
    try {
      results = await o.handle(batch.map((b) => b.d));
      if (results.length !== batch.length) throw new Error(`sink answered ${results.length} of ${batch.length}`);
    } catch (e) {
      const reason = (e as Error).message;
      results = batch.map(() => ({ ok: false, retry: true, reason }));
    }
    // A receiver that refuses a whole batch for good (PostgreSQL's one INSERT failing a constraint, a webhook's 4xx)
    // may be refusing one finding in it: send them one at a time, so that only the refused ones are dead letters.
    if (batch.length > 1 && results.every((r) => !r.ok && !r.retry)) results = await this.oneByOne(batch);
    let delivered = 0;
    let retried = 0;
    let reason = '';
    const accepted: JsMsg[] = [];
    for (let i = 0; i < batch.length; i++) {
      const { m, d } = batch[i]!;
      const r = results[i]!;
      if (r.ok) {
        this.recent.add(d.id);
        accepted.push(m);
        delivered++;
      } else if (!r.retry || m.info.deliveryCount >= o.maxDeliver) {
        o.log.warn({ reader: o.reader, id: d.id, tries: m.info.deliveryCount, reason: r.reason }, 'giving up');
        await this.dead(m, r.reason);
      } else {
        const n = m.info.deliveryCount;
        m.nak(o.backoffMs[Math.min(n - 1, o.backoffMs.length - 1)] ?? 1000);
        o.counters.retried(1);
        retried++;
        reason = r.reason;
      }
    }
    await this.ackAll(accepted);
    if (delivered > 0) {
      o.counters.delivered(delivered);
      this.consecutiveFailures = 0;
      this.failingSinceMs = undefined;
      this.lastError = undefined;
    } else if (retried > 0) {
      this.failed(maskText(reason, this.masker));
    }
    if (retried > 0) this.logRetries(retried, reason);
  }

  private async oneByOne(batch: ReadonlyArray<{ d: Delivery }>): Promise<DeliveryResult[]> {
    const out: DeliveryResult[] = [];
    for (const { d } of batch) {
      try {
        const [r] = await this.o.handle([d]);
        out.push(r ?? { ok: false, retry: true, reason: 'sink answered 0 of 1' });
      } catch (e) {
        out.push({ ok: false, retry: true, reason: (e as Error).message });
      }
    }
    return out;
  }

  /**
   * Acknowledge what the sink took, after the batch's naks and dead letters. The server takes a connection's
   * acknowledgements in order, so a confirmed last one means all were taken: the consumer's state read next counts
   * them. An unconfirmed one (a timeout, a reconnect) is no loss: the message comes back and `recent` acknowledges it.
   */
  private async ackAll(msgs: readonly JsMsg[]): Promise<void> {
    const last = msgs.at(-1);
    if (!last) return;
    for (const m of msgs) if (m !== last) m.ack();
    try {
      await last.ackAck({ timeout: 2_000 });
    } catch (e) {
      this.o.log.warn({ reader: this.o.reader, err: maskText((e as Error).message, this.masker) }, 'ack not confirmed');
    }
  }

  /** Failures in a row (fetches or deliveries) and since when, for /healthz. */
  health(): { consecutiveFailures: number; failingForMs: number; lastError: string | undefined } {
    const since = Math.min(this.failingSinceMs ?? Infinity, this.fetchFailingSinceMs ?? Infinity);
    return {
      consecutiveFailures: Math.max(this.consecutiveFailures, this.failures),
      failingForMs: Number.isFinite(since) ? Date.now() - since : 0,
      lastError: this.lastError,
    };
  }

  private failed(reason: string): void {
    this.consecutiveFailures++;
    this.failingSinceMs ??= Date.now();
    this.lastError = reason;
  }

  /** One warning per reader every 10 s at most, saying how many retries it stands for; reasons masked. */
  private logRetries(n: number, reason: string): void {
    this.retriesNotLogged += n;
    const now = Date.now();
    if (now - this.lastRetryLogMs < RETRY_LOG_INTERVAL_MS) return;
    this.o.log.warn(
      {
        reader: this.o.reader,
        retries: this.retriesNotLogged,
        consecutive_failures: this.consecutiveFailures,
        reason: maskText(reason, this.masker),
      },
      'delivery failed; retrying with backoff',
    );
    this.lastRetryLogMs = now;
    this.retriesNotLogged = 0;
  }

  private async dead(m: JsMsg, reason: string): Promise<void> {
    const { o } = this;
    if (o.deadLetter === null) {
      // Dropping was asked for (dead_letter: null): the log line is the record of what was dropped.
      o.log.warn({ reader: o.reader, seq: m.info.streamSequence, reason }, 'dropped (no dead-letter subject)');
      m.term();
      o.counters.deadLettered(1, true);
      return;
    }
    const msgID = `${o.reader}-${m.info.stream}-${m.info.streamSequence}`;
    try {
      const h = headers();
      h.set('Imdsguard-Reader', o.reader);
      h.set('Imdsguard-Reason', reason.slice(0, 500).replace(/[\r\n]/g, ' '));
      h.set('Imdsguard-Stream-Seq', String(m.info.streamSequence));
      // A publish the server stored but whose acknowledgement was lost (a broker restart, a busy server) is tried
      // again: the message id makes the second one a duplicate the server drops, so each finding is one dead letter.
      await o.js.publish(`${o.deadLetter}.${o.reader}`, m.data, { headers: h, msgID, timeout: 2_000 });
    } catch (e) {
      // Nothing took the dead letter (its stream deleted, the server busy): the message stays with this reader and
      // comes back later, rather than being lost.
      const delay = o.backoffMs[o.backoffMs.length - 1] ?? 30_000;
      o.log.error(
        { reader: o.reader, seq: m.info.streamSequence, reason, err: (e as Error).message },
        'cannot publish the dead letter; the finding is kept and tried again',
      );
      this.lastError = `dead letter not accepted: ${(e as Error).message}`;
      m.nak(delay);
      o.counters.retried(1);
      return;
    }
    m.term();
    if (!this.deadCounted.has(msgID)) o.counters.deadLettered(1, false);
    this.deadCounted.add(msgID);
  }
}
