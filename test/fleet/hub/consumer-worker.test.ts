/**
 * One hub reader against Debian's nats-server: the lag it reports after a batch counts that batch's
 * acknowledgements, and it asks the server for the consumer's state once per fetch, not twice.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import pino from 'pino';
import { ensureConsumer } from '../../../src/adapters/fleet/hub/bus.ts';
import { ConsumerWorker } from '../../../src/adapters/fleet/hub/consumer-worker.ts';
import { ensureFindingsStream } from '../../../src/adapters/fleet/streams.ts';
import { NatsServer, natsUnavailable } from '../nats-server.ts';
import { manyFindings, publish, waitFor } from './harness.ts';

const skip = natsUnavailable();

describe('hub reader: lag and requests per fetch', { skip, timeout: 60_000 }, () => {
  let server: NatsServer;
  let nc: NatsConnection;
  let spy: NatsConnection;
  before(async () => {
    server = await NatsServer.create();
    nc = await connect({ servers: server.url });
    spy = await connect({ servers: server.url });
    await ensureFindingsStream(await jetstreamManager(nc), {});
  });
  after(async () => {
    await Promise.all([nc?.close(), spy?.close()]);
    await server?.dispose();
  });

  test('the lag reported after a batch is delivered counts its acknowledgements; one state request per fetch', async () => {
    const jsm = await jetstreamManager(nc);
    const consumer = await ensureConsumer(jsm, 'lag', {
      start: { kind: 'all' },
      replay: false,
      ackWaitMs: 30_000,
      maxAckPending: 1000,
    });
    // What the reader asks the server, seen from another connection of the same account.
    let infoRequests = 0;
    let fetches = 0;
    const sub = spy.subscribe(`$JS.API.CONSUMER.>`);
    void (async () => {
      for await (const m of sub) {
        if (!m.subject.endsWith(`.${consumer}`)) continue;
        if (m.subject.startsWith('$JS.API.CONSUMER.INFO.')) infoRequests++;
        if (m.subject.startsWith('$JS.API.CONSUMER.MSG.NEXT.')) fetches++;
      }
    })();
    await spy.flush();

    const N = 60;
    await publish(server.url, manyFindings(N, 'lag'));
    /** What the reader reported, in order. */
    const events: Array<['delivered' | 'lag', number]> = [];
    const worker = new ConsumerWorker({
      reader: 'lag',
      consumer,
      js: jetstream(nc),
      handle: async (b) => b.map(() => ({ ok: true as const })),
      batch: N,
      maxDeliver: 3,
      backoffMs: [100],
      deadLetter: null,
      counters: {
        delivered: (n) => events.push(['delivered', n]),
        retried: () => undefined,
        deadLettered: () => undefined,
        lag: (n) => events.push(['lag', n]),
      },
      log: pino({ level: process.env.DEBUG_HUB ? 'debug' : 'silent' }),
      expiresMs: 1000,
    });
    worker.start();
    try {
      await waitFor('the batch delivered and the lag after it', () => {
        const i = events.findIndex(([k]) => k === 'delivered');
        return i >= 0 && events.slice(i).some(([k]) => k === 'lag');
      });
      const i = events.findIndex(([k]) => k === 'delivered');
      assert.deepEqual(events[i], ['delivered', N]);
      // The lag that follows the delivery is read after the acknowledgements, not the state before the fetch.
      assert.deepEqual(
        events.slice(i).find(([k]) => k === 'lag'),
        ['lag', 0],
        JSON.stringify(events),
      );
      // A few more empty fetches: each asks for the consumer's state once (the consumer itself is taken once).
      await waitFor('three more fetches', () => fetches >= 4);
    } finally {
      await worker.stop();
    }
    await spy.flush();
    sub.unsubscribe();
    const lags = events.filter(([k]) => k === 'lag').length;
    assert.ok(lags >= 4, JSON.stringify(events));
    assert.ok(infoRequests <= lags + 1, `${infoRequests} consumer info requests for ${lags} fetches`);
  });
});

describe('hub reader: a batch refused for good is retried one finding at a time', { skip, timeout: 60_000 }, () => {
  let server: NatsServer;
  let nc: NatsConnection;
  before(async () => {
    server = await NatsServer.create();
    nc = await connect({ servers: server.url });
    await ensureFindingsStream(await jetstreamManager(nc), {});
  });
  after(async () => {
    await nc?.close();
    await server?.dispose();
  });

  test('only the finding the receiver refuses is dead-lettered; the rest of its batch is delivered', async () => {
    const consumer = await ensureConsumer(await jetstreamManager(nc), 'split', {
      start: { kind: 'all' },
      replay: false,
      ackWaitMs: 30_000,
      maxAckPending: 1000,
    });
    const N = 10;
    const envs = manyFindings(N, 'split');
    await publish(server.url, envs);
    const bad = envs[3]!.finding.id;
    let delivered = 0;
    let dead = 0;
    let calls = 0;
    const worker = new ConsumerWorker({
      reader: 'split',
      consumer,
      js: jetstream(nc),
      // As PostgreSQL's one INSERT or a webhook's 400: one bad finding refuses the whole request.
      handle: async (b) => {
        calls++;
        const refused = b.some((d) => d.envelope.finding.id === bad);
        return b.map(() =>
          refused ? { ok: false as const, retry: false, reason: 'check constraint' } : { ok: true as const },
        );
      },
      batch: N,
      maxDeliver: 3,
      backoffMs: [100],
      deadLetter: null,
      counters: {
        delivered: (n) => {
          delivered += n;
        },
        retried: () => undefined,
        deadLettered: (n) => {
          dead += n;
        },
        lag: () => undefined,
      },
      log: pino({ level: 'silent' }),
      expiresMs: 1000,
    });
    worker.start();
    try {
      await waitFor('every finding delivered or given up', () => delivered + dead >= N);
      assert.equal(dead, 1);
      assert.equal(delivered, N - 1);
      assert.ok(calls >= 2, `${calls} calls`);
    } finally {
      await worker.stop();
    }
  });
});
