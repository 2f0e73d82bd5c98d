import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { classify, verdictOf } from '../../src/core/classify.ts';
import { scanFiles } from '../scan/helpers.ts';
import { CORPORA, corporaSkip } from './shared.ts';

const skip = corporaSkip('real-logs');
const LOG = join(CORPORA, 'real-logs', 'apache_logs');

describe('a real public web-server log (10,000 lines of benign traffic)', { skip }, () => {
  it('scan reports nothing on it, and reads every line', async () => {
    const run = await scanFiles([LOG]);
    assert.deepEqual(
      run.findings.map((f) => `${f.origin.line}: ${f.title}`),
      [],
    );
    assert.equal(run.stats.linesRead, 10000);
  });

  it('explain finds no metadata target in any of its lines, whole or as request targets', () => {
    const lines = readFileSync(LOG, 'utf8').split('\n').filter(Boolean);
    const flagged: string[] = [];
    for (const line of lines) {
      const target = /"[A-Z]+ (\S+) HTTP/.exec(line)?.[1];
      for (const t of target ? [line, target] : [line]) if (verdictOf(classify(t)) === 'metadata') flagged.push(t);
    }
    assert.deepEqual(flagged, []);
  });
});
