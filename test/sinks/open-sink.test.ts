import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { openSink } from '../../src/adapters/sinks/open-sink.ts';
import { makeFinding } from '../../src/core/model/finding.ts';

const dir = mkdtempSync(join(tmpdir(), 'imdsguard-sink-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const finding = makeFinding({
  rule: { id: 'ssrf-metadata', name: 'SSRF to a cloud metadata service' },
  severity: 'high',
  confidence: 0.9,
  attack: ['T1552.005', 'T1190'],
  title: 'Request addresses the AWS metadata service \u001b[31mred\u001b[0m',
  remediation: 'Require IMDSv2.',
  origin: { file: 'logs/access log.txt', line: 7 },
  time: '2026-01-02T03:04:05Z',
  verdict: 'metadata',
  provider: 'aws',
  target: { raw: '/?url=http://169.254.169.254/\u0007', decoded: 'http://169.254.169.254/' },
  transforms: [],
  outcome: 'attempt',
  idEvidence: ['x', 7],
});

async function roundTrip(format: 'table' | 'jsonl' | 'json' | 'ocsf' | 'sarif'): Promise<string> {
  const path = join(dir, `out.${format}`);
  const sink = await openSink(format, path, { version: '9.9.9', nowMs: () => 0 });
  await sink.write(finding);
  await sink.close();
  return readFileSync(path, 'utf8');
}

describe('openSink', () => {
  it('jsonl writes one object per line', async () => {
    const lines = (await roundTrip('jsonl')).trimEnd().split('\n');
    assert.equal(lines.length, 1);
    assert.equal(JSON.parse(lines[0]!).id, finding.id);
  });
  it('json writes one array', async () => {
    const arr = JSON.parse(await roundTrip('json'));
    assert.equal(arr.length, 1);
    assert.equal(arr[0].rule.id, 'ssrf-metadata');
  });
  it('ocsf writes Detection Findings (class_uid 2004)', async () => {
    const o = JSON.parse((await roundTrip('ocsf')).trim());
    assert.equal(o.class_uid, 2004);
    assert.equal(o.severity_id, 4);
    assert.equal(o.metadata.product.version, '9.9.9');
    assert.equal(o.time, Date.parse('2026-01-02T03:04:05Z'));
  });
  it('sarif writes a 2.1.0 log with the log file and line as location', async () => {
    const s = JSON.parse(await roundTrip('sarif'));
    assert.equal(s.version, '2.1.0');
    const r = s.runs[0].results[0];
    assert.equal(r.ruleId, 'ssrf-metadata');
    assert.equal(r.level, 'error');
    assert.equal(r.locations[0].physicalLocation.artifactLocation.uri, 'logs/access%20log.txt');
    assert.equal(r.locations[0].physicalLocation.region.startLine, 7);
    assert.equal(s.runs[0].tool.driver.rules[0].id, 'ssrf-metadata');
  });
  it('table strips ANSI and control characters from attacker text', async () => {
    const t = await roundTrip('table');
    assert.ok(!t.includes('\u001b'));
    assert.ok(!t.includes('\u0007'));
    assert.match(t, /\[HIGH\]/);
    assert.match(t, /logs\/access log\.txt:7/);
  });
  it('an empty sarif/json run is still a valid document', async () => {
    const path = join(dir, 'empty.sarif');
    const sink = await openSink('sarif', path);
    await sink.close();
    assert.deepEqual(JSON.parse(readFileSync(path, 'utf8')).runs[0].results, []);
  });
});
