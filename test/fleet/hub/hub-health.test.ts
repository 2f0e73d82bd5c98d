import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import pino from 'pino';
import { createFindingsStream, NatsServer, natsUnavailable } from '../nats-server.ts';
import { manyFindings, publish, startHub, tempDir, waitFor, writeConfig } from './harness.ts';

const skip = natsUnavailable();

describe('hub health, lag and retry logs follow a failing sink', { skip, timeout: 90_000 }, () => {
  let nats: NatsServer;
  const tmp = tempDir();
  // A receiver down for good: every request answers 503 (retried, never delivered).
  const down = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(503);
      res.end();
    });
  });
  before(async () => {
    nats = await NatsServer.create();
    await createFindingsStream(nats.url);
    await new Promise<void>((r) => down.listen(0, '127.0.0.1', r));
  });
  after(async () => {
    await nats?.dispose();
    await new Promise((r) => down.close(r));
    tmp.dispose();
  });

  test('/healthz says failing (503), lag counts what the sink holds, retries are logged rate-limited', async () => {
    const cfg = writeConfig(tmp.dir, {
      nats: { servers: [nats.url] },
      hub: { host_id: 'hub-1', batch: 10, max_deliver: 1000, backoff_ms: [50], ack_wait_ms: 2000 },
      correlator: { enabled: false },
      sinks: [
        {
          name: 'hook',
          type: 'webhook',
          url: `http://127.0.0.1:${(down.address() as AddressInfo).port}/h`,
          secret_env: 'S',
        },
        { name: 'local', type: 'findings-store', path: join(tmp.dir, 'findings.sqlite') },
      ],
    });
    const lines: Array<{ msg: string; reader?: string; retries?: number }> = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, cb) {
        for (const l of chunk.toString('utf8').split('\n').filter(Boolean)) lines.push(JSON.parse(l));
        cb();
      },
    });
    const hub = await startHub(cfg, { S: 'hook-secret' }, { metricsPort: 0, log: pino({ level: 'info' }, sink) });
    const url = `http://127.0.0.1:${hub.metricsPort}`;
    try {
      await publish(nats.url, manyFindings(5, 'health'));
      let body: { failing?: string[]; reader_state?: Record<string, { state: string }> } = {};
      await waitFor('/healthz 503', async () => {
        const r = await fetch(`${url}/healthz`);
        body = await r.json();
        return r.status === 503;
      });
      assert.deepEqual(body.failing, ['hook']);
      assert.equal(body.reader_state?.hook?.state, 'failing');
      assert.equal(body.reader_state?.local?.state, 'ok');
      await waitFor('lag 5 on the failing sink', async () =>
        /imdsguard_hub_lag_messages\{reader="hook"\} 5\b/.test(await (await fetch(`${url}/metrics`)).text()),
      );
      assert.match(await (await fetch(`${url}/metrics`)).text(), /imdsguard_hub_lag_messages\{reader="local"\} 0\b/);
      const retries = lines.filter((l) => l.msg === 'delivery failed; retrying with backoff');
      assert.ok(retries.length >= 1, 'a retry is logged');
      // Dozens of retries (50 ms apart) in the seconds above, one line per 10 s.
      assert.ok(retries.length <= 2, `${retries.length} retry lines`);
      assert.equal(retries[0]?.reader, 'hook');
    } finally {
      await hub.stop();
    }
  });
});
