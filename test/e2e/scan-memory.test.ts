import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createWriteStream, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Writable } from 'node:stream';
import { after, describe, test } from 'node:test';
import { BIN, skipUnbuilt } from './helpers.ts';

// `scan` must hold a bounded amount of memory whatever the input's size: a read buffer kept alive per read (by a
// promise, a closure, a carried line start or a string sliced from it) makes peak RSS grow with the input. The input
// is large enough (256 MiB) that keeping it shows far above the bound, with values unique per line so that no cache
// answers for the scanner.

const MIB = 1 << 20;
const INPUT_BYTES = 256 * MIB;
/** Node itself, the rules and catalogue, a few 1 MiB reads and the findings: well under this on any input size. */
const PEAK_RSS_BOUND_MIB = 200;
const ATTACK_EVERY = 100_000;

const dir = mkdtempSync(join(tmpdir(), 'imdsguard-scan-memory-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Combined log lines with a unique client, id, timestamp and search term per line; every ATTACK_EVERY-th an SSRF. */
async function writeLog(out: Writable, bytes: number): Promise<{ lines: number; attacks: number }> {
  let written = 0;
  let lines = 0;
  let attacks = 0;
  while (written < bytes) {
    let block = '';
    while (block.length < MIB) {
      lines++;
      const ip = `10.${(lines >> 16) & 255}.${(lines >> 8) & 255}.${lines & 255}`;
      const t = 1_700_000_000 + lines;
      const target =
        lines % ATTACK_EVERY === 0
          ? `/fetch?url=http://169.254.169.254/latest/meta-data/iam/security-credentials/r${lines}`
          : `/search?q=item${lines.toString(36)}&order=${t}${lines}&session=${(lines * 2654435761).toString(16)}`;
      if (lines % ATTACK_EVERY === 0) attacks++;
      block += `${ip} - - [21/Nov/2026:09:14:04 +0000] "GET ${target} HTTP/1.1" 200 ${lines % 9000} "https://shop.example/p/${lines}" "Mozilla/5.0 (id ${t})"\n`;
    }
    written += block.length;
    if (!out.write(block)) await once(out, 'drain');
  }
  return { lines, attacks };
}

/** Run `scan` on `args` in a child; its peak RSS from its own resource usage, written as it exits. */
async function scanPeak(
  args: string[],
  feed?: (stdin: Writable) => Promise<unknown>,
): Promise<{ status: number | null; stderr: string; findings: number; peakMiB: number }> {
  const rssFile = join(dir, 'rss.json');
  const hook = join(dir, 'rss-hook.mjs');
  writeFileSync(
    hook,
    `import { writeFileSync } from 'node:fs';\nprocess.on('exit', () => writeFileSync(${JSON.stringify(rssFile)}, JSON.stringify(process.resourceUsage().maxRSS)));\n`,
  );
  const out = join(dir, 'findings.jsonl');
  const child = spawn(
    process.execPath,
    ['--import', hook, BIN, 'scan', '--log-format', 'combined', '--format', 'jsonl', '-o', out, ...args],
    { stdio: [feed ? 'pipe' : 'ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr?.on('data', (b: Buffer) => {
    stderr += b.toString('utf8');
  });
  const closed = once(child, 'close');
  if (feed && child.stdin) {
    await feed(child.stdin);
    child.stdin.end();
  }
  const [status] = (await closed) as [number | null];
  const findings = readFileSync(out, 'utf8').split('\n').filter(Boolean).length;
  rmSync(out, { force: true });
  return { status, stderr, findings, peakMiB: Number(readFileSync(rssFile, 'utf8')) / 1024 };
}

describe('scan memory stays bounded independent of input size', { skip: skipUnbuilt }, () => {
  test(`a ${INPUT_BYTES / MIB} MiB file: peak RSS under ${PEAK_RSS_BOUND_MIB} MiB, every attack found`, async () => {
    const log = join(dir, 'big.log');
    const ws = createWriteStream(log);
    const gen = await writeLog(ws, INPUT_BYTES);
    ws.end();
    await once(ws, 'close');
    try {
      const r = await scanPeak([log]);
      assert.equal(r.status, 1, r.stderr);
      assert.match(r.stderr, new RegExp(`${gen.lines} lines`));
      assert.equal(r.findings, gen.attacks, r.stderr);
      assert.ok(r.peakMiB < PEAK_RSS_BOUND_MIB, `peak RSS ${r.peakMiB.toFixed(0)} MiB on ${INPUT_BYTES / MIB} MiB`);
    } finally {
      rmSync(log, { force: true });
    }
  });

  test(`${INPUT_BYTES / MIB} MiB through a pipe on stdin: peak RSS under ${PEAK_RSS_BOUND_MIB} MiB`, async () => {
    let gen = { lines: 0, attacks: 0 };
    const r = await scanPeak(['-'], async (stdin) => {
      gen = await writeLog(stdin, INPUT_BYTES);
    });
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, new RegExp(`${gen.lines} lines`));
    assert.equal(r.findings, gen.attacks, r.stderr);
    assert.ok(r.peakMiB < PEAK_RSS_BOUND_MIB, `peak RSS ${r.peakMiB.toFixed(0)} MiB on ${INPUT_BYTES / MIB} MiB`);
  });
});
