#!/usr/bin/env node
// Runs every *.test.ts under src/ and test/ with node:test through tsx, after building dist/ (the end-to-end tests
// run the built CLI, as users do). tsx on Node 20 finds no tests from a directory or glob, so the list is built here.
// Usage: node scripts/run-tests.mjs [file.test.ts …]
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

function collect(dir, out) {
  let entries;
  try {
    entries = readdirSync(dir);
  } catch {
    return out;
  }
  for (const name of entries.sort()) {
    if (name === 'node_modules' || name === 'fixtures') continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) collect(p, out);
    else if (name.endsWith('.test.ts')) out.push(p);
  }
  return out;
}

const only = process.argv.slice(2);
const files = only.length > 0 ? only : [...collect('src', []), ...collect('test', [])];
if (files.length === 0) {
  console.error('run-tests: no test files found');
  process.exit(1);
}
if (only.length === 0) {
  const b = spawnSync('npm', ['run', '--silent', 'build'], { stdio: 'inherit' });
  if (b.status !== 0) {
    console.error('run-tests: build failed');
    process.exit(1);
  }
}
const dir = mkdtempSync(join(tmpdir(), 'imdsguard-tests-'));
const tap = join(dir, 'results.tap');
const r = spawnSync(
  process.execPath,
  [
    '--import',
    'tsx',
    '--test',
    '--test-concurrency=1',
    // A test that hangs fails after 10 minutes instead of holding CI to its limit.
    '--test-timeout=600000',
    '--test-reporter=spec',
    '--test-reporter-destination=stdout',
    '--test-reporter=tap',
    `--test-reporter-destination=${tap}`,
    ...files,
  ],
  { stdio: 'inherit' },
);
// Closing lines a CI reader recognises: node's TAP summary, then the plain one.
let text = '';
try {
  text = readFileSync(tap, 'utf8');
} catch {}
rmSync(dir, { recursive: true, force: true });
const count = (k) => Number(new RegExp(`^# ${k} (\\d+)$`, 'm').exec(text)?.[1] ?? 0);
const [tests, pass, fail, skipped, cancelled, todo] = ['tests', 'pass', 'fail', 'skipped', 'cancelled', 'todo'].map(
  count,
);
console.log(
  `# tests ${tests}\n# pass ${pass}\n# fail ${fail}\n# skipped ${skipped}\n# cancelled ${cancelled}\n# todo ${todo}`,
);
console.log(`${pass} passed, ${fail + cancelled} failed, ${skipped} skipped`);
if (r.status === 0 && tests === 0) {
  console.error('run-tests: no test ran');
  process.exit(1);
}
process.exit(r.status ?? 1);
