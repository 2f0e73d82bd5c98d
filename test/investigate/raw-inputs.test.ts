// investigate reading raw inputs itself: web and app logs, audit records, inventory and agent records, gzipped or
// not, under names that say nothing (or lie), and the findings store the hub writes. Each is read by the pipeline
// its content calls for, the summary says how, the links are scored against the attackers, and an input that cannot
// be read is named with its line while the others still count.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { FindingStore } from '../../src/adapters/fleet/finding-store.ts';
import type { FleetEnvelope } from '../../src/core/fleet/contract.ts';
import type { Finding } from '../../src/core/model/finding.ts';
import { runCli, skipUnbuilt } from '../e2e/helpers.ts';
import { attackers, type Composed, compose } from '../fixtures/investigate/compose.ts';
import { jsonLines, score } from './pipeline.ts';

// biome-ignore lint/suspicious/noExplicitAny: incident and finding records, read as parsed JSON
type Rec = Record<string, any>;

interface Raw {
  web: string;
  app: string;
  trail: string;
  instances: string;
  agent: string;
}

/** The composed raw inputs written under `dir`, under the names given. */
function writeRaw(dir: string, c: Composed, names: Partial<Raw> = {}, gzip: Partial<Record<keyof Raw, true>> = {}) {
  const out = {} as Raw;
  for (const k of ['web', 'app', 'trail', 'instances', 'agent'] as const) {
    const p = join(
      dir,
      names[k] ??
        { web: 'access.log', app: 'app.log', trail: 'trail.ndjson', instances: 'instances.json', agent: 'agent.jsonl' }[
          k
        ],
    );
    writeFileSync(p, gzip[k] ? gzipSync(c[k]) : c[k]);
    out[k] = p;
  }
  return out;
}

/** The findings the separate commands make of the same raw inputs (cloudtrail with the inventory as address book). */
async function reference(dir: string, raw: Raw): Promise<Rec[]> {
  const scan = await runCli(['scan', '--no-summary', '--format', 'jsonl', raw.web, raw.app]);
  const trail = await runCli(['cloudtrail', '--format', 'jsonl', '--inventory', raw.instances, raw.trail]);
  const posture = await runCli(['posture', '--format', 'jsonl', '--readiness', join(dir, 'r.txt'), raw.instances]);
  for (const r of [scan, trail, posture]) assert.ok(r.status === 0 || r.status === 1, r.stderr);
  return [
    ...jsonLines(scan.stdout),
    ...jsonLines(trail.stdout),
    ...jsonLines(posture.stdout),
    ...jsonLines(readFileSync(raw.agent, 'utf8')),
  ];
}

async function investigate(args: string[]) {
  const r = await runCli(['investigate', '--format', 'jsonl', ...args]);
  return { status: r.status, stderr: r.stderr, incidents: jsonLines(r.stdout) };
}

