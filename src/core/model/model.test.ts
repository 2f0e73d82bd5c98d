import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ATTACK } from './attack.ts';
import { findingId, makeFinding } from './finding.ts';
import { toOcsf } from './ocsf.ts';
import { atLeast, isSeverity, maxSeverity, raiseSeverity } from './severity.ts';

const base = {
  rule: { id: 'ssrf-metadata', name: 'Metadata SSRF attempt' },
  severity: 'high' as const,
  confidence: 0.9,
  attack: [ATTACK.cloudInstanceMetadataApi, ATTACK.exploitPublicFacingApplication],
  title: 'SSRF to the AWS instance metadata service',
  remediation: 'Require IMDSv2',
  origin: { file: 'access.log', line: 12 },
  time: '2026-11-23T05:00:00Z',
  target: { raw: '/f?u=http://0xa9fea9fe/', decoded: 'http://169.254.169.254/' },
};

describe('finding model', () => {
  test('findingId() is stable for the same rule and evidence and differs otherwise', () => {
    assert.equal(findingId('r', ['a', 1]), findingId('r', ['a', 1]));
    assert.notEqual(findingId('r', ['a', 1]), findingId('r', ['a', 2]));
    assert.notEqual(findingId('r', ['a', 1]), findingId('q', ['a', 1]));
    // Field boundaries matter: ('ab','c') is not ('a','bc').
    assert.notEqual(findingId('r', ['ab', 'c']), findingId('r', ['a', 'bc']));
  });

  test('makeFinding() fills type, schema version and id', () => {
    const f = makeFinding({ ...base, idEvidence: ['access.log', 12] });
    assert.equal(f.type, 'finding');
    assert.equal(f.schema_version, '1');
    assert.match(f.id, /^[0-9a-f]{32}$/);
  });

  test('severity helpers order and cap', () => {
    assert.ok(atLeast('high', 'medium'));
    assert.ok(!atLeast('low', 'medium'));
    assert.equal(maxSeverity('low', 'critical'), 'critical');
    assert.equal(raiseSeverity('high', 3), 'critical');
    assert.ok(isSeverity('info'));
    assert.ok(!isSeverity('severe'));
  });

  test('toOcsf() maps to Detection Finding 2004 with ATT&CK and severity', () => {
    const f = makeFinding({ ...base, idEvidence: ['x'] });
    const o = toOcsf(f, { version: '0.1.0' }, 0);
    assert.equal(o.class_uid, 2004);
    assert.equal(o.type_uid, 200401);
    assert.equal(o.severity_id, 4);
    assert.equal(o.time, Date.parse('2026-11-23T05:00:00Z'));
    assert.equal(o.finding_info.uid, f.id);
    assert.deepEqual(
      o.finding_info.attacks.map((a) => a.technique.uid),
      ['T1552.005', 'T1190'],
    );
    assert.equal(o.finding_info.attacks[0]?.tactic?.name, 'Credential Access');
    assert.equal(o.confidence_score, 90);
    assert.equal(o.metadata.version, '1.3.0');
  });

  test('toOcsf() uses the given time when the finding has none', () => {
    const { time: _t, ...noTime } = base;
    const o = toOcsf(makeFinding({ ...noTime, idEvidence: ['y'] }), { version: '0.1.0' }, 1234);
    assert.equal(o.time, 1234);
  });
});
