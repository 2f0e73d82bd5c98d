import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import type { RunningProxy } from '../../src/adapters/net/proxy-server.ts';
import { runProxy } from '../../src/app/proxy.ts';
import { envelopeMsgId } from '../../src/core/fleet/contract.ts';
import type { Finding } from '../../src/core/model/finding.ts';
import { type RunningFakeImds, startFakeImds } from '../fake-imds/server.ts';
import { call } from '../proxy/harness.ts';
import { createFindingsStream, freePort, NatsServer, natsUnavailable, streamMessages } from './nats-server.ts';

const skip = natsUnavailable();
const HOST = 'proxy-host';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function metric(port: number, name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
  if (!m) throw new Error(`${name} not on /metrics`);
  return Number(m[1]);
}

async function until(what: string, f: () => Promise<boolean>, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await f())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

describe('proxy --publish: findings on the bus, counts on /metrics (real nats-server on loopback)', { skip }, () => {
  let dir: string;
  let fake: RunningFakeImds;
  let server: NatsServer;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'imdsguard-pubd-'));
    fake = await startFakeImds({});
    server = await NatsServer.create();
    await createFindingsStream(server.url);
  });
  after(async () => {
    await server.dispose();
    await fake.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('publishes each refused request, keeps them through a broker outage and reports the backlog', async () => {
    const policy = join(dir, 'deny.yaml');
    writeFileSync(policy, 'rules:\n  - name: everything is refused\n    match: {}\n    action: deny\n');
    const out = join(dir, 'records.jsonl');
    const metricsPort = await freePort();
    let stop: () => void = () => undefined;
    let proxy: RunningProxy | undefined;
    const running = runProxy({
      policyFile: policy,
      listen: ['127.0.0.1:0'],
      upstream: [fake.url],
      format: 'jsonl',
      output: out,
      metricsPort,
      hashExe: false,
      python: false,
      log: pino({ level: 'silent' }),
      publish: {
        nats: { servers: [server.url] },
        hostId: HOST,
        outboxPath: join(dir, 'outbox.sqlite'),
        outboxMax: 1000,
        createStream: false,
        timeoutMs: 5000,
        required: false,
      },
      until: new Promise<void>((r) => {
        stop = r;
      }),
      onReady: (p) => {
        proxy = p;
      },
    });
    await until('the proxy', async () => proxy !== undefined);
    const port = proxy!.addresses[0]!.port;
    for (let i = 0; i < 5; i++) assert.equal((await call(port, 'GET', `/latest/meta-data/a${i}`)).status, 403);
    await until('5 acknowledgements', async () => (await metric(metricsPort, 'imdsguard_publish_acked_total')) === 5);
    assert.equal(await metric(metricsPort, 'imdsguard_publish_connected'), 1);

    await server.kill();
    for (let i = 0; i < 4; i++) assert.equal((await call(port, 'GET', `/latest/meta-data/b${i}`)).status, 403);
    await until('a backlog of 4', async () => (await metric(metricsPort, 'imdsguard_outbox_backlog')) === 4);
    await server.start();
    await until('the backlog to empty', async () => (await metric(metricsPort, 'imdsguard_outbox_backlog')) === 0);
    assert.equal(await metric(metricsPort, 'imdsguard_outbox_dropped_total'), 0);
    assert.ok((await metric(metricsPort, 'imdsguard_publish_failures_total')) > 0);
    stop();
    await running;

    const written = readFileSync(out, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Finding)
      .filter((r) => r.type === 'finding');
    assert.equal(written.length, 9);
    const ids = (await streamMessages(server.url)).map((m) => m.msgId);
    assert.equal(new Set(ids).size, ids.length);
    assert.deepEqual(ids.sort(), written.map((f) => envelopeMsgId({ host: { id: HOST }, finding: f })).sort());
  });
});
