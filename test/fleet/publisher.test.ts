import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Outbox } from '../../src/adapters/fleet/outbox.ts';
import { FleetPublisher } from '../../src/adapters/fleet/publisher.ts';
import { decodeEnvelope, envelopeMsgId } from '../../src/core/fleet/contract.ts';
import { type Finding, makeFinding } from '../../src/core/model/finding.ts';
import { createFindingsStream, NatsServer, natsUnavailable, streamMessages } from './nats-server.ts';

const skip = natsUnavailable();
const HOST = { id: 'host-a', name: 'a' };

function finding(i: number): Finding {
  return makeFinding({
    rule: { id: 'ssrf-metadata', name: 'SSRF to metadata' },
    severity: i % 2 ? 'high' : 'medium',
    confidence: 0.9,
    attack: [],
    title: `request ${i} for the metadata service`,
    remediation: 'fix it',
    origin: { file: 'access.log', line: i },
    idEvidence: ['access.log', i],
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('fleet publisher (real nats-server on loopback)', { skip }, () => {
  let dir: string;
  const servers: NatsServer[] = [];
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'imdsguard-pub-'));
  });
  after(async () => {
    for (const s of servers) await s.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  function publisher(server: NatsServer, outboxPath: string, maxRows = 100_000): FleetPublisher {
    const p = new FleetPublisher({
      nats: { servers: [server.url] },
      outbox: new Outbox(outboxPath, { maxRows }),
      source: 'scan',
      host: HOST,
      account: '123456789012',
      region: 'eu-west-1',
      ackTimeoutMs: 1000,
    });
    p.start();
    return p;
  }

  it('loses nothing and doubles nothing when the broker is killed and restarted mid-stream', async () => {
    const server = await NatsServer.create();
    servers.push(server);
    await createFindingsStream(server.url);
    const p = publisher(server, join(dir, 'kill.sqlite'));
    const n = 1500;
    for (let i = 0; i < n; i++) {
      p.enqueue(finding(i));
      if (i === 500) {
        await sleep(50);
        await server.kill();
      }
      if (i === 900) await server.start();
      if (i % 50 === 0) await sleep(5);
    }
    const left = await p.drain(30_000);
    const s = p.stats();
    await p.close();
    assert.equal(left, 0);
    assert.ok(s.failures > 0, 'the outage made some publishes fail');
    const msgs = await streamMessages(server.url);
    const ids = msgs.map((m) => m.msgId);
    assert.equal(new Set(ids).size, ids.length, 'no message id twice in the stream');
    const want = new Set(Array.from({ length: n }, (_, i) => envelopeMsgId({ host: HOST, finding: finding(i) })));
    assert.deepEqual(new Set(ids), want);
    const env = decodeEnvelope(msgs[0]!.body);
    assert.equal(env.source, 'scan');
    assert.equal(env.account, '123456789012');
  });

  it('keeps findings while the broker is down, bounded, and replays them after a sensor restart without doubles', async () => {
    const server = await NatsServer.create(false);
    servers.push(server);
    const path = join(dir, 'down.sqlite');
    const p1 = publisher(server, path, 100);
    for (let i = 0; i < 150; i++) p1.enqueue(finding(i));
    assert.equal(await p1.drain(300), 100);
    const s1 = p1.stats();
    assert.equal(s1.dropped, 50);
    assert.equal(s1.backlog, 100);
    assert.equal(s1.acked, 0);
    await p1.close();

    // The broker comes up; a new sensor process opens the same outbox and replays it.
    await server.start();
    await createFindingsStream(server.url);
    const p2 = publisher(server, path, 100);
    assert.equal(await p2.drain(20_000), 0);
    assert.equal(p2.stats().acked, 100);
    await p2.close();
    let msgs = await streamMessages(server.url);
    const want = Array.from({ length: 100 }, (_, i) => envelopeMsgId({ host: HOST, finding: finding(i + 50) }));
    assert.deepEqual(
      msgs.map((m) => m.msgId),
      want,
      'the 100 newest, in order: the oldest 50 were dropped by the bound',
    );

    // A sensor that crashed between the PubAck and forgetting the row publishes it again: the server drops it.
    const ob = new Outbox(path, { maxRows: 100 });
    for (const m of msgs.slice(0, 10)) ob.put(m.msgId, 'imds.v1.finding.123456789012.eu-west-1.scan.high', m.body, 0);
    assert.equal(ob.dropped, 50, 'the drop count lives in the outbox file');
    ob.close();
    const p3 = publisher(server, path, 100);
    assert.equal(await p3.drain(20_000), 0);
    assert.equal(p3.stats().duplicates, 10);
    await p3.close();
    msgs = await streamMessages(server.url);
    assert.equal(msgs.length, 100);
  });
});
