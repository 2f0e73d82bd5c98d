/** `imdsguard export` end to end: every engine to a directory and to stdout, and its usage errors. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';

function cli(args: string[]) {
  return spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
    encoding: 'utf8',
    timeout: 30_000,
  });
}

test("export --to ENGINE -o DIR writes each engine's files and names them on stderr", () => {
  const dir = mkdtempSync(join(tmpdir(), 'imdsguard-export-'));
  try {
    const expected: Record<string, RegExp> = {
      sigma: /\.yml$/,
      falco: /falco-rules\.yaml$/,
      modsecurity: /modsecurity\.conf$/,
      'aws-waf': /aws-waf-.*\.json$/,
      suricata: /suricata\.rules$/,
    };
    for (const [engine, re] of Object.entries(expected)) {
      const out = join(dir, engine);
      const r = cli(['export', '--to', engine, '-o', out]);
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stdout, '');
      const files = readdirSync(out);
      assert.ok(files.length > 0 && files.every((f) => re.test(f)), `${engine}: ${files.join(' ')}`);
      for (const f of files) assert.match(r.stderr, new RegExp(`wrote .*${f.replace(/\./g, '\\.')}`));
      for (const f of files) assert.match(readFileSync(join(out, f), 'utf8'), /imdsguard/);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('export to stdout prints one document; bad engine or id base exits 2', () => {
  const r = cli(['export', '--to', 'aws-waf']);
  assert.equal(r.status, 0, r.stderr);
  const doc = JSON.parse(r.stdout);
  assert.ok(doc.RegexPatternSets.length > 0 && doc.RuleGroup.Rules.length > 0);
  const m = cli(['export', '--to', 'modsecurity', '--id-base', '42000']);
  assert.match(m.stdout, /id:42000,/);
  assert.equal(cli(['export', '--to', 'snort']).status, 2);
  assert.equal(cli(['export']).status, 2);
  assert.equal(cli(['export', '--to', 'sigma', '--id-base', 'x']).status, 2);
  const help = cli(['export', '--help']);
  assert.equal(help.status, 0);
  assert.match(help.stdout, /--to <engine>/);
});
