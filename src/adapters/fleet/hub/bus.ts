/**
 * The hub's side of JetStream: connect, make sure the findings stream exists, and create or check one durable pull
 * consumer per reader (the correlator and each sink), so that each keeps its own position in the stream.
 */
import {
  AckPolicy,
  type ConsumerConfig,
  DeliverPolicy,
  type JetStreamClient,
  type JetStreamManager,
  jetstream,
  jetstreamManager,
} from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { ImdsguardError } from '../../../core/errors.ts';
import { FINDINGS_STREAM, FINDINGS_SUBJECTS } from '../../../core/fleet/contract.ts';
import { connectNats, type NatsClientOptions } from '../nats-connection.ts';
import { ensureFindingsStream } from '../streams.ts';

export interface Bus {
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  /** The connection's state as the client last reported it (`isClosed()` stays false through an outage). */
  link: BusLink;
}

/** Where the hub's connection to NATS stands, from the client's status events. */
export interface BusLink {
  state: 'connected' | 'disconnected' | 'closed';
  /** When it entered that state (ms since the epoch). */
  sinceMs: number;
  /** The server it lost or came back to. */
  server?: string;
}

export interface BusLinkEvents {
  /** The connection dropped: the client reconnects for ever, nothing is fetched or acknowledged meanwhile. */
  down(server: string | undefined): void;
  /** It came back, after `downMs`. */
  up(server: string, downMs: number): void;
}

/**
 * Follow the connection's status events: a broker killed leaves `isClosed()` false for as long as the client
 * reconnects, so only `disconnect` / `reconnect` say the hub cannot reach it.
 */
export function watchLink(nc: NatsConnection, events: BusLinkEvents, now: () => number = Date.now): BusLink {
  const link: BusLink = { state: 'connected', sinceMs: now() };
  void (async () => {
    for await (const s of nc.status()) {
      if (s.type === 'disconnect' && link.state === 'connected') {
        Object.assign(link, { state: 'disconnected', sinceMs: now(), server: s.server });
        events.down(s.server);
      } else if (s.type === 'reconnect') {
        const downMs = now() - link.sinceMs;
        Object.assign(link, { state: 'connected', sinceMs: now(), server: s.server });
        events.up(s.server, downMs);
      } else if (s.type === 'close') {
        Object.assign(link, { state: 'closed', sinceMs: now() });
      }
    }
  })().catch(() => undefined);
  void nc.closed().then(() => {
    link.state = 'closed';
  });
  return link;
}

const MS_TO_NS = 1_000_000;

/**
 * Connect (reconnecting for ever once connected: a broker restart must not end the hub) and make sure the findings
 * stream exists, holding the findings subjects. An existing stream's limits are its owner's.
 */
export async function openBus(o: NatsClientOptions, stream: { maxAgeMs: number }, events: BusLinkEvents): Promise<Bus> {
  let nc: NatsConnection;
  try {
    nc = await connectNats({ name: 'imdsguard-hub', ...o });
  } catch (e) {
    throw new ImdsguardError('E_CONFIG', `Cannot connect to NATS at ${o.servers.join(', ')}: ${(e as Error).message}`, {
      cause: e,
    });
  }
  try {
    const jsm = await jetstreamManager(nc);
    const { info } = await ensureFindingsStream(jsm, { maxAgeMs: stream.maxAgeMs });
    if (!info.config.subjects?.includes(FINDINGS_SUBJECTS))
      throw new ImdsguardError(
        'E_CONFIG',
        `Stream ${FINDINGS_STREAM} exists but does not hold ${FINDINGS_SUBJECTS} (subjects: ${info.config.subjects?.join(', ')})`,
      );
    return { nc, js: jetstream(nc), jsm, link: watchLink(nc, events) };
  } catch (e) {
    // The connection would keep the process alive after the error: close it.
    await nc.close().catch(() => undefined);
    if (e instanceof ImdsguardError) throw e;
    const msg = (e as Error).message;
    throw new ImdsguardError(
      'E_CONFIG',
      /jetstream (is )?not enabled/i.test(msg)
        ? `JetStream is not enabled on the NATS server at ${o.servers.join(', ')} (start nats-server with -js, or enable it for this account)`
        : `Cannot set up the findings stream on NATS at ${o.servers.join(', ')}: ${msg}`,
      { cause: e },
    );
  }
}

/** Where a consumer created afresh (or reset with --replay-from) starts. */
export type StartAt = { kind: 'new' } | { kind: 'all' } | { kind: 'time'; time: Date } | { kind: 'seq'; seq: number };

/** "all", "new", an ISO time, or a stream sequence number. */
export function parseReplayFrom(v: string): StartAt {
  if (v === 'all' || v === 'start') return { kind: 'all' };
  if (v === 'new') return { kind: 'new' };
  if (/^\d+$/.test(v)) {
    const seq = Number(v);
    if (seq < 1) throw new ImdsguardError('E_USAGE', '--replay-from sequence starts at 1');
    return { kind: 'seq', seq };
  }
  const t = Date.parse(v);
  if (!Number.isFinite(t))
    throw new ImdsguardError('E_USAGE', `--replay-from takes "all", a stream sequence or an ISO time, not "${v}"`);
  return { kind: 'time', time: new Date(t) };
}

export function consumerName(reader: string): string {
  return `imdsguard-hub-${reader.replace(/[^A-Za-z0-9_-]/g, '_')}`;
}

/**
 * Create the durable consumer of one reader, or check the existing one. `replay` recreates it from that point (the
 * stream keeps its messages; only this reader's position moves). Acknowledgement is explicit and redelivery is
 * the hub's to decide (nak with a delay; after max deliver a dead letter), so max_deliver is left unlimited here.
 */
export async function ensureConsumer(
  jsm: JetStreamManager,
  reader: string,
  o: { start: StartAt; replay: boolean; ackWaitMs: number; maxAckPending: number },
): Promise<string> {
  const name = consumerName(reader);
  let exists = false;
  try {
    await jsm.consumers.info(FINDINGS_STREAM, name);
    exists = true;
  } catch (e) {
    if (!/not found/i.test((e as Error).message)) throw e;
  }
  if (exists && !o.replay) return name;
  if (exists) await jsm.consumers.delete(FINDINGS_STREAM, name);
  const cfg: Partial<ConsumerConfig> = {
    durable_name: name,
    ack_policy: AckPolicy.Explicit,
    ack_wait: o.ackWaitMs * MS_TO_NS,
    max_ack_pending: o.maxAckPending,
    filter_subject: FINDINGS_SUBJECTS,
    deliver_policy: DeliverPolicy.All,
  };
  if (o.start.kind === 'new') cfg.deliver_policy = DeliverPolicy.New;
  if (o.start.kind === 'time') {
    cfg.deliver_policy = DeliverPolicy.StartTime;
    cfg.opt_start_time = o.start.time.toISOString();
  }
  if (o.start.kind === 'seq') {
    cfg.deliver_policy = DeliverPolicy.StartSequence;
    cfg.opt_start_seq = o.start.seq;
  }
  await jsm.consumers.add(FINDINGS_STREAM, cfg);
  return name;
}
