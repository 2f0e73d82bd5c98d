import assert from 'node:assert/strict';
import fs, { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Finding } from '../../src/core/model/finding.ts';
import { makeReporter } from '../../src/guard/report.ts';

test('a file report is written even when the application replaced fs functions or put getters on Object.prototype', () => {
  const dir = mkdtempSync(join(tmpdir(), 'imdsguard-guard-report-'));
  const file = join(dir, 'findings.jsonl');
  const report = makeReporter({ onFinding: undefined, report: { file } });
  const finding = { id: 'f1', rule: { id: 'guard-block' } } as unknown as Finding;
  const saved = { writeFileSync: fs.writeFileSync, appendFileSync: fs.appendFileSync };
  const keys = ['mode', 'flag', 'encoding', 'flush'] as const;
  try {
    // What an application can do before a request to hide the finding it would leave.
    fs.writeFileSync = (() => undefined) as typeof fs.writeFileSync;
    fs.appendFileSync = (() => undefined) as typeof fs.appendFileSync;
    for (const k of keys) {
      Object.defineProperty(Object.prototype, k, {
        configurable: true,
        get: () => (k === 'flag' ? 'r' : k === 'mode' ? 0 : k === 'encoding' ? 'hex' : true),
      });
    }
    report(finding);
    report(finding);
  } finally {
    for (const k of keys) delete (Object.prototype as Record<string, unknown>)[k];
    fs.writeFileSync = saved.writeFileSync;
    fs.appendFileSync = saved.appendFileSync;
  }
  try {
    const lines = readFileSync(file, 'utf8').split('\n').filter(Boolean);
    assert.equal(lines.length, 2);
    assert.equal((JSON.parse(lines[0]!) as { id: string }).id, 'f1');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
