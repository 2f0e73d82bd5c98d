/**
 * Publishing findings to JetStream through the outbox. A finding is written to the outbox first; a pump sends what
 * the outbox holds, a bounded number at a time, with the envelope's message id; a row leaves the outbox only when the
 * server's PubAck for it arrives. Sending is JetStream's asynchronous publish: each message carries a reply subject
 * under one inbox this publisher subscribes to, and the stream answers there with its PubAck (or an error); one
 * timer, not one per message, gives up on acknowledgements that do not come. On any failure (broker gone, no stream, timeout) the pump waits for what is in
 * flight, backs off, and starts again from the oldest row left: what had in fact arrived comes back as a duplicate
 * and the server drops it.
 */
import { createInbox, headers, type Msg, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import {
  envelopeMsgId,
  type FleetEnvelope,
  type FleetHost,
  type FleetSource,
  findingSubject,
} from '../../core/fleet/contract.ts';
import { byteLength, fitEnvelope, HEADER_ALLOWANCE_BYTES } from '../../core/fleet/fit-envelope.ts';
import type { Finding } from '../../core/model/finding.ts';
import { Masker, maskRecord } from '../../core/secrets/masker.ts';
import { connectNats, type NatsClientOptions } from './nats-connection.ts';
import type { Outbox, OutboxRow } from './outbox.ts';

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

/** Who a finding is published for: the envelope's host, account and region. */
export type FleetSender = Pick<FleetEnvelope, 'host' | 'account' | 'region'>;

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
  /** Findings cut to fit the server's max_payload (published, with a marker where strings were cut). */
  cut: number;
  /** Findings too large for the server even cut: not published, each named in a warning. */
  oversized: number;
  /** Rows waiting in the outbox. */
  backlog: number;
  connected: boolean;
}

const MAX_BACKOFF_MS = 5000;
/** NATS's max_payload when the server has not said (1 MiB). */
const DEFAULT_MAX_PAYLOAD = 1024 * 1024;

export class FleetPublisher {
  private readonly o: PublisherOptions;
  private readonly outbox: Outbox;
  private readonly window: number;
  private readonly nowMs: () => number;
  private nc: NatsConnection | undefined;
  private acks: Subscription | undefined;
  private inbox = '';
  /** Rows sent and not yet answered: outbox seq → when sent. */
  private readonly inflightRows = new Map<number, number>();
  private sweepTimer: NodeJS.Timeout | undefined;
  private connected = false;
  private closing = false;
  private cursor = 0;
  private failing = false;
  private backoffMs = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private connectTimer: NodeJS.Timeout | undefined;
  private pumpScheduled = false;
  private lastWarning = '';
  private waiters: Array<() => void> = [];
  /** Findings enqueued in this turn of the event loop, and rows acknowledged: written in one transaction each. */
  private pendingRows: Array<Omit<OutboxRow, 'seq'>> = [];
  private pendingAcks: number[] = [];
  /** The envelope's fields other than the finding, masked once. */
  private readonly sender: Pick<FleetEnvelope, 'source' | 'host' | 'account' | 'region'>;
  private readonly masker = new Masker();
  private lastOn:
    | { on: FleetSender; sender: Pick<FleetEnvelope, 'source' | 'host' | 'account' | 'region'> }
    | undefined;
  private readonly counts = {
    queued: 0,
    published: 0,
    acked: 0,
    duplicates: 0,
    failures: 0,
    dropped: 0,
    cut: 0,
    oversized: 0,
  };

