import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Outbox } from '../../src/adapters/fleet/outbox.ts';
import { FleetPublisher } from '../../src/adapters/fleet/publisher.ts';
import { decodeEnvelope, envelopeMsgId } from '../../src/core/fleet/contract.ts';
import { TRUNCATION_MARKER } from '../../src/core/fleet/fit-envelope.ts';
import { type Finding, makeFinding } from '../../src/core/model/finding.ts';
import { createFindingsStream, NatsServer, natsUnavailable, streamMessages } from './nats-server.ts';

const skip = natsUnavailable();
const HOST = { id: 'host-a', name: 'a' };
// Shaped like an AWS access key id (not a real credential): masking must come before the cut.
const KEY = 'AKIAQ3EGU7LR2WNPQX7Z';

function finding(i: number, evidenceChars = 0): Finding {
  return makeFinding({
    rule: { id: 'ssrf-metadata', name: 'SSRF to metadata' },
    severity: 'high',
    confidence: 0.9,
    attack: [],
    title: `request ${i} for the metadata service`,
    remediation: 'fix it',
    origin: { file: 'access.log', line: i },
    ...(evidenceChars > 0 ? { evidence: { line: `key=${KEY} ${'x'.repeat(evidenceChars)}` } } : {}),
    idEvidence: ['access.log', i],
  });
}

describe('findings larger than the server max_payload (real nats-server with max_payload 4096)', { skip }, () => {
  let dir: string;
  let server: NatsServer;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'imdsguard-pub-big-'));
    server = await NatsServer.create(true, { config: 'max_payload: 4096' });
    await createFindingsStream(server.url);
  });
  after(async () => {
    await server?.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  it('are cut after masking and published, or removed with a warning, and never hold up the queue', async () => {
    const warnings: string[] = [];
    const p = new FleetPublisher({
      nats: { servers: [server.url] },
      outbox: new Outbox(join(dir, 'outbox.sqlite'), { maxRows: 1000 }),
      source: 'scan',
      host: HOST,
      account: '123456789012',
      region: 'eu-west-1',
      ackTimeoutMs: 1000,
      warn: (m) => warnings.push(m),
    });
    p.start();
    // Before the first connection the server's limit is unknown: this one goes to the outbox whole (20 kB) and is
    // removed when it comes to be sent.
    const early = finding(1, 20_000);
    p.enqueue(early);
    const end = Date.now() + 15_000;
    while (!p.stats().connected && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
    assert.ok(p.stats().connected);
    const big = finding(2, 50_000);
    const small = [finding(3), finding(4)];
    p.enqueue(big);
    for (const f of small) p.enqueue(f);
    const left = await p.drain(15_000);
    const s = p.stats();
    await p.close();
    assert.equal(left, 0, 'nothing is left blocking the outbox');
    assert.equal(s.cut, 1);
    assert.equal(s.oversized, 1);
    assert.ok(
      warnings.some((w) => w.includes(envelopeMsgId({ host: HOST, finding: early })) && /max_payload 4096/.test(w)),
      warnings.join('\n'),
    );
    const msgs = await streamMessages(server.url);
    const byId = new Map(msgs.map((m) => [m.msgId, m.body]));
    assert.ok(!byId.has(envelopeMsgId({ host: HOST, finding: early })));
    for (const f of small) assert.ok(byId.has(envelopeMsgId({ host: HOST, finding: f })));
    const cut = byId.get(envelopeMsgId({ host: HOST, finding: big }))!;
    assert.ok(Buffer.byteLength(cut) <= 4096);
    const env = decodeEnvelope(cut);
    assert.equal(env.finding.id, big.id);
    const line = String((env.finding.evidence as { line: string }).line);
    assert.ok(line.endsWith(TRUNCATION_MARKER), line.slice(-80));
    assert.ok(!cut.includes(KEY), 'the key is masked before the cut');
    assert.match(line, /^key=AKIA\*+/);
  });
});
