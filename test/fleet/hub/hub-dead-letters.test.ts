import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { HUB_DEAD_STREAM } from '../../../src/core/fleet/contract.ts';
import { createFindingsStream, NatsServer, natsUnavailable } from '../nats-server.ts';
import { manyFindings, publish, startHub, tempDir, waitFor, writeConfig } from './harness.ts';

const skip = natsUnavailable();

/** The dead-letter stream's messages (reader and reason headers), or undefined when there is no such stream. */
async function deadLetters(url: string): Promise<Array<{ reader: string; reason: string }> | undefined> {
  const { connect } = await import('@nats-io/transport-node');
  const { jetstreamManager } = await import('@nats-io/jetstream');
  const nc = await connect({ servers: url });
  try {
    const jsm = await jetstreamManager(nc);
    const name = await jsm.streams.find('imds.v1.hub.dead.x').catch(() => undefined);
    if (!name) return undefined;
    const info = await jsm.streams.info(name);
    const out: Array<{ reader: string; reason: string }> = [];
    for (let seq = info.state.first_seq; info.state.messages > 0 && seq <= info.state.last_seq; seq++) {
      const m = await jsm.streams.getMessage(name, { seq });
      if (m) out.push({ reader: m.header.get('Imdsguard-Reader'), reason: m.header.get('Imdsguard-Reason') });
    }
    return out;
  } finally {
    await nc.close();
  }
}

async function deleteStream(url: string, name: string): Promise<void> {
  const { connect } = await import('@nats-io/transport-node');
  const { jetstreamManager } = await import('@nats-io/jetstream');
  const nc = await connect({ servers: url });
  try {
    await (await jetstreamManager(nc)).streams.delete(name);
  } finally {
    await nc.close();
  }
}

describe('hub dead letters are kept, never dropped', { skip, timeout: 90_000 }, () => {
  let nats: NatsServer;
  const tmp = tempDir();
  let posts = 0;
  // A receiver that refuses every document for good (400): each finding goes to the dead letters at once.
  const refusing = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      posts++;
      res.writeHead(400);
      res.end();
    });
  });
  before(async () => {
    nats = await NatsServer.create();
    await createFindingsStream(nats.url);
    await new Promise<void>((r) => refusing.listen(0, '127.0.0.1', r));
  });
  after(async () => {
    await nats?.dispose();
    await new Promise((r) => refusing.close(r));
    tmp.dispose();
  });

  test('the hub creates the dead-letter stream; with it deleted, a refused finding waits instead of being lost', async () => {
    const cfg = writeConfig(tmp.dir, {
      nats: { servers: [nats.url] },
      // dead_letter left at its default
      hub: { host_id: 'hub-1', batch: 10, backoff_ms: [200], ack_wait_ms: 2000 },
      correlator: { enabled: false },
      sinks: [
        {
          name: 'hook',
          type: 'webhook',
          url: `http://127.0.0.1:${(refusing.address() as AddressInfo).port}/h`,
          secret_env: 'S',
        },
      ],
    });
    const env = { S: 'hook-secret' } as NodeJS.ProcessEnv;
    assert.equal(await deadLetters(nats.url), undefined, 'no dead-letter stream before the hub');
    let hub = await startHub(cfg, env);
    await publish(nats.url, manyFindings(3, 'dead'));
    await waitFor('3 dead letters', async () => (await deadLetters(nats.url))?.length === 3);
    const dead = (await deadLetters(nats.url))!;
    assert.deepEqual(
      dead.map((d) => [d.reader, d.reason]),
      Array(3).fill(['hook', 'webhook 400']),
    );

    // The dead-letter stream gone while the hub runs: the next refused finding is kept in the findings stream and
    // tried again, not dropped.
    await deleteStream(nats.url, HUB_DEAD_STREAM);
    const before = posts;
    await publish(nats.url, manyFindings(1, 'kept'));
    await waitFor('the refused finding offered again', () => posts >= before + 2);
    await hub.stop();
    // A restarted hub makes the stream again, and the kept finding lands in it.
    hub = await startHub(cfg, env);
    await waitFor('the kept finding dead-lettered', async () => (await deadLetters(nats.url))?.length === 1);
    await hub.stop();
  });
});
