import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { runCli, skipUnbuilt } from './helpers.ts';

// C1 controls (a terminal may take U+009B for CSI) and bidirectional controls (they reorder what a reader of the file
// sees) from a log line must not reach a JSON output raw: they are written as \uXXXX escapes, so the text is still
// valid JSON and parses to the same value. The table shows them as \xNN.

const dir = mkdtempSync(join(tmpdir(), 'imdsguard-json-controls-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const HOSTILE = '\u202eab\u009b2J\u0085\u2066\u2067\u2068\u2069\u200e\u200f\u061c\u202a\u202b\u202c\u202d';
const RAW = /[\u0080-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/;
const log = join(dir, 'access.log');
writeFileSync(
  log,
  `192.0.2.9 - - [21/Nov/2026:09:14:04 +0000] "GET /fetch?url=http://169.254.169.254/latest/meta-data/${HOSTILE} HTTP/1.1" 200 512 "-" "curl/8 ${HOSTILE}"\n`,
);

/** The JSON documents of an output: one per line, or the whole text for json and sarif. */
function parse(format: string, text: string): unknown[] {
  if (format === 'json' || format === 'sarif') return [JSON.parse(text)];
  return text
    .trimEnd()
    .split('\n')
    .map((l) => JSON.parse(l) as unknown);
}

describe('JSON outputs escape C1 and bidi controls', { skip: skipUnbuilt }, () => {
  for (const format of ['jsonl', 'json', 'ocsf', 'sarif']) {
    for (const where of ['stdout', '-o']) {
      test(`scan --format ${format} to ${where}`, async () => {
        const out = join(dir, `out.${format}`);
        const r = await runCli(['scan', '--format', format, ...(where === '-o' ? ['-o', out] : []), log]);
        assert.equal(r.status, 1, r.stderr);
        const text = where === '-o' ? readFileSync(out, 'utf8') : r.stdout;
        assert.doesNotMatch(text, RAW);
        assert.match(text, /\\u202e/);
        assert.match(text, /\\u009b/);
        // Same parsed value: the hostile characters are back, in order, once parsed.
        assert.ok(JSON.stringify(parse(format, text)).includes(HOSTILE.slice(0, 6)), text.slice(0, 400));
        assert.ok(parse(format, text).length > 0);
      });
    }
  }

  test('explain --format jsonl', async () => {
    const r = await runCli(['explain', '--format', 'jsonl', `http://169.254.169.254/${HOSTILE}`]);
    assert.equal(r.status, 0, r.stderr);
    assert.doesNotMatch(r.stdout, RAW);
    assert.ok(JSON.stringify(parse('jsonl', r.stdout)).includes(HOSTILE));
  });

  test('the table shows every one of them as \\xNN', async () => {
    const r = await runCli(['scan', '--format', 'table', log]);
    assert.equal(r.status, 1, r.stderr);
    assert.doesNotMatch(r.stdout, RAW);
    assert.doesNotMatch(r.stderr, RAW);
    assert.match(r.stdout, /\\x202eab\\x9b2J\\x85\\x2066\\x2067\\x2068\\x2069\\x200e\\x200f\\x61c\\x202a/);
  });
});
