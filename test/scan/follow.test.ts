import assert from 'node:assert/strict';
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { appendFileSync, mkdtempSync, renameSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';

const dir = mkdtempSync(join(tmpdir(), 'imdsguard-follow-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const attack = (n: number) =>
  `192.0.2.${n} - - [21/Nov/2026:09:14:04 +0000] "GET /f?u=http://169.254.169.254/latest/meta-data/ HTTP/1.1" 404 153 "-" "curl/8.5.0"\n`;
const BENIGN = '203.0.113.10 - - [21/Nov/2026:09:12:01 +0000] "GET / HTTP/1.1" 200 5120 "-" "Mozilla/5.0"\n';

/** Collects the JSON lines a running scan writes, and waits for a given count (bounded). */
function collector(child: ChildProcessWithoutNullStreams) {
  const found: Array<{ client?: { ip: string }; origin: { line: number } }> = [];
  let buf = '';
  child.stdout.on('data', (d: Buffer) => {
    buf += d.toString();
    let nl = buf.indexOf('\n');
    while (nl >= 0) {
      found.push(JSON.parse(buf.slice(0, nl)));
      buf = buf.slice(nl + 1);
      nl = buf.indexOf('\n');
    }
  });
  return {
    found,
    async waitFor(n: number, ms = 30_000) {
      const end = Date.now() + ms;
      while (found.length < n) {
        if (Date.now() > end) throw new Error(`timed out waiting for ${n} findings, have ${found.length}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
  };
}

function startFollow(file: string, extra: string[] = []): ChildProcessWithoutNullStreams {
  return spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      join(import.meta.dirname, '..', '..', 'src', 'cli', 'main.ts'),
      'scan',
      '--follow',
      '--format',
      'jsonl',
      ...extra,
      file,
    ],
    { stdio: 'pipe' },
  );
}

async function settle(ms = 600): Promise<void> {
  await new Promise((r) => setTimeout(r, ms));
}

describe('scan --follow', { timeout: 180_000 }, () => {
  it('reads appended lines from the end, survives rotation and truncation, flushes as it goes, stops on SIGTERM', async () => {
    const file = join(dir, 'access.log');
    writeFileSync(file, attack(1) + BENIGN);
    const child = startFollow(file);
    const c = collector(child);
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    try {
      // Started from the end: the existing attack (line 1) is not reported.
      const end = Date.now() + 60_000;
      while (!stderr.includes('following from line 3')) {
        if (Date.now() > end) throw new Error(`follower did not start: ${stderr}`);
        await settle(50);
      }
      appendFileSync(file, BENIGN + attack(2));
      await c.waitFor(1);
      assert.equal(c.found[0]!.client?.ip, '192.0.2.2');
      assert.equal(c.found[0]!.origin.line, 4, 'line numbers count the lines that were already there');
      // logrotate: move away, create anew.
      renameSync(file, `${file}.1`);
      writeFileSync(file, attack(3));
      await c.waitFor(2);
      assert.equal(c.found[1]!.client?.ip, '192.0.2.3');
      assert.equal(c.found[1]!.origin.line, 1);
      // copytruncate: emptied in place, then written again.
      await settle();
      truncateSync(file, 0);
      await settle();
      appendFileSync(file, attack(4));
      await c.waitFor(3);
      assert.equal(c.found[2]!.client?.ip, '192.0.2.4');
      assert.equal(c.found[2]!.origin.line, 1);
    } finally {
      child.kill('SIGTERM');
    }
    const code = await new Promise<number | null>((r) => child.on('close', r));
    assert.equal(code, 1, `exit code after SIGTERM with findings; stderr: ${stderr}`);
    assert.match(stderr, /rotated/);
    assert.match(stderr, /findings: 3/);
  });

  it('--from-start reads what is there first', async () => {
    const file = join(dir, 'start.log');
    writeFileSync(file, attack(5));
    const child = startFollow(file, ['--from-start']);
    const c = collector(child);
    try {
      await c.waitFor(1);
      assert.equal(c.found[0]!.origin.line, 1);
    } finally {
      child.kill('SIGTERM');
    }
    await new Promise((r) => child.on('close', r));
  });
});
