// investigate end to end: raw web, app and trail logs, an inventory and agent records made into findings by the real
// commands, then linked into incidents by the built CLI. Scores every link against which attacker each finding
// belongs to.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Incident } from '../../src/core/investigate/incident.ts';
import { ROOT, runCli, skipUnbuilt } from '../e2e/helpers.ts';
import { type Attacker, attackers, compose } from '../fixtures/investigate/compose.ts';
import { type Findings, makeFindings, score } from './pipeline.ts';

const readJsonl = (p: string) =>
  readFileSync(p, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l));

async function investigate(args: string[]): Promise<{ status: number | null; incidents: Incident[]; stderr: string }> {
  const r = await runCli(['investigate', '--format', 'jsonl', ...args]);
  return {
    status: r.status,
    stderr: r.stderr,
    incidents: r.stdout
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l)),
  };
}

describe('investigate', { skip: skipUnbuilt }, () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'imdsguard-investigate-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  async function scenario(name: string, list: Attacker[], noise: number) {
    const sub = join(dir, name);
    const { mkdirSync } = await import('node:fs');
    mkdirSync(sub);
    const f = await makeFindings(sub, compose(list, noise));
    const findings = f.files.flatMap(readJsonl);
    const run = await investigate(f.files);
    assert.equal(run.status, 1, run.stderr);
    return { f, findings, incidents: run.incidents, score: score(run.incidents, findings, list) };
  }

  test('one attacker: SSRF → likely success → leak in the app log → key used elsewhere → reconnaissance, every link named', async (t) => {
    const list = attackers(1);
    const { incidents, score: s, findings } = await scenario('one', list, 0);
    t.diagnostic(`links ${s.links}, precision ${s.precision.toFixed(3)}, link recall ${s.linkRecall.toFixed(3)}`);
    assert.deepEqual(s.wrong, []);
    assert.deepEqual(s.missing, []);
    const ssrf = incidents.find((i) => i.clients.includes('203.0.113.10'));
    assert.ok(ssrf, 'the SSRF incident');
    assert.equal(ssrf.severity, 'critical');
    assert.deepEqual(ssrf.stages, [
      'ssrf-attempt',
      'ssrf-success',
      'credential-leak',
      'cloud-use',
      'cloud-recon',
      'posture',
    ]);
    // The chain's links, with their reasons and evidence.
    const reasons = new Set<string>(ssrf.links.map((l) => l.reason));
    for (const r of ['same-client', 'same-role-time-window', 'same-key-hash', 'shared-events', 'same-instance'])
      assert.ok(reasons.has(r), `a ${r} link in ${[...reasons]}`);
    const hashLink = ssrf.links.find((l) => l.reason === 'same-key-hash');
    assert.ok(hashLink);
    assert.ok(
      hashLink.evidence.some((e: string) => /app\.log:\d+$/.test(e)),
      'names the log line',
    );
    assert.ok(
      hashLink.evidence.some((e: string) => /^events ev-a0-/.test(e)),
      'names the trail events',
    );
    assert.ok(
      hashLink.evidence.some((e: string) => /^hmac-sha256:[0-9a-f]{24}$/.test(e)),
      'names the key hash',
    );
    assert.ok(
      ssrf.links.every((l) => l.confidence > 0.5),
      'nothing in this chain rests on time alone',
    );
    // Remediation names the role and the instance, and the WAF rule.
    const cmds = ssrf.remediation.flatMap((r) => r.commands).join('\n');
    assert.match(cmds, /put-role-policy --role-name web-role-0 --policy-name AWSRevokeOlderSessions/);
    assert.match(
      cmds,
      /modify-instance-metadata-options --instance-id i-0a1b2c3d4e5f60000 --http-tokens required --http-put-response-hop-limit 1/,
    );
    assert.match(cmds, /imdsguard export --to aws-waf/);
    // The host process: an IMDSv1 fetch of batch-role, then the key used outside.
    const host = incidents.find((i) => i.roles.includes('batch-role'));
    assert.ok(host);
    assert.ok(host.stages.includes('host-fetch') && host.stages.includes('cloud-use'));
    assert.ok(host.links.some((l) => l.reason.startsWith('same-role')));
    // No secret leaves unmasked.
    const all = JSON.stringify(incidents);
    for (const a of list) assert.ok(!all.includes(a.key), `key ${a.key} masked`);
    assert.equal(findings.filter((f) => f.evidence?.access_key_hashes).length > 0, true);
  });

  test('several attackers at once, with noise: every expected link, no link across attackers', async (t) => {
    const list = attackers(4);
    const { incidents, score: s } = await scenario('many', list, 3000);
    t.diagnostic(
      `links ${s.links}, correct ${s.correctLinks}, precision ${s.precision.toFixed(3)}, link recall ${s.linkRecall.toFixed(3)}, pair recall ${s.pairRecall.toFixed(3)}, incidents ${incidents.length}`,
    );
    assert.deepEqual(s.wrong, [], 'no link between unrelated findings');
    assert.deepEqual(s.missing, [], 'every expected link');
    assert.equal(s.pairRecall, 1, "each attacker's findings form one incident");
    for (const a of list) {
      const mine = incidents.filter((i) => i.roles.includes(a.role));
      assert.equal(mine.length, 1, `one incident for ${a.label}`);
    }
    const unrelated = incidents.find((i) => i.roles.includes('reporting-role'));
    assert.ok(unrelated, 'the unrelated key use is an incident of its own');
    assert.equal(unrelated.roles.length, 1);
  });

  test('stable ids: a re-run with more evidence updates incidents instead of adding new ones', async () => {
    const sub = join(dir, 'stable');
    const { mkdirSync } = await import('node:fs');
    mkdirSync(sub);
    const list = attackers(2);
    const f: Findings = await makeFindings(sub, compose(list, 100));
    const first = await investigate([f.scan, f.trail]);
    const second = await investigate(f.files);
    const ids1 = new Map(first.incidents.map((i) => [i.roles.join(','), i.id]));
    for (const a of list) {
      const later = second.incidents.find((i) => i.roles.includes(a.role));
      assert.ok(later, a.label);
      if (a.kind === 'ssrf') assert.equal(later.id, ids1.get(later.roles.join(',')), `${a.label} keeps its id`);
    }
    const again = await investigate(f.files);
    assert.deepEqual(
      again.incidents.map((i) => i.id),
      second.incidents.map((i) => i.id),
    );
    // The same finding read twice is one step.
    const twice = await investigate([...f.files, f.scan]);
    assert.deepEqual(
      twice.incidents.map((i) => [i.id, i.steps.length]),
      second.incidents.map((i) => [i.id, i.steps.length]),
    );
  });

  test('--incident, --since/--until and --format json select and shape the output', async () => {
    const sub = join(dir, 'select');
    const { mkdirSync } = await import('node:fs');
    mkdirSync(sub);
    const f = await makeFindings(sub, compose(attackers(2), 0));
    const all = await investigate(f.files);
    const target = all.incidents.find((i) => i.clients.includes('203.0.113.11'));
    assert.ok(target);
    const one = await investigate([...f.files, '--incident', target.id.slice(0, 12)]);
    assert.deepEqual(
      one.incidents.map((i) => i.id),
      [target.id],
    );
    const none = await investigate([...f.files, '--incident', 'inc-000000000000']);
    assert.equal(none.status, 2);
    assert.match(none.stderr, /no incident inc-000000000000/);
    // An existing output is neither emptied nor replaced when the incident is absent, nor when the id is too short.
    const { readFileSync, writeFileSync } = await import('node:fs');
    const kept = join(sub, 'kept.jsonl');
    writeFileSync(kept, 'OLD\n');
    const absent = await investigate([...f.files, '--incident', 'inc-000000000000', '-o', kept]);
    assert.equal(absent.status, 2);
    assert.equal(readFileSync(kept, 'utf8'), 'OLD\n');
    const short = await investigate([...f.files, '--incident', 'inc', '-o', kept]);
    assert.equal(short.status, 2);
    assert.match(short.stderr, /at least 8 characters/);
    assert.equal(readFileSync(kept, 'utf8'), 'OLD\n');
    const late = await investigate([...f.files, '--since', '2026-11-22T00:00:00Z']);
    assert.deepEqual(late.incidents, []);
    const early = await investigate([...f.files, '--until', '2026-11-20T00:00:00Z']);
    assert.deepEqual(early.incidents, []);
    const window = await investigate([
      ...f.files,
      '--since',
      '2026-11-21T09:00:00Z',
      '--until',
      '2026-11-21T09:20:00Z',
    ]);
    assert.ok(window.incidents.length > 0 && window.incidents.length <= all.incidents.length);
    const json = await runCli(['investigate', '--format', 'json', ...f.files]);
    const arr = JSON.parse(json.stdout);
    assert.equal(arr.length, all.incidents.length);
    assert.equal(arr[0].type, 'incident');
    const bad = await runCli(['investigate', '--since', 'yesterday-ish', ...f.files]);
    assert.equal(bad.status, 2);
  });

  test('the shipped examples make the README incident: SSRF → leak → key used elsewhere → reconnaissance', async () => {
    const sub = join(dir, 'examples');
    const { mkdirSync } = await import('node:fs');
    mkdirSync(sub);
    const ex = (n: string) => join(ROOT, 'examples', n);
    const out = (n: string) => join(sub, n);
    await runCli(['scan', '--no-summary', '-o', out('web.jsonl'), ex('access.log'), ex('app.log')]);
    await runCli(['cloudtrail', '-o', out('trail.jsonl'), ex('cloudtrail.json')]);
    await runCli(['posture', '--readiness', out('r.txt'), '-o', out('posture.jsonl'), ex('instances.json')]);
    const r = await investigate([out('web.jsonl'), out('trail.jsonl'), out('posture.jsonl')]);
    assert.equal(r.status, 1, r.stderr);
    const main = r.incidents[0];
    assert.ok(main);
    assert.equal(main.severity, 'critical');
    assert.deepEqual(main.clients, ['192.0.2.66']);
    assert.deepEqual(main.roles, ['web-prod-role']);
    assert.deepEqual(main.instances, ['i-0a1b2c3d4e5f60718']);
    const reasons = new Set<string>(main.links.map((l) => l.reason));
    for (const want of ['same-client', 'same-key-hash', 'shared-events', 'same-instance'])
      assert.ok(reasons.has(want), want);
    assert.equal(r.incidents.length, 3, 'the two other clients stay incidents of their own');
  });

  test('a malformed finding is an input error naming file and line; the rest is still read', async () => {
    const p = join(dir, 'bad.jsonl');
    writeFileSync(
      p,
      '{"type":"finding","id":"x1","rule":{"id":"ssrf-metadata"},"severity":"high","title":"t","client":{"ip":"192.0.2.1"}}\n' +
        '{"type":"finding","id":"x2","severity":"loud"}\nnot json\n',
    );
    const r = await investigate([p]);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /bad\.jsonl:2: a finding record needs/);
    assert.match(r.stderr, /bad\.jsonl:3/);
    assert.equal(r.incidents.length, 1);
  });
});
