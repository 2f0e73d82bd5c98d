import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { makeDirsSync, removeMadeDirs } from './make-dirs.ts';

const base = mkdtempSync(join(tmpdir(), 'imdsguard-makedirs-'));
after(() => rmSync(base, { recursive: true, force: true }));

test('makeDirsSync creates the missing directories, says which, and removeMadeDirs takes back the empty ones', () => {
  const made = makeDirsSync(join(base, 'a', 'b', 'c'));
  assert.deepEqual(made, [join(base, 'a'), join(base, 'a', 'b'), join(base, 'a', 'b', 'c')]);
  assert.deepEqual(makeDirsSync(join(base, 'a', 'b')), []);
  writeFileSync(join(base, 'a', 'keep'), 'x');
  removeMadeDirs(made);
  assert.ok(!existsSync(join(base, 'a', 'b')));
  assert.ok(existsSync(join(base, 'a', 'keep')), 'a directory holding something else stays');
});

test('makeDirsSync fails at once where the parent exists but refuses new entries (/proc), instead of retrying', () => {
  assert.throws(() => makeDirsSync(`/proc/imdsguard-${process.pid}/x`), { code: 'ENOENT' });
  writeFileSync(join(base, 'file'), 'x');
  assert.throws(() => makeDirsSync(join(base, 'file', 'sub')), { code: 'ENOTDIR' });
});
