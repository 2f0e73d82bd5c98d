import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';

const FORBIDDEN_MODULES =
  /from\s+['"](?:node:)?(?:fs|fs\/promises|net|http|https|http2|child_process|dgram|dns|tls|worker_threads|cluster|readline|os)['"]/;
const FORBIDDEN_GLOBALS =
  /(?<![.\w])process\.(?:env|argv|stdout|stderr|stdin|cwd|exit)\b|\bDate\.now\(|\bnew Date\(\)|\bperformance\.now\(/;

function files(dir: string): string[] {
  const out: string[] = [];
  for (const n of readdirSync(dir)) {
    const p = join(dir, n);
    if (statSync(p).isDirectory()) out.push(...files(p));
    else if (n.endsWith('.ts') && !n.endsWith('.test.ts')) out.push(p);
  }
  return out;
}

test('src/core imports no I/O module and reads neither the clock nor the environment', () => {
  const list = files('src/core');
  assert.ok(list.length > 10, `expected core files, found ${list.length}`);
  const offenders: string[] = [];
  for (const f of list) {
    const text = readFileSync(f, 'utf8');
    if (FORBIDDEN_MODULES.test(text)) offenders.push(`${f}: imports an I/O module`);
    if (FORBIDDEN_GLOBALS.test(text)) offenders.push(`${f}: reads the clock, environment or process streams`);
  }
  assert.deepEqual(offenders, []);
});

test('the purity check itself catches an import of node:fs', () => {
  assert.ok(FORBIDDEN_MODULES.test("import { readFileSync } from 'node:fs';"));
  assert.ok(FORBIDDEN_GLOBALS.test('const t = Date.now();'));
});

test('dependencies point inward: core imports no outer layer; adapters and app never import the CLI', () => {
  const offenders: string[] = [];
  const importsOf = (f: string) =>
    [...readFileSync(f, 'utf8').matchAll(/from\s+['"](\.[^'"]+)['"]/g)].map((m) => m[1]!);
  for (const f of files('src/core')) {
    for (const i of importsOf(f))
      if (/(?:^|\/)(?:adapters|app|cli|guard)\//.test(i)) offenders.push(`${f} imports ${i}`);
  }
  for (const f of [...files('src/adapters'), ...files('src/app')]) {
    for (const i of importsOf(f)) if (/(?:^|\/)cli\//.test(i)) offenders.push(`${f} imports ${i}`);
  }
  assert.deepEqual(offenders, []);
});
