#!/usr/bin/env node
// Runs every bench/*.bench.ts in turn through tsx (one process each, so one bench's heap never skews another's).
// Arguments are passed to every bench; `--only NAME` runs just the benches whose file name contains NAME.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

const args = process.argv.slice(2);
let only;
const i = args.indexOf('--only');
if (i >= 0) {
  only = args[i + 1];
  args.splice(i, 2);
}
let files;
try {
  files = readdirSync('bench')
    .filter((n) => n.endsWith('.bench.ts'))
    .filter((n) => !only || n.includes(only))
    .sort();
} catch {
  files = [];
}
if (files.length === 0) {
  console.error('run-bench: no bench/*.bench.ts files found');
  process.exit(1);
}
let failed = 0;
for (const f of files) {
  console.error(`\n== ${f}`);
  const r = spawnSync(process.execPath, ['--import', 'tsx', join('bench', f), ...args], { stdio: 'inherit' });
  if (r.status !== 0) {
    failed++;
    console.error(`run-bench: ${f} exited with ${r.status ?? r.signal}`);
  }
}
process.exit(failed > 0 ? 1 : 0);
