#!/usr/bin/env node
// `prepare` builds dist/ only when it is older than what it is built from. npm runs `prepare` on `npm ci`, and also
// whenever the package is linked as a directory dependency — which is what `npx imdsguard` does inside this
// repository: npm exec sees the command is the local project, links it into its cache and prepares it. An
// unconditional build there would rewrite dist/ in place on first use (seconds of tsc and asc), under any CLI
// running from it at the time. `npm run build` still builds unconditionally.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

// The compiler may leave an unchanged output's mtime alone, so the outputs' times say nothing: a stamp written after
// each build this script ran does.
const STAMP = 'dist/.prepared';
const OUTPUTS = [STAMP, 'dist/cli/main.js', 'dist/index.js'];
const INPUTS = ['src', 'tsconfig.json', 'tsconfig.build.json', 'package.json'];

function newest(path) {
  let st;
  try {
    st = statSync(path);
  } catch {
    return 0;
  }
  if (!st.isDirectory()) return st.mtimeMs;
  let m = st.mtimeMs;
  for (const name of readdirSync(path)) m = Math.max(m, newest(join(path, name)));
  return m;
}

function oldestOutput() {
  let m = Number.POSITIVE_INFINITY;
  for (const p of OUTPUTS) {
    try {
      m = Math.min(m, statSync(p).mtimeMs);
    } catch {
      return 0; // missing: build
    }
  }
  return m;
}

const built = oldestOutput();
const source = Math.max(...INPUTS.map(newest));
if (built > source) {
  console.error('imdsguard: dist/ is up to date');
  process.exit(0);
}
const r = spawnSync('npm', ['run', '--silent', 'build'], { stdio: 'inherit' });
if (r.status === 0) writeFileSync(STAMP, `${new Date().toISOString()}\n`);
process.exit(r.status ?? 1);
