import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { runCli, skipUnbuilt } from '../../e2e/helpers.ts';
import { NatsServer, natsUnavailable } from '../nats-server.ts';
import { tempDir, writeConfig } from './harness.ts';

const skip = natsUnavailable() || skipUnbuilt;

/** A hub that cannot start must say why and end with exit 2; a hang is killed after this long and fails. */
const HANG_MS = 15_000;

describe('hub start errors end the process with exit 2 and a clear message', { skip, timeout: 90_000 }, () => {
  let plain: NatsServer;
  let js: NatsServer;
  const tmp = tempDir();
  before(async () => {
    [plain, js] = await Promise.all([NatsServer.create(true, { jetstream: false }), NatsServer.create()]);
  });
  after(async () => {
    await Promise.all([plain?.dispose(), js?.dispose()]);
    tmp.dispose();
  });

  const hubConfig = (url: string, name: string, hub: Record<string, unknown> = {}) =>
    writeConfig(tmp.dir, { nats: { servers: [url] }, hub, correlator: { enabled: false } }, name);

  test('a server without JetStream', async () => {
    const r = await runCli(['hub', '--config', hubConfig(plain.url, 'plain.yaml')], { timeoutMs: HANG_MS });
    assert.equal(r.signal, null, 'the hub hung');
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /JetStream is not enabled on the NATS server at nats:\/\/127\.0\.0\.1:\d+/);
  });

  test('a metrics port already in use', async () => {
    const taken = createServer();
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', r));
    const port = (taken.address() as { port: number }).port;
    try {
      const r = await runCli(['hub', '--config', hubConfig(js.url, 'js.yaml'), '--metrics-port', String(port)], {
        timeoutMs: HANG_MS,
      });
      assert.equal(r.signal, null, 'the hub hung');
      assert.equal(r.status, 2, r.stderr);
      assert.match(r.stderr, new RegExp(`Cannot listen on 127\\.0\\.0\\.1:${port} for metrics: EADDRINUSE`));
    } finally {
      await new Promise((r) => taken.close(r));
    }
  });

  test('a sink that cannot be opened, and a dead-letter subject that would loop', async () => {
    const file = writeConfig(
      tmp.dir,
      {
        nats: { servers: [js.url] },
        correlator: { enabled: false },
        sinks: [{ name: 'local', type: 'findings-store', path: '/proc/imdsguard/findings.sqlite' }],
      },
      'sink.yaml',
    );
    const r = await runCli(['hub', '--config', file], { timeoutMs: HANG_MS });
    assert.equal(r.signal, null, 'the hub hung');
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /findings store "\/proc\/imdsguard\/findings\.sqlite"/);

    const loop = hubConfig(js.url, 'loop.yaml', { dead_letter: 'imds.v1.finding.dead' });
    const l = await runCli(['hub', '--config', loop], { timeoutMs: HANG_MS });
    assert.equal(l.status, 2, l.stderr);
    const line =
      readFileSync(loop, 'utf8')
        .split('\n')
        .findIndex((t) => t.includes('dead_letter:')) + 1;
    assert.ok(line > 1);
    assert.ok(
      l.stderr.includes(`loop.yaml:${line}:16: hub.dead_letter "imds.v1.finding.dead" overlaps imds.v1.finding.>`),
      l.stderr,
    );
  });
});
