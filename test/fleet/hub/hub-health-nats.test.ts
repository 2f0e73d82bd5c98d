/**
 * /healthz follows the connection to NATS: a broker killed (SIGKILL) leaves the client reconnecting, not closed, and
 * the hub must say it cannot reach the bus (503) until the connection is back, and log both changes.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import pino from 'pino';
import { createFindingsStream, NatsServer, natsUnavailable } from '../nats-server.ts';
import { startHub, tempDir, waitFor, writeConfig } from './harness.ts';

const skip = natsUnavailable();

describe('hub /healthz during a broker outage', { skip, timeout: 90_000 }, () => {
  let nats: NatsServer;
  const tmp = tempDir();
  before(async () => {
    nats = await NatsServer.create();
    await createFindingsStream(nats.url);
  });
  after(async () => {
    await nats?.dispose();
    tmp.dispose();
  });

  test('503 with nats "disconnected" while the broker is down, 200 again once it is back; both logged', async () => {
    const cfg = writeConfig(tmp.dir, {
      nats: { servers: [nats.url] },
      hub: { host_id: 'hub-1' },
      correlator: { enabled: false },
      sinks: [{ name: 'local', type: 'findings-store', path: join(tmp.dir, 'findings.sqlite') }],
    });
    const lines: Array<{ msg: string; server?: string }> = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, cb) {
        for (const l of chunk.toString('utf8').split('\n').filter(Boolean)) lines.push(JSON.parse(l));
        cb();
      },
    });
    const hub = await startHub(cfg, {}, { metricsPort: 0, log: pino({ level: 'info' }, sink) });
    const url = `http://127.0.0.1:${hub.metricsPort}/healthz`;
    const health = async () => {
      const r = await fetch(url);
      return { status: r.status, body: (await r.json()) as { status?: string; nats?: string } };
    };
    try {
      const up = await health();
      assert.equal(up.status, 200);
      assert.equal(up.body.nats, 'connected');

      await nats.kill();
      let down = up;
      await waitFor('/healthz 503 after the broker died', async () => {
        down = await health();
        return down.status === 503;
      });
      assert.equal(down.body.nats, 'disconnected');
      // It stays so for as long as the broker is down, not only at the moment it dropped.
      await new Promise((r) => setTimeout(r, 3000));
      assert.equal((await health()).status, 503);
      assert.equal(lines.filter((l) => l.msg.startsWith('lost the connection to NATS')).length, 1);

      await nats.start();
      let back = down;
      await waitFor('/healthz 200 after the broker came back', async () => {
        back = await health();
        return back.status === 200;
      });
      assert.equal(back.body.nats, 'connected');
      assert.ok(lines.some((l) => l.msg === 'reconnected to NATS'));
    } finally {
      await hub.stop();
    }
  });
});