  constructor(o: PublisherOptions) {
    this.o = o;
    this.outbox = o.outbox;
    this.window = o.window ?? 256;
    this.nowMs = o.nowMs ?? Date.now;
    this.sender = maskRecord(
      { source: o.source, host: o.host, account: o.account ?? '_', region: o.region ?? '_' },
      this.masker,
    );
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
      if (this.closing) return;
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
    this.inbox = createInbox();
    // Subscriptions are restored by the client after a reconnect, so this one inbox serves the whole run.
    this.acks = nc.subscribe(`${this.inbox}.*`, { callback: (_err, m) => this.onReply(m) });
    this.sweepTimer = setInterval(() => this.sweep(), 250);
    this.connected = true;
    if (this.lastWarning) this.warn(`connected to ${nc.getServer()}; publishing ${this.outbox.size} kept finding(s)`);
    this.lastWarning = '';
    void this.watchStatus(nc);
    if (this.o.createStream) {
      try {
        // The JetStream API client is loaded only here: publishing itself needs no more than the core client.
        const [{ jetstreamManager }, { ensureFindingsStream }] = await Promise.all([
          import('@nats-io/jetstream'),
          import('./streams.ts'),
        ]);
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

  /**
   * Wrap a finding in an envelope for the outbox; the pump publishes it. The findings of one turn of the event loop
   * go to the outbox in one transaction, before any of them is published. `on` publishes it under another host,
   * account and region than this publisher's (a scan worker publishes for the host that queued the file).
   */
  enqueue(finding: Finding, on?: FleetSender): void {
    // Messages leave the host: masked like every other record that does (the sinks mask what they write, and a
    // finding reaches the publisher before any sink has seen it). A finding masked where it was made costs nothing.
    const env: FleetEnvelope = {
      v: 1,
      ...(on ? this.senderFor(on) : this.sender),
      sent_at: new Date(this.nowMs()).toISOString(),
      finding: maskRecord(finding, this.masker),
    };
    this.counts.queued++;
    // Cut to the server's limit here, after masking; a finding that cannot be cut small enough never enters the
    // outbox, where it would be refused at every try and hold up the findings behind it.
    const fit = fitEnvelope(env, this.maxPayload());
    if (!fit) {
      this.counts.oversized++;
      this.warn(
        `finding ${finding.id} (${finding.rule.id}) does not fit in one NATS message (max_payload ${this.maxPayload()} bytes) even cut: not published`,
      );
      return;
    }
    if (fit.cut) this.counts.cut++;
    this.pendingRows.push({
      msgId: envelopeMsgId(env),
      subject: findingSubject({ ...env, severity: finding.severity }),
      body: fit.body,
    });
    this.schedulePump();
  }

  /** Another sender's fields, masked once while the same sender goes on (a job's findings come in a row). */
  private senderFor(on: FleetSender): Pick<FleetEnvelope, 'source' | 'host' | 'account' | 'region'> {
    if (this.lastOn?.on !== on)
      this.lastOn = {
        on,
        sender: maskRecord(
          { source: this.o.source, host: on.host, account: on.account || '_', region: on.region || '_' },
          this.masker,
        ),
      };
    return this.lastOn.sender;
  }

  /** Write the findings enqueued and forget the rows acknowledged since the last turn. */
  private flush(): void {
    if (this.pendingRows.length > 0) {
      const rows = this.pendingRows;
      this.pendingRows = [];
      try {
        this.counts.dropped += this.outbox.putMany(rows, this.nowMs());
      } catch (e) {
        // A full disk must not stop the command's own output: these findings are lost to the bus, and counted.
        this.counts.dropped += rows.length;
        this.warnOnce(`cannot write the outbox ${this.outbox.path}: ${(e as Error).message}; findings not published`);
      }
    }
    if (this.pendingAcks.length > 0) {
      const acks = this.pendingAcks;
      this.pendingAcks = [];
      this.outbox.ack(acks);
    }
  }

  private schedulePump(): void {
    if (this.pumpScheduled || this.closing) return;
    this.pumpScheduled = true;
    setImmediate(() => {
      this.pumpScheduled = false;
      if (this.closing) return;
      this.flush();
      this.pump();
      this.notify();
    });
  }

  private get inflight(): number {
    return this.inflightRows.size;
  }

  private pump(): void {
    const nc = this.nc;
    if (!nc || !this.acks || this.closing || this.failing || this.retryTimer) return;
    while (this.inflight < this.window) {
      const rows = this.outbox.next(this.cursor, this.window - this.inflight);
      if (rows.length === 0) break;
      for (const r of rows) {
        this.cursor = r.seq;
        if (!this.send(nc, r)) return;
      }
    }
  }

  /** The server's message size limit (its INFO), or NATS's default before the first connection. */
  private maxPayload(): number {
    return this.nc?.info?.max_payload ?? DEFAULT_MAX_PAYLOAD;
  }

  private send(nc: NatsConnection, r: OutboxRow): boolean {
    const size = byteLength(r.body) + HEADER_ALLOWANCE_BYTES;
    if (size > this.maxPayload()) {
      // Kept from a server with a larger limit (or an older version): it can never be sent to this one. It leaves
      // the outbox with a warning naming it, instead of blocking the queue.
      this.counts.oversized++;
      this.pendingAcks.push(r.seq);
      this.schedulePump();
      this.warn(
        `outbox row ${r.msgId} is ${size} bytes, over the server's max_payload ${this.maxPayload()}: removed, not published`,
      );
      return true;
    }
    const h = headers();
    h.set('Nats-Msg-Id', r.msgId);
    this.counts.published++;
    this.inflightRows.set(r.seq, this.nowMs());
    try {
      nc.publish(r.subject, r.body, { reply: `${this.inbox}.${r.seq}`, headers: h });
      return true;
    } catch (e) {
      // Closed or draining: nothing was sent.
      this.fail(r.seq, e as Error);
      return false;
    }
  }

  /** A reply on the inbox: the PubAck of the row it names, an error from the stream, or "no responders". */
  private onReply(m: Msg): void {
    const seq = Number(m.subject.slice(this.inbox.length + 1));
    if (m.headers?.code === 503) {
      this.fail(seq, new Error('no responders'));
      return;
    }
    let ack: { stream?: string; duplicate?: boolean; error?: { description?: string } };
    try {
      ack = m.json();
    } catch {
      this.fail(seq, new Error('unreadable PubAck'));
      return;
    }
    if (ack.error || !ack.stream) {
      this.fail(seq, new Error(ack.error?.description ?? 'PubAck without a stream'));
      return;
    }
    // A PubAck after the row was given up on still means the message is stored: forget the row all the same.
    const waited = this.inflightRows.delete(seq);
    this.counts.acked++;
    if (ack.duplicate) this.counts.duplicates++;
    this.pendingAcks.push(seq);
    if (waited) this.backoffMs = 0;
    this.settled();
  }

  /** Rows whose PubAck did not come in time (a lost connection, a broker gone) count as failed. */
  private sweep(): void {
    const limit = this.nowMs() - (this.o.ackTimeoutMs ?? 5000);
    for (const [seq, sent] of this.inflightRows) if (sent <= limit) this.fail(seq, new Error('PubAck timed out'));
  }

  private fail(seq: number, e: Error): void {
    if (!this.inflightRows.delete(seq)) return;
    this.counts.failures++;
    this.failing = true;
    if (!this.closing) this.warnOnce(describePublishError(e));
    this.settled();
  }

  private settled(): void {
    if (this.closing) return;
    if (!this.failing) this.schedulePump();
    else if (this.inflight === 0 && !this.retryTimer) {
      // Everything sent before the failure has settled: start again from the oldest row left, after a pause.
      this.backoffMs = Math.min(MAX_BACKOFF_MS, Math.max(100, this.backoffMs * 2));
      const delay = this.backoffMs * (0.5 + Math.random() / 2);
      this.retryTimer = setTimeout(() => {
        this.retryTimer = undefined;
        this.failing = false;
        this.cursor = 0;
        this.flush();
        this.pump();
        this.notify();
      }, delay);
    } else this.schedulePump();
  }

  private backlog(): number {
    return this.outbox.size + this.pendingRows.length;
  }

  private notify(): void {
    if (this.waiters.length === 0) return;
    if (this.backlog() > 0 || this.inflight > 0) return;
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /** Wait until the outbox is empty or `timeoutMs` has passed; returns the rows left. */
  async drain(timeoutMs: number): Promise<number> {
    this.schedulePump();
    if (this.backlog() > 0 || this.inflight > 0) {
      let timer: NodeJS.Timeout | undefined;
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        timer = setTimeout(resolve, timeoutMs);
      });
      clearTimeout(timer);
    }
    return this.backlog();
  }

  stats(): PublishStats {
    return { ...this.counts, backlog: this.backlog(), connected: this.connected };
  }

  /** Stop publishing; what is not acknowledged stays in the outbox for the next run. */
  async close(): Promise<void> {
    this.closing = true;
    clearTimeout(this.retryTimer);
    clearTimeout(this.connectTimer);
    clearInterval(this.sweepTimer);
    const nc = this.nc;
    this.nc = undefined;
    this.acks = undefined;
    this.inflightRows.clear();
    if (nc) await nc.close().catch(() => undefined);
    for (const f of this.waiters.splice(0)) f();
    // What was enqueued is kept for the next run; what was acknowledged is forgotten.
    this.flush();
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
