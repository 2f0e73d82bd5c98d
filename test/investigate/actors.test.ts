// Attackers who share something (a role name, an instance, an inventory line, a log under two spellings) stay
// separate incidents, and more evidence never merges or splits them: raw inputs composed with every attacker's own
// address and key, made into findings by the real commands and linked by the built CLI.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runCli, skipUnbuilt } from '../e2e/helpers.ts';
import { type Attacker, attackers, compose } from '../fixtures/investigate/compose.ts';
import { actorsOf, jsonLines, makeFindings, score } from './pipeline.ts';

// biome-ignore lint/suspicious/noExplicitAny: incident and finding records, read as parsed JSON
type Rec = Record<string, any>;

async function investigate(args: string[], cwd?: string) {
  const r = await runCli(['investigate', '--format', 'jsonl', ...args], cwd ? { cwd } : {});
  assert.ok(r.status === 0 || r.status === 1, r.stderr);
  return jsonLines(r.stdout);
}

/** The attackers each incident holds, by what its steps (settings aside) are about. */
function attackersPerIncident(incidents: Rec[], findings: Rec[], list: readonly Attacker[]): string[][] {
  const byId = new Map(findings.map((f) => [f.id as string, f]));
  return incidents
    .map((inc) => [
      ...new Set(
        inc.steps
          .filter((s: Rec) => s.kind !== 'posture')
          .flatMap((s: Rec) => actorsOf(byId.get(s.finding_id) ?? {}, list))
          .filter((l: string) => /^a\d+$|^host$/.test(l)),
      ),
    ])
    .filter((l) => l.length > 0)
    .map((l) => (l as string[]).sort());
}

describe('investigate keeps attackers apart', { skip: skipUnbuilt }, () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'imdsguard-investigate-actors-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test("two thieves of one instance's role: the trail's findings are each one thief's, two incidents", async () => {
    const sub = join(dir, 'trail');
    mkdirSync(sub);
    const list = attackers(2, undefined, { sharedRole: 'web-role', sharedInstance: true }).filter(
      (a) => a.kind === 'ssrf',
    );
    const trail = join(sub, 'trail.ndjson');
    writeFileSync(trail, compose(list).trail);
    const ct = await runCli(['cloudtrail', '--format', 'jsonl', trail]);
    const findings = jsonLines(ct.stdout);
    const recon = findings.filter((f) => f.rule.id === 'cloud-instance-role-reconnaissance');
    assert.ok(recon.length >= 2, 'one reconnaissance finding per thief');
    for (const f of findings) assert.equal(actorsOf(f, list).length, 1, `${f.title}: one thief's records`);
    const incidents = await investigate([trail]);
    assert.deepEqual(attackersPerIncident(incidents, findings, list).sort(), [['a0'], ['a1']]);
  });

  test('every instance of a one-line inventory keeps its own setting: each incident shows its instance, none is lost', async () => {
    const sub = join(dir, 'inventory');
    mkdirSync(sub);
    const list = attackers(3).filter((a) => a.kind === 'ssrf');
    const c = compose(list);
    const trail = join(sub, 'trail.ndjson');
    const inventory = join(sub, 'instances.json');
    writeFileSync(trail, c.trail);
    // describe-instances written compact: every instance on line 1.
    writeFileSync(inventory, `${JSON.stringify(JSON.parse(c.instances))}\n`);
    const incidents = await investigate([trail, inventory]);
    for (const a of list) {
      const mine = incidents.filter((i) => i.instances.includes(a.instance));
      assert.equal(mine.length, 1, `one incident for ${a.label}`);
      const settings = mine[0]!.steps.filter((s: Rec) => s.kind === 'posture');
      assert.equal(settings.length, 1, `${a.label}: its instance's setting`);
      assert.match(settings[0]!.facts.resource, new RegExp(a.instance));
    }
  });

  test('one log under any spelling, from any directory, with or without its findings: the same steps, links and ids', async () => {
    const sub = join(dir, 'spellings');
    mkdirSync(sub);
    const c = compose(attackers(2).filter((a) => a.kind === 'ssrf'));
    writeFileSync(join(sub, 'access.log'), c.web);
    writeFileSync(join(sub, 'app.log'), c.app);
    // Findings made in the logs' directory name them relative to it.
    const scan = await runCli(['scan', '--no-summary', '--format', 'jsonl', '-o', 'f.jsonl', 'access.log', 'app.log'], {
      cwd: sub,
    });
    assert.ok(scan.status === 1, scan.stderr);
    const shape = (incs: Rec[]) =>
      incs
        .map((i) => ({
          id: i.id,
          steps: i.steps.length,
          links: i.links.map((l: Rec) => l.reason).sort(),
        }))
        .sort((a, b) => (a.id < b.id ? -1 : 1));
    const here = shape(await investigate(['f.jsonl'], sub));
    assert.ok(
      here.some((i) => i.links.includes('same-line')),
      'the request and the leak on one line are linked',
    );
    assert.deepEqual(shape(await investigate([join(sub, 'f.jsonl')])), here, 'run from another directory');
    assert.deepEqual(shape(await investigate(['./access.log', 'app.log'], sub)), here, 'the raw logs');
    assert.deepEqual(
      shape(await investigate([join(sub, 'access.log'), join(sub, 'app.log')])),
      here,
      'the raw logs by absolute path',
    );
    assert.deepEqual(
      shape(await investigate([join(sub, 'f.jsonl'), join(sub, 'access.log'), join(sub, 'app.log')])),
      here,
      'findings and the raw logs they were made from',
    );
    assert.deepEqual(
      shape(await investigate(['f.jsonl', './app.log', 'app.log', join(sub, 'app.log'), 'access.log'], sub)),
      here,
      'one log under three spellings at once',
    );
  });

  test('ten thieves of one role on one instance that allows IMDSv1, in noise: every link right, ten incidents', async (t) => {
    const sub = join(dir, 'ten');
    mkdirSync(sub);
    const list = attackers(10, undefined, { sharedRole: 'web-role', sharedInstance: true });
    const f = await makeFindings(sub, compose(list, 500));
    const findings = f.files.flatMap((p) => jsonLines(readFileSync(p, 'utf8')));
    const incidents = await investigate(f.files);
    const s = score(incidents, findings, list);
    t.diagnostic(
      `links ${s.links}, precision ${s.precision.toFixed(3)}, pair precision ${s.pairPrecision.toFixed(3)}, pair recall ${s.pairRecall.toFixed(3)}`,
    );
    assert.deepEqual(s.wrong, [], 'no link between two thieves');
    assert.equal(s.pairPrecision, 1, 'no incident holds two thieves');
    const per = attackersPerIncident(incidents, findings, list);
    for (const a of list)
      assert.ok(
        per.some((l) => l.length === 1 && l[0] === a.label),
        `${a.label} has an incident of its own`,
      );
    // The instance's setting is shown in each thief's incident that used its credentials.
    const withSetting = incidents.filter((i) => i.steps.some((st: Rec) => st.kind === 'posture'));
    assert.ok(withSetting.length >= 10, `${withSetting.length} incidents show the setting`);
  });
});
