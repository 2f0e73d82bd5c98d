import assert from 'node:assert/strict';
import { test } from 'node:test';
import { makeFinding } from '../model/finding.ts';
import { LeakCauseCorrelator } from './leak-cause.ts';

function ssrf(
  line: number,
  time: string,
  ip: string,
  pathClass: 'credentials' | 'index',
  outcome: 'attempt' | 'likely-success' = 'attempt',
) {
  return makeFinding({
    rule: { id: 'ssrf-metadata', name: 'SSRF' },
    severity: 'high',
    confidence: 0.9,
    attack: [],
    title: 't',
    remediation: 'r',
    origin: { file: 'a.log', line },
    time,
    verdict: 'metadata',
    client: { ip },
    target: { raw: 'x', decoded: `http://169.254.169.254/${pathClass}`, path_class: pathClass },
    outcome,
    idEvidence: [line],
  });
}

test('LeakCauseCorrelator names the credentials request of the same client within the window', () => {
  const c = new LeakCauseCorrelator({ windowMs: 600_000 });
  c.observe(ssrf(1, '2026-11-23T05:00:00Z', '203.0.113.7', 'credentials'));
  c.observe(ssrf(2, '2026-11-23T05:09:00Z', '203.0.113.7', 'index'));
  c.observe(ssrf(3, '2026-11-23T05:09:30Z', '198.51.100.1', 'credentials'));
  const cause = c.cause({ clientIp: '203.0.113.7', time: '2026-11-23T05:09:50Z', file: 'a.log', line: 9 });
  assert.equal(cause?.line, 1, 'the credentials path outranks a more recent index request');
  assert.match(cause?.note ?? '', /same client 590 s earlier/);
  assert.equal(c.cause({ clientIp: '192.0.2.1', time: '2026-11-23T05:09:50Z' }), undefined, 'another client');
  assert.equal(
    c.cause({ clientIp: '203.0.113.7', time: '2026-11-23T05:15:00Z' })?.line,
    2,
    'the first request left the window',
  );
  assert.equal(
    c.cause({ clientIp: '203.0.113.7', time: '2026-11-23T04:59:00Z' }),
    undefined,
    'a request after the leak',
  );
  assert.equal(c.cause({ time: '2026-11-23T05:09:50Z' }), undefined, 'no client, no cause');
});

test('LeakCauseCorrelator falls back to earlier lines of the same file when times are missing', () => {
  const c = new LeakCauseCorrelator({ windowLines: 100 });
  const f = ssrf(10, '', '203.0.113.7', 'credentials');
  delete f.time;
  c.observe(f);
  assert.equal(c.cause({ clientIp: '203.0.113.7', file: 'a.log', line: 50 })?.line, 10);
  assert.equal(c.cause({ clientIp: '203.0.113.7', file: 'a.log', line: 200 }), undefined);
  assert.equal(c.cause({ clientIp: '203.0.113.7', file: 'b.log', line: 50 }), undefined);
});
