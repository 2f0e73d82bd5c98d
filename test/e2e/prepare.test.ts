import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { ROOT } from './helpers.ts';

const PREPARE = join(ROOT, 'scripts', 'prepare.mjs');
const dir = mkdtempSync(join(tmpdir(), 'imdsguard-prepare-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** A package laid out as this one is, whose build only leaves a mark. */
function layout(): void {
  mkdirSync(join(dir, 'src'), { recursive: true });
  mkdirSync(join(dir, 'dist', 'cli'), { recursive: true });
  writeFileSync(join(dir, 'src', 'a.ts'), 'export {};\n');
  for (const f of ['tsconfig.json', 'tsconfig.build.json']) writeFileSync(join(dir, f), '{}\n');
  writeFileSync(
    join(dir, 'package.json'),
    JSON.stringify({ name: 'p', scripts: { build: `node -e "require('fs').appendFileSync('built', 'x')"` } }),
  );
}

const prepare = () => spawnSync(process.execPath, [PREPARE], { cwd: dir, encoding: 'utf8' });
const past = (p: string, secondsAgo: number) => {
  const t = Date.now() / 1000 - secondsAgo;
  utimesSync(join(dir, p), t, t);
};

test('prepare builds when dist/ is missing or older than its sources, and leaves an up-to-date dist/ alone', () => {
  layout();
  let r = prepare();
  assert.equal(r.status, 0, r.stderr);
  assert.ok(existsSync(join(dir, 'built')), 'a missing dist/ is built');
  assert.ok(existsSync(join(dir, 'dist', '.prepared')));
  // The built outputs, newer than every source: nothing to do (what `npx imdsguard` triggers in this repository).
  writeFileSync(join(dir, 'dist', 'cli', 'main.js'), '');
  writeFileSync(join(dir, 'dist', 'index.js'), '');
  for (const p of ['src/a.ts', 'src', 'package.json', 'tsconfig.json', 'tsconfig.build.json']) past(p, 60);
  rmSync(join(dir, 'built'));
  r = prepare();
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /up to date/);
  assert.ok(!existsSync(join(dir, 'built')), 'no build');
  // A source edited after the last build: built again.
  writeFileSync(join(dir, 'src', 'a.ts'), 'export const x = 1;\n');
  r = prepare();
  assert.equal(r.status, 0, r.stderr);
  assert.ok(existsSync(join(dir, 'built')), 'rebuilt');
});
