import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseCombined } from '../../src/core/parse/combined.ts';
import { CleanValues, ssrfLineRule } from '../../src/core/rules/ssrf-http.ts';

const line = (target: string) =>
  `203.0.113.9 - - [21/Nov/2026:00:00:00 +0000] "GET ${target} HTTP/1.1" 200 12 "-" "curl/8.5.0"`;

function run(rule: ReturnType<typeof ssrfLineRule>, target: string, n: number) {
  const text = line(target);
  const event = parseCombined(text, 'combined', { file: 'f', line: n })!;
  return rule.evaluate({ text, file: 'f', line: n, format: 'combined', event });
}

describe('SSRF rule: values found clean are remembered', () => {
  it('reports a repeated attack on every line', () => {
    const rule = ssrfLineRule();
    for (let i = 1; i <= 3; i++) assert.equal(run(rule, '/f?u=http://169.254.169.254/latest/meta-data/', i).length, 1);
  });

  it('keeps a clean value clean, per context, and forgets when full', () => {
    const clean = new CleanValues(2);
    clean.add('/a?page=0', { kind: 'target' });
    assert.ok(clean.has('/a?page=0', { kind: 'target' }));
    assert.ok(!clean.has('/a?page=0', { field: 'url' }), 'another context is another question');
    clean.add('/b', { kind: 'target' });
    clean.add('/c', { kind: 'target' });
    assert.ok(!clean.has('/a?page=0', { kind: 'target' }));
    assert.ok(clean.has('/c', { kind: 'target' }));
  });

  it('finds an attack after the same field held clean values', () => {
    const rule = ssrfLineRule();
    assert.equal(run(rule, '/a?page=0', 1).length, 0);
    assert.equal(run(rule, '/a?page=0', 2).length, 0);
    assert.equal(run(rule, '/a?page=http://0xa9fea9fe/latest/meta-data/', 3).length, 1);
  });
});
