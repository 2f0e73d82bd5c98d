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

test('a file report holds the finding itself when the application put a toJSON on Object.prototype', () => {
  const dir = mkdtempSync(join(tmpdir(), 'imdsguard-guard-report-'));
  const file = join(dir, 'findings.jsonl');
  const report = makeReporter({ onFinding: undefined, report: { file } });
  const finding = {
    id: 'f2',
    rule: { id: 'guard-metadata-connection' },
    decision: 'deny',
    evidence: { caller_packages: ['a', 'b'], app_frame: 'file:///app.mjs' },
  } as unknown as Finding;
  try {
    // JSON.stringify asks every object it writes (arrays too) for a toJSON, inherited ones included.
    Object.defineProperty(Object.prototype, 'toJSON', {
      configurable: true,
      get: () =>
        function (this: { decision?: string }) {
          return this?.decision === 'deny' ? { id: 'nothing here' } : [];
        },
    });
    // A setter on Array.prototype's first index would swallow a copy made by assignment.
    Object.defineProperty(Array.prototype, '0', { configurable: true, set: () => undefined });
    report(finding);
  } finally {
    delete (Object.prototype as Record<string, unknown>).toJSON;
    delete (Array.prototype as unknown as Record<string, unknown>)['0'];
  }
  try {
    const lines = readFileSync(file, 'utf8').split('\n').filter(Boolean);
    assert.equal(lines.length, 1);
    assert.deepEqual(JSON.parse(lines[0]!), finding);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