describe('investigate on raw inputs', { skip: skipUnbuilt }, () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'imdsguard-investigate-raw-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('logs, trail, inventory and agent records read by their own pipelines: the same incidents as from findings, every link right', async (t) => {
    const sub = join(dir, 'raw');
    mkdirSync(sub);
    const list = attackers(4);
    const raw = writeRaw(sub, compose(list, 2000));
    const findings = await reference(sub, raw);
    const direct = await investigate([raw.web, raw.app, raw.trail, raw.instances, raw.agent]);
    assert.equal(direct.status, 1, direct.stderr);
    const s = score(direct.incidents, findings, list);
    t.diagnostic(
      `raw inputs: links ${s.links}, precision ${s.precision.toFixed(3)}, link recall ${s.linkRecall.toFixed(3)}, pair recall ${s.pairRecall.toFixed(3)}`,
    );
    assert.deepEqual(s.wrong, []);
    assert.deepEqual(s.missing, []);
    assert.equal(s.pairRecall, 1);
    // The summary says how each input was read.
    assert.match(direct.stderr, /read as findings: .*agent\.jsonl \(\d+ findings\)/);
    assert.match(direct.stderr, /read as logs, by the rules of scan: .*access\.log, .*app\.log \(\d+ findings\)/);
    assert.match(
      direct.stderr,
      /read as audit records, by the correlator of cloudtrail: .*trail\.ndjson \(\d+ findings\)/,
    );
    assert.match(direct.stderr, /read as inventory, by the checks of posture .*instances\.json \(\d+ findings\)/);
    // The same incidents, with the same ids and steps, as from the findings the commands write.
    const files = ['scan', 'trail', 'posture', 'agent'].map((n) => join(sub, `${n}.jsonl`));
    const byKind = { scan: [] as Rec[], trail: [] as Rec[], posture: [] as Rec[], agent: [] as Rec[] };
    for (const f of findings) {
      const rule: string = f.rule.id;
      const k = f.process ? 'agent' : rule.startsWith('cloud-') ? 'trail' : f.resource ? 'posture' : 'scan';
      byKind[k].push(f);
    }
    for (const [i, k] of (['scan', 'trail', 'posture', 'agent'] as const).entries())
      writeFileSync(files[i]!, byKind[k].map((f) => JSON.stringify(f)).join('\n'));
    const viaFindings = await investigate(files);
    assert.equal(viaFindings.status, 1, viaFindings.stderr);
    const shape = (incs: Rec[]) =>
      incs.map((i) => [i.id, i.steps.map((st: Rec) => st.finding_id).sort(), i.links.length]);
    assert.deepEqual(shape(direct.incidents), shape(viaFindings.incidents));
    // Raw and findings of the same evidence together: each finding is one step.
    const both = await investigate([...files, raw.web, raw.app, raw.trail, raw.instances]);
    assert.deepEqual(shape(both.incidents), shape(direct.incidents));
  });

  test('decided by content, not name: a gzipped trail named .log, findings named .txt, a log named .json, a directory', async () => {
    const sub = join(dir, 'names');
    mkdirSync(sub);
    const list = attackers(2);
    const c = compose(list, 300);
    const raw = writeRaw(
      sub,
      c,
      { web: 'web.json', app: 'app.txt.gz', trail: 'events.log', instances: 'inv.ndjson', agent: 'agent.txt' },
      { trail: true, app: true },
    );
    const findings = await reference(sub, raw);
    const r = await investigate([sub]);
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /read as findings: [^\n]*agent\.txt \(/);
    assert.match(
      r.stderr,
      /read as logs, by the rules of scan: [^\n]*app\.txt\.gz[^\n]*web\.json|read as logs, by the rules of scan: [^\n]*web\.json/,
    );
    assert.match(r.stderr, /read as audit records[^\n]*events\.log \(/);
    assert.match(r.stderr, /read as inventory[^\n]*inv\.ndjson \(/);
    const s = score(r.incidents, findings, list);
    assert.deepEqual(s.wrong, []);
    assert.deepEqual(s.missing, []);
  });

  test('the findings store the hub writes, with --store or named as an input, joins the raw inputs', async () => {
    const sub = join(dir, 'store');
    mkdirSync(sub);
    const list = attackers(2);
    const raw = writeRaw(sub, compose(list, 200));
    const findings = await reference(sub, raw);
    // The web host published its scan findings to the hub; the trail and inventory are read here.
    const scanned = findings.filter((f) => f.rule.id.startsWith('ssrf') || f.rule.id.startsWith('credential-exposure'));
    assert.ok(scanned.length > 0);
    const storePath = join(sub, 'hub-findings.db');
    const store = new FindingStore(storePath);
    const env = (f: Rec): FleetEnvelope => ({
      v: 1,
      source: 'scan',
      host: { id: 'id-web-1', name: 'web-1' },
      account: '111122223333',
      region: 'us-west-2',
      sent_at: '2026-11-21T10:00:00Z',
      finding: f as Finding,
    });
    store.upsertMany(scanned.map(env), Date.parse('2026-11-21T10:00:01Z'));
    store.close();
    const rest = [raw.trail, raw.instances, raw.agent];
    const withFlag = await investigate(['--store', storePath, ...rest]);
    assert.equal(withFlag.status, 1, withFlag.stderr);
    assert.match(
      withFlag.stderr,
      /read as findings stores, as imdsguard findings reads them: [^\n]*hub-findings\.db \((\d+) findings\)/,
    );
    const n = Number(/hub-findings\.db \((\d+) findings\)/.exec(withFlag.stderr)![1]);
    assert.equal(n, scanned.length);
    const s = score(withFlag.incidents, findings, list);
    assert.deepEqual(s.wrong, []);
    assert.deepEqual(s.missing, []);
    // Named as an input, it is recognised by its content.
    const asInput = await investigate([storePath, ...rest]);
    assert.deepEqual(
      asInput.incidents.map((i) => i.id),
      withFlag.incidents.map((i) => i.id),
    );
    // A store alone reads no stdin.
    const alone = await investigate(['--store', storePath]);
    assert.equal(alone.status, 1, alone.stderr);
    assert.ok(alone.incidents.length > 0);
    // A store that is not there is an input error naming it; the other inputs still count.
    const missing = await investigate(['--store', join(sub, 'nope.db'), ...rest]);
    assert.equal(missing.status, 2);
    assert.match(missing.stderr, /nope\.db/);
    assert.ok(missing.incidents.length > 0);
  });

  test('an input that cannot be read is named with its line; the others still count', async () => {
    const sub = join(dir, 'bad');
    mkdirSync(sub);
    const list = attackers(1);
    const c = compose(list, 50);
    const raw = writeRaw(sub, c);
    // A trail with a broken record on line 3, a truncated gzip trail, a findings file with a bad record on line 2.
    const trailLines = c.trail.split('\n');
    trailLines.splice(2, 0, '{"eventVersion":"1.09","eventName": oops}');
    writeFileSync(raw.trail, trailLines.join('\n'));
    const gz = gzipSync(c.trail);
    writeFileSync(join(sub, 'cut.json.gz'), gz.subarray(0, Math.floor(gz.length / 2)));
    writeFileSync(join(sub, 'f.jsonl'), `${c.agent.split('\n')[0]}\n{"type":"finding","id":"x","severity":"loud"}\n`);
    const r = await investigate([
      raw.web,
      raw.app,
      raw.trail,
      join(sub, 'cut.json.gz'),
      join(sub, 'f.jsonl'),
      join(sub, 'absent.log'),
      raw.instances,
    ]);
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /trail\.ndjson:3: /);
    assert.match(r.stderr, /cut\.json\.gz[^\n]*(truncated|corrupt)/);
    assert.match(r.stderr, /f\.jsonl:2: a finding record needs/);
    assert.match(r.stderr, /absent\.log/);
    assert.match(r.stderr, /input problem\(s\); the incidents above come from everything else that was read/);
    const ssrf = r.incidents.find((i) => i.clients.includes(list[0]!.kind === 'ssrf' ? list[0]!.client : ''));
    assert.ok(ssrf, 'the readable inputs still make the incident');
    assert.ok(ssrf.stages.includes('cloud-use'), 'the readable trail records still count');
  });
});
