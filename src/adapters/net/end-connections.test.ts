import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { after, describe, it } from 'node:test';
import { holderName, parseSsLine } from './end-connections.ts';

// A line of `ss -tnepH` as iproute2 prints it; Node 24 names its main thread `MainThread`, which is what ss shows.
const line = (pid: number) =>
  `0      0      10.0.0.2:35362   169.254.169.254:80  users:(("MainThread",pid=${pid},fd=21)) uid:65534 ino:4711 sk:1 <->`;

describe('parseSsLine', () => {
  const dirs: string[] = [];
  after(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('names a live holder by its executable, not by the thread name ss reports', () => {
    const s = parseSsLine(line(process.pid));
    assert.deepEqual(s, {
      local: '10.0.0.2:35362',
      remote: '169.254.169.254:80',
      uid: 65534,
      holders: [`${basename(realpathSync(process.execPath))} (pid ${process.pid})`],
    });
  });

  it('keeps the name ss gives when the process is gone, and drops the mark of a deleted executable', () => {
    const proc = mkdtempSync(join(tmpdir(), 'imdsguard-proc-'));
    dirs.push(proc);
    mkdirSync(join(proc, '42'));
    symlinkSync('/usr/bin/python3.11 (deleted)', join(proc, '42', 'exe'));
    assert.equal(holderName('MainThread', 42, proc), 'python3.11');
    assert.equal(holderName('MainThread', 43, proc), 'MainThread');
    assert.deepEqual(parseSsLine(line(43), proc)?.holders, ['MainThread (pid 43)']);
    assert.equal(parseSsLine('0 0'), null);
  });
});
