import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { openSink, SINK_FORMATS } from '../../src/adapters/sinks/open-sink.ts';
import { JsonFileStore } from '../../src/adapters/store/json-file-store.ts';
import { runScan } from '../../src/app/scan.ts';
import { scanRules } from '../../src/app/scan-rules.ts';
import type { Finding } from '../../src/core/model/finding.ts';
import type { FindingSink } from '../../src/core/ports.ts';

const LEAKS = 'test/fixtures/leaks';
const dir = mkdtempSync(join(tmpdir(), 'imdsguard-sinks-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const inputs = readdirSync(LEAKS)
  .filter((n) => n.endsWith('.log'))
  .map((n) => join(LEAKS, n));
const values = [
  ...new Set(
    readdirSync(LEAKS)
      .filter((n) => n.endsWith('.expect.json'))
      .flatMap((n) => (JSON.parse(readFileSync(join(LEAKS, n), 'utf8')) as { values: string[] }).values),
  ),
];

/**
 * Pieces of every secret that no output may hold: every 8-character window between the four characters a mask shows
 * at each end, and for a JWT only over its random second half (its start is a header every JWT shares).
 */
const pieces = [
  ...new Set(
    values.flatMap((v) => {
      const out: string[] = [];
      const from = v.startsWith('eyJ') ? Math.floor(v.length / 2) : 4;
      for (let i = from; i + 8 <= v.length - 4; i++) out.push(v.slice(i, i + 8));
      return out;
    }),
  ),
];

function assertClean(text: string, what: string): void {
  for (const p of pieces) assert.ok(!text.includes(p), `${what} holds a piece of a secret: ${p.slice(0, 6)}…`);
}

async function scanInto(sink: FindingSink): Promise<void> {
  await runScan({
    inputs,
    logFormat: 'auto',
    rules: scanRules(),
    sink,
    maxLineBytes: 4 << 20,
    concurrency: 2,
    warn: () => {},
  });
  await sink.close();
}

describe('no sink ever holds an unmasked secret from the input', () => {
  it('the fixtures hold secrets to leak, and leak findings of every provider are produced', async () => {
    assert.ok(values.length >= 20, `${values.length} values`);
    assert.ok(pieces.length >= 100, `${pieces.length} pieces`);
    // The check itself catches a secret: the raw fixtures fail it.
    assert.throws(() => assertClean(readFileSync(join(LEAKS, 'app-text.log'), 'utf8'), 'input'));
    const found: Finding[] = [];
    await scanInto({ write: (f) => void found.push(f as Finding), close: async () => {} });
    const rules = new Set(found.map((f) => f.rule.id));
    for (const r of ['aws', 'gcp', 'azure', 'alibaba', 'oracle', 'private-key'])
      assert.ok(rules.has(`credential-exposure-${r}`), r);
    assert.ok(rules.has('ssrf-metadata'));
  });

  for (const format of SINK_FORMATS) {
    it(`--format ${format}`, async () => {
      const out = join(dir, `findings.${format}`);
      await scanInto(await openSink(format, out, { nowMs: () => 0 }));
      const text = readFileSync(out, 'utf8');
      assert.ok(text.includes('credential-exposure'), 'leak findings were written');
      assertClean(text, format);
    });
  }

  it('the JSON file store', async () => {
    const found: Finding[] = [];
    await scanInto({ write: (f) => void found.push(f as Finding), close: async () => {} });
    const store = new JsonFileStore(join(dir, 'store'));
    await store.put('findings', found);
    await store.close();
    const text = readFileSync(join(dir, 'store', 'findings.json'), 'utf8');
    assert.ok(text.includes('credential-exposure'));
    assertClean(text, 'store');
  });
});
