/** `imdsguard export` end to end (the CLI in a child process) and the use case behind it for every engine. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { runExport } from '../../src/app/export.ts';
import type { ExportTarget } from '../../src/core/export/index.ts';

function cli(args: string[]) {
  return spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
    encoding: 'utf8',
    timeout: 60_000,
  });
}

test("runExport() writes each engine's files into a directory it creates", async () => {
  const dir = mkdtempSync(join(tmpdir(), 'imdsguard-export-'));
  try {
    const expected: Record<ExportTarget, RegExp> = {
      sigma: /\.yml$/,
      falco: /falco-rules\.yaml$/,
      modsecurity: /modsecurity\.conf$/,
      'aws-waf': /aws-waf-.*\.json$/,
      suricata: /suricata\.rules$/,
    };
    for (const [engine, re] of Object.entries(expected) as Array<[ExportTarget, RegExp]>) {
      const out = join(dir, engine, 'nested');
      const written = await runExport({ target: engine, version: 'test', dir: out }, () => undefined);
      const files = readdirSync(out);
      assert.equal(written.length, files.length);
      assert.ok(files.length > 0 && files.every((f) => re.test(f)), `${engine}: ${files.join(' ')}`);
      for (const f of files) assert.match(readFileSync(join(out, f), 'utf8'), /imdsguard test/);
    }
    // A directory under a regular file cannot be created.
    writeFileSync(join(dir, 'a-file'), '');
    await assert.rejects(
      runExport({ target: 'falco', version: 'test', dir: join(dir, 'a-file', 'sub') }, () => undefined),
      {
        code: 'E_SINK_IO',
      },
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the CLI: -o DIR names what it wrote on stderr, stdout gets one document, usage errors exit 2', () => {
  const dir = mkdtempSync(join(tmpdir(), 'imdsguard-export-cli-'));
  try {
    const w = cli(['export', '--to', 'modsecurity', '-o', dir, '--id-base', '42000']);
    assert.equal(w.status, 0, w.stderr);
    assert.equal(w.stdout, '');
    assert.match(w.stderr, /wrote .*imdsguard-modsecurity\.conf/);
    assert.match(readFileSync(join(dir, 'imdsguard-modsecurity.conf'), 'utf8'), /id:42000,/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const r = cli(['export', '--to', 'aws-waf']);
  assert.equal(r.status, 0, r.stderr);
  const doc = JSON.parse(r.stdout);
  assert.ok(doc.RegexPatternSets.length > 0 && doc.RuleGroup.Rules.length > 0);
  assert.equal(cli(['export', '--to', 'snort']).status, 2);
  assert.equal(cli(['export', '--to', 'sigma', '--id-base', 'x']).status, 2);
});
