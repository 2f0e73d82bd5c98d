// `export -o DIR` on a full file system: the old rule files stay whole (none replaced by a new one while others are
// not), and a directory the run created is gone. A small tmpfs the test mounts gives a real ENOSPC.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statfsSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { exportRules } from '../../src/core/export/index.ts';

const mnt = mkdtempSync(join(tmpdir(), 'imdsguard-export-full-'));
let mounted = false;

before(() => {
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', mnt], { encoding: 'utf8' });
  mounted = r.status === 0;
  if (!mounted && process.env.CI === 'true') throw new Error(`cannot mount a tmpfs under CI: ${r.stderr}`);
});
after(() => {
  if (mounted) spawnSync('umount', [mnt]);
  rmSync(mnt, { recursive: true, force: true });
});

const cli = (args: string[]) =>
  spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { encoding: 'utf8', timeout: 60_000 });

/** Leave `pages` free blocks on the mount. */
function fill(pages: number) {
  const s = statfsSync(mnt);
  writeFileSync(join(mnt, 'filler'), Buffer.alloc(Math.max(0, (s.bavail - pages) * s.bsize)));
}

test('export -o DIR with the disk full: every existing rule file keeps its old content, exit 3', (t) => {
  if (!mounted) return t.skip('mounting a tmpfs was refused (not root?)');
  const dir = join(mnt, 'sigma');
  mkdirSync(dir);
  const names = exportRules('sigma', { version: 'test' }).files.map((f) => f.name);
  assert.ok(names.length > 2);
  for (const n of names) writeFileSync(join(dir, n), 'ORIGINAL\n');
  fill(3); // room for a few new files, not for all of them
  const r = cli(['export', '--to', 'sigma', '-o', dir]);
  rmSync(join(mnt, 'filler'));
  assert.equal(r.status, 3, r.stderr);
  assert.match(r.stderr, /ENOSPC/);
  for (const n of names) assert.equal(readFileSync(join(dir, n), 'utf8'), 'ORIGINAL\n', n);
  assert.deepEqual(readdirSync(dir).sort(), [...names].sort(), 'no temporary file left');
});

test('export -o NEWDIR with the disk full: the directory it made is removed', (t) => {
  if (!mounted) return t.skip('mounting a tmpfs was refused (not root?)');
  const dir = join(mnt, 'new-sigma');
  fill(3);
  const r = cli(['export', '--to', 'sigma', '-o', dir]);
  rmSync(join(mnt, 'filler'));
  assert.equal(r.status, 3, r.stderr);
  assert.equal(existsSync(dir), false);
});
