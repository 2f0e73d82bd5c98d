/**
 * Publishing findings to JetStream through the outbox. A finding is written to the outbox first; a pump sends what
 * the outbox holds, a bounded number at a time, with the envelope's message id; a row leaves the outbox only when the
 * server's PubAck for it arrives. On any failure (broker gone, no stream, timeout) the pump waits for what is in
 * flight, backs off, and starts again from the oldest row left: what had in fact arrived comes back as a duplicate
 * and the server drops it.
 */
import { type JetStreamClient, jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import {
  encodeEnvelope,
  envelopeMsgId,
  type FleetEnvelope,
  type FleetHost,
  type FleetSource,
  findingSubject,
} from '../../core/fleet/contract.ts';
import type { Finding } from '../../core/model/finding.ts';
import { Masker, maskRecord } from '../../core/secrets/masker.ts';
import { connectNats, type NatsClientOptions } from './nats-connection.ts';
import type { Outbox, OutboxRow } from './outbox.ts';
import { ensureFindingsStream } from './streams.ts';

export interface PublisherOptions {
  nats: NatsClientOptions;
  outbox: Outbox;
  source: FleetSource;
  host: FleetHost;
  /** Cloud account and region for the subject and the envelope ("_" when unknown). */
  account?: string;
  region?: string;
  /** Create the findings stream when it is missing (otherwise the hub owns it). */
  createStream?: boolean;
  streamMaxAgeMs?: number;
  /** How long one publish waits for its PubAck (ms). */
  ackTimeoutMs?: number;
  /** Messages awaiting a PubAck at once. */
  window?: number;
  nowMs?: () => number;
  /** Operator messages: connection lost and regained, why publishing fails. Never holds a finding. */
  warn?: (message: string) => void;
}

export interface PublishStats {
  /** Findings written to the outbox by this process. */
  queued: number;
  /** Publish attempts (a retry counts again). */
  published: number;
  /** PubAcks received (the message is in the stream). */
  acked: number;
  /** PubAcks that said the stream already held the message id. */
  duplicates: number;
  /** Failed attempts (timeout, no stream, connection lost); each is retried. */
  failures: number;
  /** Rows dropped by the outbox bound (by this process). */
  dropped: number;
  /** Rows waiting in the outbox. */
  backlog: number;
  connected: boolean;
}

const MAX_BACKOFF_MS = 5000;

export class FleetPublisher {
  private readonly o: PublisherOptions;
  private readonly outbox: Outbox;
  private readonly window: number;
  private readonly nowMs: () => number;
  private nc: NatsConnection | undefined;
  private js: JetStreamClient | undefined;
  private connected = false;
  private closing = false;
  private inflight = 0;
  private cursor = 0;
  private failing = false;
  private backoffMs = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private connectTimer: NodeJS.Timeout | undefined;
  private pumpScheduled = false;
  private lastWarning = '';
  private waiters: Array<() => void> = [];
  private readonly masker = new Masker();
  private readonly counts = { queued: 0, published: 0, acked: 0, duplicates: 0, failures: 0, dropped: 0 };

  constructor(o: PublisherOptions) {
    this.o = o;
    this.outbox = o.outbox;
    this.window = o.window ?? 256;
    this.nowMs = o.nowMs ?? Date.now;
  }

  /** Start connecting (in the background: findings queue in the outbox until a server answers). */
  start(): void {
    void this.connectLoop(0);
  }

  private async connectLoop(attempt: number): Promise<void> {
    if (this.closing) return;
    let nc: NatsConnection;
    try {
      nc = await connectNats(this.o.nats);
    } catch (e) {
      this.warnOnce(
        `cannot reach ${this.o.nats.servers.join(', ')}: ${(e as Error).message}; findings kept in the outbox`,
      );
      const delay = Math.min(MAX_BACKOFF_MS, 250 * 2 ** attempt);
      this.connectTimer = setTimeout(() => void this.connectLoop(attempt + 1), delay);
      return;
    }
    if (this.closing) {
      await nc.close();
      return;
    }
    this.nc = nc;
    this.js = jetstream(nc);
    this.connected = true;
    if (this.lastWarning) this.warn(`connected to ${nc.getServer()}; publishing ${this.outbox.size} kept finding(s)`);
    this.lastWarning = '';
    void this.watchStatus(nc);
    if (this.o.createStream) {
      try {
        const r = await ensureFindingsStream(
          await jetstreamManager(nc),
          this.o.streamMaxAgeMs !== undefined ? { maxAgeMs: this.o.streamMaxAgeMs } : {},
        );
        if (r.created) this.warn(`created stream ${r.info.config.name}`);
      } catch (e) {
        this.warnOnce(`cannot create the findings stream: ${(e as Error).message}`);
      }
    }
    this.schedulePump();
  }

  private async watchStatus(nc: NatsConnection): Promise<void> {
    for await (const s of nc.status()) {
      if (s.type === 'disconnect') {
        this.connected = false;
        this.warnOnce(`lost the connection to ${s.server}; findings kept in the outbox`);
      } else if (s.type === 'reconnect') {
        this.connected = true;
        this.warn(`reconnected to ${s.server}; publishing ${this.outbox.size} kept finding(s)`);
        this.lastWarning = '';
        this.schedulePump();
      }
    }
  }

  /** Wrap a finding in an envelope and keep it in the outbox; the pump publishes it. */
  enqueue(finding: Finding): void {
    // Messages leave the host: masked like every other record that does (the sinks mask what they write, and a
    // finding reaches the publisher before any sink has seen it).
    const env: FleetEnvelope = maskRecord(
      {
        v: 1,
        source: this.o.source,
        host: this.o.host,
        account: this.o.account ?? '_',
        region: this.o.region ?? '_',
        sent_at: new Date(this.nowMs()).toISOString(),
        finding,
      } satisfies FleetEnvelope,
      this.masker,
    );
    const subject = findingSubject({ ...env, severity: finding.severity });
    this.counts.queued++;
    try {
      this.counts.dropped += this.outbox.put(envelopeMsgId(env), subject, encodeEnvelope(env), this.nowMs());
    } catch (e) {
      // A full disk must not stop the command's own output: the finding is lost to the bus, and counted.
      this.counts.dropped++;
      this.warnOnce(`cannot write the outbox ${this.outbox.path}: ${(e as Error).message}; finding not published`);
      return;
    }
    this.schedulePump();
  }

  private schedulePump(): void {
    if (this.pumpScheduled) return;
    this.pumpScheduled = true;
    setImmediate(() => {
      this.pumpScheduled = false;
      this.pump();
    });
  }

  private pump(): void {
    if (!this.js || this.closing || this.failing || this.retryTimer) return;
    while (this.inflight < this.window) {
      const rows = this.outbox.next(this.cursor, this.window - this.inflight);
      if (rows.length === 0) break;
      for (const r of rows) {
        this.cursor = r.seq;
        this.send(this.js, r);
      }
    }
    this.notify();
  }

  private send(js: JetStreamClient, r: OutboxRow): void {
    this.inflight++;
    this.counts.published++;
    js.publish(r.subject, r.body, { msgID: r.msgId, timeout: this.o.ackTimeoutMs ?? 5000 }).then(
      (ack) => {
        this.counts.acked++;
        if (ack.duplicate) this.counts.duplicates++;
        this.outbox.ack(r.seq);
        this.backoffMs = 0;
        this.settled();
      },
      (e: Error) => {
        this.counts.failures++;
        this.failing = true;
        if (!this.closing) this.warnOnce(describePublishError(e));
        this.settled();
      },
    );
  }

  private settled(): void {
    this.inflight--;
    if (!this.failing) this.schedulePump();
    else if (this.inflight === 0 && !this.closing && !this.retryTimer) {
      // Everything sent before the failure has settled: start again from the oldest row left, after a pause.
      this.backoffMs = Math.min(MAX_BACKOFF_MS, Math.max(100, this.backoffMs * 2));
      const delay = this.backoffMs * (0.5 + Math.random() / 2);
      this.retryTimer = setTimeout(() => {
        this.retryTimer = undefined;
        this.failing = false;
        this.cursor = 0;
        this.pump();
      }, delay);
    }
    this.notify();
  }

  private notify(): void {
    if (this.waiters.length === 0) return;
    if (this.outbox.size > 0 || this.inflight > 0) return;
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /** Wait until the outbox is empty or `timeoutMs` has passed; returns the rows left. */
  async drain(timeoutMs: number): Promise<number> {
    this.schedulePump();
    if (this.outbox.size > 0 || this.inflight > 0) {
      let timer: NodeJS.Timeout | undefined;
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        timer = setTimeout(resolve, timeoutMs);
      });
      clearTimeout(timer);
    }
    return this.outbox.size;
  }

  stats(): PublishStats {
    return { ...this.counts, backlog: this.outbox.size, connected: this.connected };
  }

  /** Stop publishing; what is not acknowledged stays in the outbox for the next run. */
  async close(): Promise<void> {
    this.closing = true;
    clearTimeout(this.retryTimer);
    clearTimeout(this.connectTimer);
    const nc = this.nc;
    this.nc = undefined;
    this.js = undefined;
    if (nc) await nc.close().catch(() => undefined);
    for (const f of this.waiters.splice(0)) f();
    this.outbox.close();
  }

  private warn(m: string): void {
    this.o.warn?.(m);
  }

  /** The same problem is reported once until it changes or publishing works again. */
  private warnOnce(m: string): void {
    if (m === this.lastWarning) return;
    this.lastWarning = m;
    this.warn(m);
  }
}

function describePublishError(e: Error): string {
  const m = e.message || e.name;
  if (/jetstream is not enabled|no responders/i.test(m))
    return 'no stream takes the findings subjects (the hub creates it; or pass --create-stream); findings kept in the outbox';
  return `publish failed: ${m}; findings kept in the outbox`;
}
