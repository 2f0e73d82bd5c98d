// investigate's command line and inputs at their edges: the time window, incident id prefixes, a first record longer
// than what is looked at, records of another kind among findings, a cut gzip log, file names with line breaks in
// them, and the line a finding made from audit records is read at.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { runCli, skipUnbuilt } from '../e2e/helpers.ts';
import { attackers, compose } from '../fixtures/investigate/compose.ts';
import { jsonLines, makeFindings } from './pipeline.ts';

// biome-ignore lint/suspicious/noExplicitAny: incident records, read as parsed JSON
type Rec = Record<string, any>;

async function investigate(args: string[]) {
  const r = await runCli(['investigate', '--format', 'jsonl', ...args]);
  return { status: r.status, stderr: r.stderr, incidents: jsonLines(r.stdout) };
}

const finding = (id: string, extra: Rec = {}) => ({
  type: 'finding',
  schema_version: '1',
  id,
  rule: { id: 'ssrf-metadata', name: 'SSRF' },
  severity: 'high',
  confidence: 0.9,
  title: 'SSRF',
  time: '2026-11-21T09:00:00Z',
  client: { ip: '192.0.2.5' },
  origin: { file: 'access.log', line: 1 },
  ...extra,
});

describe('investigate inputs and options at their edges', { skip: skipUnbuilt }, () => {
  let dir: string;
  let files: string[];
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'imdsguard-investigate-cli-'));
    const sub = join(dir, 'composed');
    mkdirSync(sub);
    files = (await makeFindings(sub, compose(attackers(2), 50))).files;
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('--since after --until, and times that do not exist, are usage errors (exit 2)', async () => {
    const inverted = await investigate([
      ...files,
      '--since',
      '2026-11-21T10:00:00Z',
      '--until',
      '2026-11-21T09:00:00Z',
    ]);
    assert.equal(inverted.status, 2);
    assert.match(inverted.stderr, /--since 2026-11-21T10:00:00\.000Z is after --until/);
    assert.deepEqual(inverted.incidents, []);
    for (const bad of ['2026-02-30T00:00:00Z', '2026-11-21T09:00:00', '1', 'Dec 5 2026']) {
      const r = await investigate([...files, '--until', bad]);
      assert.equal(r.status, 2, bad);
      assert.match(r.stderr, /expected an RFC 3339 time/, bad);
    }
    const same = await investigate([...files, '--since', '2026-11-21T09:00:00Z', '--until', '2026-11-21T09:00:00Z']);
    assert.equal(same.status === 0 || same.status === 1, true, same.stderr);
  });

  test('--incident takes any prefix of 8 characters, inc- counted or left out; an ambiguous one is refused', async () => {
    const all = await investigate(files);
    const target = all.incidents[0]!;
    for (const given of [target.id.slice(0, 8), target.id.slice(4, 12), target.id.toUpperCase()]) {
      const one = await investigate([...files, '--incident', given]);
      const matches = all.incidents.filter((i) => i.id.startsWith(`inc-${given.toLowerCase().replace(/^inc-/, '')}`));
      if (matches.length === 1) {
        assert.equal(one.status, 1, `${given}: ${one.stderr}`);
        assert.deepEqual(
          one.incidents.map((i) => i.id),
          [target.id],
        );
      } else assert.equal(one.status, 2);
    }
    // A prefix shared by several incidents names none of them.
    const ids = all.incidents.map((i) => i.id);
    let shared = '';
    for (let n = 8; n <= 12 && !shared; n++) {
      const counts = new Map<string, number>();
      for (const id of ids) counts.set(id.slice(0, n), (counts.get(id.slice(0, n)) ?? 0) + 1);
      shared = [...counts].find(([, c]) => c > 1)?.[0] ?? '';
    }
    if (shared) {
      const r = await investigate([...files, '--incident', shared]);
      assert.equal(r.status, 2);
      assert.match(r.stderr, /incidents begin with/);
    }
    const short = await investigate([...files, '--incident', 'inc-582']);
    assert.equal(short.status, 2);
    assert.match(short.stderr, /at least 8 characters/);
  });

  test('an ambiguous --incident prefix writes nothing, to stdout either, and names the incidents it matches', async () => {
    // Two scanner requests whose incidents' ids share their first 8 characters (inc-a886…), lines 22 and 57.
    const benign = '198.51.100.1 - - [21/Nov/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 10 "-" "curl"';
    const lines = Array.from({ length: 57 }, () => benign);
    lines[21] =
      '198.18.136.73 - - [21/Nov/2026:11:00:21 +0000] "GET /p?url=http://169.254.169.254/latest/meta-data/21 HTTP/1.1" 403 150 "-" "zgrab"';
    lines[56] =
      '198.18.137.62 - - [21/Nov/2026:11:00:56 +0000] "GET /p?url=http://169.254.169.254/latest/meta-data/56 HTTP/1.1" 403 150 "-" "zgrab"';
    const sub = join(dir, 'ambiguous');
    mkdirSync(sub);
    writeFileSync(join(sub, 'access.log'), `${lines.join('\n')}\n`);
    const all = await runCli(['investigate', '--no-summary', '--format', 'jsonl', 'access.log'], { cwd: sub });
    const ids = jsonLines(all.stdout).map((i) => i.id as string);
    const shared = ids.filter((id) => id.startsWith('inc-a886'));
    assert.equal(shared.length, 2, ids.join(' '));
    const r = await runCli(
      ['investigate', '--no-summary', '--format', 'jsonl', 'access.log', '--incident', 'inc-a886'],
      {
        cwd: sub,
      },
    );
    assert.equal(r.status, 2);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /2 incidents begin with inc-a886 .*no output written/);
    for (const id of shared) assert.ok(r.stderr.includes(id), r.stderr);
    // A longer prefix picks one, and it is written.
    const one = await runCli(
      ['investigate', '--no-summary', '--format', 'jsonl', 'access.log', '--incident', shared[0]!.slice(0, 12)],
      {
        cwd: sub,
      },
    );
    assert.deepEqual(
      jsonLines(one.stdout).map((i) => i.id),
      [shared[0]],
    );
  });

  test('a role cut short by the decoder (web\'role$(id)) is shown as written and gets no revoke command for "web"', async () => {
    const sub = join(dir, 'cut-role');
    mkdirSync(sub);
    writeFileSync(
      join(sub, 'access.log'),
      '198.18.7.21 - - [21/Nov/2026:11:00:03 +0000] "GET /p?url=http://169.254.169.254/latest/meta-data/iam/security-credentials/web\'role$(id) HTTP/1.1" 200 1342 "-" "curl/8.5.0"\n' +
        '198.18.7.22 - - [21/Nov/2026:11:00:04 +0000] "GET /p?url=http://169.254.169.254/latest/meta-data/iam/security-credentials/web-prod HTTP/1.1" 200 1342 "-" "curl/8.5.0"\n',
    );
    const r = await runCli(['investigate', '--no-summary', '--format', 'jsonl', 'access.log'], { cwd: sub });
    assert.equal(r.status, 1, r.stderr);
    const incidents = jsonLines(r.stdout);
    const roles = incidents.flatMap((i) => i.roles as string[]).sort();
    assert.deepEqual(roles, ["web'role$(id)", 'web-prod']);
    const commands = incidents.flatMap((i) => (i.remediation as Rec[]).flatMap((x) => x.commands as string[]));
    const revoked = commands.map((c) => /--role-name (\S+)/.exec(c)?.[1]).filter(Boolean);
    // The valid one still gets its command: the check is on the name, not on the incident.
    assert.deepEqual(revoked, ['web-prod']);
  });

  test('a findings file whose first record is longer than a MiB is read as findings', async () => {
    const big = 'x'.repeat(3 << 20);
    // `type` first, as the sinks write it; and last, as another writer may.
    const first = join(dir, 'big-first.jsonl');
    writeFileSync(first, `${JSON.stringify(finding('big1', { evidence: { note: big } }))}\n`);
    const { type: _t, ...rest } = finding('big2', { client: { ip: '192.0.2.6' }, evidence: { note: big } });
    const last = join(dir, 'big-last.jsonl');
    writeFileSync(last, `${JSON.stringify({ ...rest, type: 'finding' })}\n`);
    const gz = join(dir, 'big-last.json.gz');
    writeFileSync(
      gz,
      gzipSync(
        `${JSON.stringify({ ...rest, id: 'big3', origin: { file: 'access.log', line: 2 }, type: 'finding' })}\n`,
      ),
    );
    const r = await investigate([first, last, gz]);
    assert.equal(r.status, 1, r.stderr);
    assert.match(
      r.stderr,
      /read as findings: [^\n]*big-first\.jsonl, [^\n]*big-last\.jsonl, [^\n]*big-last\.json\.gz \(3 findings\)/,
    );
    assert.deepEqual(r.incidents.flatMap((i) => i.steps.map((s: Rec) => s.finding_id)).sort(), [
      'big1',
      'big2',
      'big3',
    ]);
  });

  test('records of another kind among findings are named with their file and first line, not dropped unsaid', async () => {
    const mixed = join(dir, 'mixed.jsonl');
    const trail = { eventVersion: '1.09', eventName: 'ListBuckets', eventTime: '2026-11-21T09:00:00Z' };
    writeFileSync(
      mixed,
      [finding('m1'), finding('m2'), { type: 'event', kind: 'connect' }, trail, finding('m3'), trail]
        .map((r) => JSON.stringify(r))
        .join('\n'),
    );
    const r = await investigate([mixed]);
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /mixed\.jsonl:4: 2 record\(s\) among the findings of this input are not imdsguard records/);
    assert.equal(r.incidents.length, 1, 'the findings are still read');
  });

  test('findings among audit records are read as findings, not stepped over', async () => {
    const c = compose(attackers(1), 0);
    const mixed = join(dir, 'trail-and-findings.ndjson');
    const trail = c.trail.split('\n').filter(Boolean);
    writeFileSync(mixed, [...trail.slice(0, 3), JSON.stringify(finding('a1')), ...trail.slice(3)].join('\n'));
    const r = await investigate([mixed]);
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /read as audit records[^\n]*trail-and-findings\.ndjson/);
    assert.ok(
      r.incidents.some((i) => i.steps.some((s: Rec) => s.finding_id === 'a1')),
      'the finding is a step',
    );
  });

  test('inventory among audit records is named with its file and line, not dropped unsaid; the trail still counts', async () => {
    const c = compose(attackers(1), 0);
    const mixed = join(dir, 'trail-and-inventory.ndjson');
    const trail = c.trail.split('\n').filter(Boolean);
    const inventory = JSON.stringify(JSON.parse(c.instances));
    writeFileSync(mixed, [...trail.slice(0, 2), inventory, ...trail.slice(2)].join('\n'));
    const r = await investigate([mixed]);
    assert.equal(r.status, 2, r.stderr);
    assert.match(
      r.stderr,
      /trail-and-inventory\.ndjson:3: 1 inventory record\(s\) among the audit records of this input were not read/,
    );
    assert.ok(
      r.incidents.some((i) => i.stages.includes('cloud-use')),
      'the trail is still read',
    );
  });

  test('data after a whole gzip member is an input error naming the file (exit 2); everything before it counts', async () => {
    const c = compose(attackers(2), 0);
    const sub = join(dir, 'trailing');
    mkdirSync(sub);
    const clean: string[] = [];
    const spoilt: string[] = [];
    for (const [name, text] of [
      ['access.log', c.web],
      ['app.log', c.app],
      ['trail.ndjson', c.trail],
      ['agent.jsonl', c.agent],
    ] as const) {
      writeFileSync(join(sub, name), text);
      clean.push(join(sub, name));
      writeFileSync(join(sub, `${name}.gz`), Buffer.concat([gzipSync(text), Buffer.from('GARBAGE\n')]));
      spoilt.push(join(sub, `${name}.gz`));
    }
    const want = await investigate(clean);
    assert.equal(want.status, 1, want.stderr);
    const r = await investigate(spoilt);
    assert.equal(r.status, 2, r.stderr);
    for (const f of spoilt) assert.match(r.stderr, new RegExp(`${f.replace(/[.]/g, '\\.')}.*trailing data`));
    // The logs' names differ (`.gz`), so the ids do too: the incidents are compared by what they hold.
    const shape = (incs: Rec[]) => incs.map((i) => [i.title, i.steps.length, i.links.length]).sort();
    assert.deepEqual(shape(r.incidents), shape(want.incidents), 'every record before the trailing data was read');
  });

  test('a raw log cut in the middle of its gzip stream is an input error naming it (exit 2); what came before counts', async () => {
    const log = Array.from(
      { length: 3000 },
      (_, i) =>
        `192.0.2.${i % 200} - - [21/Nov/2026:09:00:00 +0000] "GET /p?u=http://169.254.169.254/latest/meta-data/${i} HTTP/1.1" 404 1 "-" "curl"`,
    ).join('\n');
    const gz = gzipSync(log);
    const cut = join(dir, 'cut-access.log.gz');
    writeFileSync(cut, gz.subarray(0, Math.floor(gz.length / 2)));
    const r = await investigate([cut]);
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /cut-access\.log\.gz: truncated gzip after line \d+/);
    assert.equal(r.stderr.match(/truncated gzip/g)?.length, 1, 'said once');
    assert.ok(r.incidents.length > 0);
  });

  test('file names holding LF, TAB or ESC are printed escaped, each message on one line', async () => {
    const sub = join(dir, 'names');
    mkdirSync(sub);
    const evil = join(sub, 'a\nimdsguard: all clear\tb\u001b[2J.jsonl');
    writeFileSync(evil, `${JSON.stringify(finding('n1'))}\n{"type":"finding","id":"n2","severity":"loud"}\n`);
    const r = await investigate([evil, join(sub, 'gone\n.log')]);
    assert.equal(r.status, 2);
    assert.ok(!r.stderr.includes('\nimdsguard: all clear'), r.stderr);
    assert.ok(!r.stderr.includes('\t') && !r.stderr.includes('\u001b'), r.stderr);
    assert.match(r.stderr, /a\\x0aimdsguard: all clear\\x09b/);
    assert.match(r.stderr, /gone\\x0a\.log/);
    for (const l of r.stderr.split('\n').filter(Boolean)) assert.match(l, /^imdsguard/, l);
  });

  test('steps made from audit records have no line 0: they name their inputs, and the report its events', async () => {
    const sub = join(dir, 'trail-source');
    mkdirSync(sub);
    const c = compose(attackers(1), 0);
    writeFileSync(join(sub, 'trail.ndjson'), c.trail);
    writeFileSync(join(sub, 'app.log'), c.app);
    const r = await investigate([join(sub, 'trail.ndjson'), join(sub, 'app.log')]);
    assert.equal(r.status, 1, r.stderr);
    const steps = r.incidents.flatMap((i) => i.steps);
    const cloud = steps.filter((s: Rec) => s.kind.startsWith('cloud-'));
    assert.ok(cloud.length > 0);
    for (const s of cloud) {
      assert.equal(s.source.line, undefined, JSON.stringify(s.source));
      assert.match(s.source.file, /trail\.ndjson$/);
    }
    for (const s of steps.filter((x: Rec) => x.kind === 'credential-leak')) assert.ok(s.source.line > 0);
    const html = await runCli(['investigate', '--format', 'html', join(sub, 'trail.ndjson'), join(sub, 'app.log')]);
    assert.ok(!/read at [^<]*:0</.test(html.stdout), 'no "read at …:0" in the report');
  });
});
