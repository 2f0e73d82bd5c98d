#!/usr/bin/env node
// Runs every *.test.ts under src/ and test/ with node:test through tsx, after building dist/ (the end-to-end tests
// run the built CLI, as users do). tsx on Node 20 finds no tests from a directory or glob, so the list is built here.
//
// The whole suite runs on the Node that runs this script (the one `npm ci` built better-sqlite3 for). Then, unless
// that Node is already 24 or newer, the suite runs again on Node 24, fetched from the npm registry (the `node`
// package ships the official binary) — without the tests listed in NODE24_SKIPS, which say why. On Node 24 the
// better-sqlite3 built for the other Node does not load, so that pass also runs the fleet's SQLite code on
// node:sqlite (src/adapters/sqlite/).
//
// Usage: node scripts/run-tests.mjs [--node24-only] [file.test.ts …]
//   With files: only those, on this Node only (add --node24-only to run them on Node 24 instead).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';

const NODE24 = 'node@24.21.0';
// Left out of the Node 24 pass, each with why. Only what tests the machine rather than the runtime, and costs minutes:
// running it twice would double that time for nothing Node 24 changes.
const NODE24_SKIPS = [
  // The host agent against the real kernel (bpftrace, auditd, procfs in test namespaces): about a third of the
  // suite's time, spent waiting for bpftrace to attach and for audit records. The agent's JavaScript (the sensors'
  // line parsers, attribution, the allowlist) has unit tests under src/adapters/sources/, which do run on Node 24.
  'test/agent/',
  // The pure core's unit tests (about a tenth of the suite's time, most of it the masker's property tests). src/core
  // is plain ECMAScript without a Node API (test/core-purity.test.ts enforces it), and on Node 24 it still runs
  // under every CLI, scan, proxy, guard and fleet test, on real inputs.
  'src/core/',
];

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

/** Runs `files` under the Node at `execPath`; returns its exit status and TAP counts. */
function runPass(execPath, files, env) {
  const dir = mkdtempSync(join(tmpdir(), 'imdsguard-tests-'));
  const tap = join(dir, 'results.tap');
  const r = spawnSync(
    execPath,
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
    // Commands the tests start by name (`node`, `npm`) are this pass's Node too.
    { stdio: 'inherit', env: { ...process.env, ...env, PATH: `${dirname(execPath)}${delimiter}${process.env.PATH}` } },
  );
  let text = '';
  try {
    text = readFileSync(tap, 'utf8');
  } catch {}
  rmSync(dir, { recursive: true, force: true });
  const count = (k) => Number(new RegExp(`^# ${k} (\\d+)$`, 'm').exec(text)?.[1] ?? 0);
  const counts = Object.fromEntries(
    ['tests', 'pass', 'fail', 'skipped', 'cancelled', 'todo'].map((k) => [k, count(k)]),
  );
  return { status: r.status ?? 1, counts };
}

/** The Node 24 binary, fetched through npm (cached after the first time); undefined with the reason printed. */
function node24() {
  const r = spawnSync('npm', ['exec', '--yes', `--package=${NODE24}`, '--', 'node', '-p', 'process.execPath'], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const path = r.stdout?.trim().split('\n').pop();
  if (r.status === 0 && path) return path;
  console.error(`run-tests: cannot get ${NODE24} from the npm registry (npm exec exited ${r.status})`);
  return undefined;
}

const args = process.argv.slice(2);
const node24Only = args.includes('--node24-only');
const only = args.filter((a) => a !== '--node24-only');
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

const passes = [];
if (!node24Only) passes.push({ name: `Node ${process.versions.node}`, execPath: process.execPath, files, env: {} });
if (node24Only || (only.length === 0 && Number(process.versions.node.split('.')[0]) < 24)) {
  const execPath = node24();
  if (execPath) {
    const kept = only.length > 0 ? files : files.filter((f) => !NODE24_SKIPS.some((s) => f.startsWith(s)));
    // The adapter's test checks that this pass really runs on node:sqlite (src/adapters/sqlite/).
    passes.push({ name: NODE24, execPath, files: kept, env: { IMDSGUARD_TEST_SQLITE_DRIVER: 'node:sqlite' } });
  } else if (process.env.CI === 'true' || node24Only) {
    process.exit(1);
  } else {
    console.error('run-tests: the Node 24 pass is skipped (CI=true makes this a failure)');
  }
}

const total = { tests: 0, pass: 0, fail: 0, skipped: 0, cancelled: 0, todo: 0 };
const lines = [];
let failed = false;
for (const p of passes) {
  console.log(`\n# run-tests: ${p.files.length} files on ${p.name}\n`);
  const { status, counts } = runPass(p.execPath, p.files, p.env);
  for (const k of Object.keys(total)) total[k] += counts[k];
  lines.push(
    `# ${p.name}: ${counts.pass} passed, ${counts.fail + counts.cancelled} failed, ${counts.skipped} skipped (exit ${status})`,
  );
  if (status !== 0 || counts.tests === 0) failed = true;
  if (status === 0 && counts.tests === 0) console.error(`run-tests: no test ran on ${p.name}`);
}
// Closing lines a CI reader recognises: one line per pass, node's TAP summary, then the plain one.
console.log(
  `\n${lines.join('\n')}\n# tests ${total.tests}\n# pass ${total.pass}\n# fail ${total.fail}\n# skipped ${total.skipped}\n# cancelled ${total.cancelled}\n# todo ${total.todo}`,
);
console.log(`${total.pass} passed, ${total.fail + total.cancelled} failed, ${total.skipped} skipped`);
process.exit(failed ? 1 : 0);
