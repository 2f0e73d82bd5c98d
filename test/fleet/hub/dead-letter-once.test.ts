/**
 * A hub reader against Debian's nats-server: a dead letter published again — because the acknowledgement of the
 * first publish was lost while the server had stored it (a broker restart, a busy server) — is one dead letter, not
 * two, and is counted once.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect, headers, type NatsConnection } from '@nats-io/transport-node';
import pino from 'pino';
import { ensureConsumer } from '../../../src/adapters/fleet/hub/bus.ts';
import { ConsumerWorker } from '../../../src/adapters/fleet/hub/consumer-worker.ts';
import { ensureFindingsStream, ensureHubDeadStream } from '../../../src/adapters/fleet/streams.ts';
import { NatsServer, natsUnavailable } from '../nats-server.ts';
import { manyFindings, publish, waitFor } from './harness.ts';

const skip = natsUnavailable();

describe('hub reader: a dead letter published twice is kept and counted once', { skip, timeout: 60_000 }, () => {
  let server: NatsServer;
  let nc: NatsConnection;
  before(async () => {
    server = await NatsServer.create();
    nc = await connect({ servers: server.url });
  });
  after(async () => {
    await nc?.close();
    await server?.dispose();
  });

  test('the second publish of the same dead letter is dropped by the server and not counted', async () => {
    const jsm = await jetstreamManager(nc);
    const findingsStream = (await ensureFindingsStream(jsm, {})).info.config.name;
    const deadStream = await ensureHubDeadStream(jsm, 'imdsguard.dead');
    const consumer = await ensureConsumer(jsm, 'once', {
      start: { kind: 'all' },
      replay: false,
      ackWaitMs: 30_000,
      maxAckPending: 1000,
    });
    await publish(server.url, manyFindings(2, 'dead'));
    // The first delivery's dead letter reached the server before its acknowledgement was lost: it is already there.
    const js = jetstream(nc);
    const first = await jsm.streams.getMessage(findingsStream, { seq: 1 });
    assert.ok(first);
    const h = headers();
    h.set('Imdsguard-Reader', 'once');
    await js.publish('imdsguard.dead.once', first.data, { headers: h, msgID: `once-${findingsStream}-1` });

    let dead = 0;
    const worker = new ConsumerWorker({
      reader: 'once',
      consumer,
      js,
      // The sink refuses every finding for good: each goes to the dead letters at once.
      handle: async (b) => b.map(() => ({ ok: false as const, retry: false, reason: 'refused' })),
      batch: 10,
      maxDeliver: 3,
      backoffMs: [100],
      deadLetter: 'imdsguard.dead',
      counters: {
        delivered: () => undefined,
        retried: () => undefined,
        deadLettered: (n, dropped) => {
          if (!dropped) dead += n;
        },
        lag: () => undefined,
      },
      log: pino({ level: 'silent' }),
      expiresMs: 1000,
    });
    worker.start();
    try {
      await waitFor('both findings dead-lettered', () => dead >= 2);
      await new Promise((r) => setTimeout(r, 500));
    } finally {
      await worker.stop();
    }
    const info = await jsm.streams.info(deadStream);
    assert.equal(info.state.messages, 2, 'one dead letter per finding in the stream');
    assert.equal(dead, 2, 'each counted once');
  });
});
