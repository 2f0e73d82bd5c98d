import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { generateUniqueLog, type UniqueLogKind } from '../../bench/scan-gen-unique.ts';
import { scanRules } from '../../src/app/scan-rules.ts';
import type { Finding } from '../../src/core/model/finding.ts';
import type { LogFormatName } from '../../src/core/parse/types.ts';
import type { LineRule } from '../../src/core/rules/line-rule.ts';
import { CORPORA, corporaSkip } from '../corpora/shared.ts';
import { scanFiles } from './helpers.ts';

const dir = mkdtempSync(join(tmpdir(), 'imdsguard-oracle-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const fixtures = join(import.meta.dirname, '..', 'fixtures', 'scan');

/**
 * The full-parse path: the same rules with nothing declared for line selection (no place filter, no chunk test), so
 * every line is parsed and every rule evaluates it.
 */
function fullParseRules(): LineRule[] {
  return scanRules().map((r) => ({
    id: r.id,
    mayMatch: () => true,
    evaluate: (input) => r.evaluate(input),
    ...(r.rawLines ? { rawLines: true } : {}),
    ...(r.flush ? { flush: (file: string) => r.flush!(file) } : {}),
  }));
}

const key = (f: Finding) =>
  JSON.stringify([f.origin.line, f.rule.id, f.verdict, f.target?.decoded, f.http?.field, f.severity, f.title]);

async function same(file: string, logFormat: LogFormatName): Promise<number> {
  const fast = await scanFiles([file], { logFormat });
  const full = await scanFiles([file], { logFormat, rules: fullParseRules() });
  assert.deepEqual(fast.findings.map(key), full.findings.map(key), file);
  return full.findings.length;
}

describe('scan finds exactly what a full parse of every line finds', () => {
  const kinds: Array<[UniqueLogKind, LogFormatName]> = [
    ['combined', 'combined'],
    ['json', 'json'],
    ['alb', 'alb'],
    ['cloudfront', 'cloudfront'],
    ['real', 'combined'],
  ];
  for (const [kind, format] of kinds) {
    it(`on generated ${kind} lines whose values do not repeat`, async (t) => {
      const realLog = join(CORPORA, 'real-logs', 'apache_logs');
      const skip = kind === 'real' && corporaSkip('real-logs');
      if (skip) {
        assert.ok(process.env.CI !== 'true', skip);
        t.skip(skip);
        return;
      }
      const file = join(dir, `${kind}.log`);
      const gen = await generateUniqueLog(kind, file, 1 << 20, { realLog, attackEvery: 40, seed: 3 });
      const n = await same(file, format);
      assert.ok(n >= gen.attacks, `${n} findings for ${gen.attacks} attacks`);
    });
  }
  it('on every scan fixture', async () => {
    let n = 0;
    for (const f of readdirSync(fixtures)) n += await same(join(fixtures, f), 'auto');
    assert.ok(n > 20, `${n} findings`);
  });
});
