import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { FindingStore } from '../../src/adapters/fleet/finding-store.ts';
import { envelopeMsgId, type FleetEnvelope } from '../../src/core/fleet/contract.ts';
import { type Finding, makeFinding } from '../../src/core/model/finding.ts';
import type { Severity } from '../../src/core/model/severity.ts';
import { ROOT, runCli, skipUnbuilt } from '../e2e/helpers.ts';

const LEAKS = join(ROOT, 'test', 'fixtures', 'leaks', 'access-combined.log');
// A key id shaped like AWS's, for the masking check (not a real credential).
const RAW_KEY = 'AKIAQ3EGU7LR2WNPQX7Z';

function envelope(host: string, source: FleetEnvelope['source'], finding: Finding): FleetEnvelope {
  return { v: 1, source, host: { id: `id-${host}`, name: host }, account: '_', region: '_', sent_at: '', finding };
}

function synthetic(i: number, severity: Severity, time: string, title: string): Finding {
  return makeFinding({
    rule: { id: `proxy-deny`, name: 'Metadata request refused by the proxy policy' },
    severity,
    confidence: 1,
    attack: [],
    title,
    remediation: 'r',
    origin: { sensor: 'proxy' },
    time,
    process: { pid: 100 + i, exe: `/usr/bin/tool${i}` },
    idEvidence: [i],
  });
}

describe('findings store and `imdsguard findings`', { skip: skipUnbuilt }, () => {
  let dir: string;
  let store: string;
  let scanned: Finding[];
  const hostB: Finding[] = [];
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'imdsguard-findings-'));
    store = join(dir, 'findings.sqlite');
    const r = await runCli(['scan', '--format', 'jsonl', LEAKS]);
    scanned = r.stdout
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Finding);
    assert.ok(scanned.length >= 5);
    hostB.push(
      synthetic(1, 'low', '2026-12-01T10:00:00Z', 'tool1 GET /latest/meta-data/: refused'),
      synthetic(2, 'high', '2026-12-02T10:00:00Z', 'tool2 GET /latest/api/token: refused'),
      synthetic(3, 'critical', '2026-12-03T10:00:00Z', `tool3 sent key ${RAW_KEY}: refused`),
    );
    const s = new FindingStore(store);
    assert.equal(
      s.upsertMany(
        scanned.map((f) => envelope('web-1', 'scan', f)),
        Date.parse('2026-12-04T00:00:00Z'),
      ),
      scanned.length,
    );
    for (const f of hostB) assert.equal(s.upsert(envelope('node-b', 'proxy', f), 1), true);
    // Replays and redeliveries: the same envelopes again change nothing.
    assert.equal(s.upsert(envelope('node-b', 'proxy', hostB[0]!), 2), false);
    assert.equal(
      s.upsertMany(
        scanned.map((f) => envelope('web-1', 'scan', f)),
        3,
      ),
      0,
    );
    assert.equal(s.count(), scanned.length + 3);
    s.close();
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const query = async (...args: string[]) => {
    const r = await runCli(['findings', '--store', store, '--format', 'jsonl', ...args]);
    assert.equal(r.status, 0, r.stderr);
    return r.stdout
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Finding & { fleet: { host: { id: string; name: string }; source: string } });
  };

  it('stores no secret unmasked', () => {
    const bytes = readFileSync(store).toString('latin1');
    assert.ok(!bytes.includes(RAW_KEY));
  });

  it('filters by severity, rule, host, source, text and time, and says which host reported each', async () => {
    const all = await query('--limit', '0');
    assert.equal(all.length, scanned.length + 3);
    assert.equal(all.at(-1)!.fleet.host.name, 'node-b', 'oldest first; the scan findings carry 2026-11-23');
    const high = await query('--severity', 'high');
    assert.deepEqual(
      high.map((f) => f.id).sort(),
      [...scanned, ...hostB]
        .filter((f) => f.severity === 'high' || f.severity === 'critical')
        .map((f) => f.id)
        .sort(),
    );
    const leaks = await query('--rule', 'credential-exposure*');
    assert.ok(leaks.length > 0);
    assert.ok(leaks.every((f) => f.rule.id.startsWith('credential-exposure')));
    assert.deepEqual(
      (await query('--host', 'node-b')).map((f) => f.id),
      hostB.map((f) => f.id),
    );
    assert.deepEqual(
      (await query('--host', 'id-node-b', '--source', 'proxy', '--severity', 'high')).map((f) => f.id),
      [hostB[1]!.id, hostB[2]!.id],
    );
    assert.deepEqual(
      (await query('--since', '2026-12-02T00:00:00Z', '--until', '2026-12-03T00:00:00Z')).map((f) => f.id),
      [hostB[1]!.id],
    );
    assert.deepEqual(
      (await query('--text', 'API/TOKEN')).map((f) => f.id),
      [hostB[1]!.id],
    );
    const byTarget = await query('--text', 'security-credentials/fake-web-role', '--rule', 'ssrf-metadata');
    assert.ok(byTarget.length > 0 && byTarget.every((f) => f.target?.raw.includes('fake-web-role')));
    const newest = await runCli(['findings', '--store', store, '--format', 'jsonl', '--limit', '2']);
    assert.deepEqual(
      newest.stdout
        .trim()
        .split('\n')
        .map((l) => (JSON.parse(l) as Finding).id),
      [hostB[1]!.id, hostB[2]!.id],
    );
    assert.match(newest.stderr, new RegExp(`the newest 2 of ${scanned.length + 3}`));
  });

  it('writes json and table through the usual sinks', async () => {
    const json = await runCli(['findings', '--store', store, '--format', 'json', '--host', 'node-b']);
    assert.equal(json.status, 0);
    assert.equal((JSON.parse(json.stdout) as unknown[]).length, 3);
    const table = await runCli(['findings', '--store', store, '--format', 'table', '--host', 'node-b']);
    assert.match(table.stdout, /\[CRITICAL\] tool3 sent key AKIA\*+/);
    assert.match(table.stdout, /host: {6}node-b \(proxy\)/);
  });

  it('a missing store or a bad time is a usage error naming it', async () => {
    const missing = await runCli(['findings', '--store', join(dir, 'nope.sqlite')]);
    assert.equal(missing.status, 2);
    assert.match(missing.stderr, /No findings store at ".*nope\.sqlite"/);
    const bad = await runCli(['findings', '--store', store, '--since', 'yesterday']);
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /ISO 8601/);
  });
});

describe('findings store keys', () => {
  it('are the envelope message ids: the same finding from two hosts is two rows', () => {
    const dir = mkdtempSync(join(tmpdir(), 'imdsguard-findings-keys-'));
    try {
      const s = new FindingStore(join(dir, 's.sqlite'));
      const f = synthetic(9, 'medium', '2026-12-01T00:00:00Z', 't');
      const a = envelope('a', 'scan', f);
      const b = envelope('b', 'scan', f);
      assert.notEqual(envelopeMsgId(a), envelopeMsgId(b));
      s.upsert(a, 1);
      s.upsert(b, 1);
      assert.equal(s.count(), 2);
      assert.deepEqual(
        s.query({ hosts: ['a'] }).rows.map((r) => r.msgId),
        [envelopeMsgId(a)],
      );
      s.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
