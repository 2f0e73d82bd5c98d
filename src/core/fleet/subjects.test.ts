import assert from 'node:assert/strict';
import { test } from 'node:test';
import { subjectsOverlap } from './subjects.ts';

test('subject patterns overlap when one subject can match both', () => {
  const yes: Array<[string, string]> = [
    ['imds.v1.finding.>', 'imds.v1.finding.a.b.scan.high'],
    ['imds.v1.>', 'imds.v1.finding.>'],
    ['imds.v1.finding.x.>', 'imds.v1.finding.>'],
    ['imds.*.finding.>', 'imds.v1.>'],
    ['imds.v1.scan.job', 'imds.v1.scan.job'],
    ['imds.v1.scan.>', 'imds.v1.scan.job'],
  ];
  const no: Array<[string, string]> = [
    ['imds.v1.hub.dead.>', 'imds.v1.finding.>'],
    ['imds.v1.finding', 'imds.v1.finding.>'],
    ['imds.v1.scan.job.>', 'imds.v1.scan.job'],
    ['a.b', 'a.b.c'],
    ['a.*', 'b.*'],
  ];
  for (const [a, b] of yes) assert.ok(subjectsOverlap(a, b) && subjectsOverlap(b, a), `${a} / ${b}`);
  for (const [a, b] of no) assert.ok(!subjectsOverlap(a, b) && !subjectsOverlap(b, a), `${a} / ${b}`);
});
