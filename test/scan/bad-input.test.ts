import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { bytesOf, scanFiles } from './helpers.ts';

const dir = mkdtempSync(join(tmpdir(), 'imdsguard-bad-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const ATTACK =
  '192.0.2.66 - - [21/Nov/2026:09:14:04 +0000] "GET /f?u=http://169.254.169.254/latest/meta-data/ HTTP/1.1" 404 153 "-" "curl/8.5.0"';
const BENIGN = '203.0.113.10 - - [21/Nov/2026:09:12:01 +0000] "GET /index.html HTTP/1.1" 200 5120 "-" "Mozilla/5.0"';

function file(name: string, content: string | Buffer): string {
  const p = join(dir, name);
  writeFileSync(p, content);
  return p;
}

describe('scan: bad input', () => {
  it('binary garbage lines are skipped with file and line named; the scan goes on', async () => {
    const p = file(
      'binary.log',
      Buffer.concat([
        Buffer.from(`${BENIGN}\n`),
        Buffer.from([0, 1, 2, 3, 0xff, 0xfe, 0, 7, 10]),
        Buffer.from(`${ATTACK}\n`),
      ]),
    );
    const r = await scanFiles([p]);
    assert.deepEqual(
      r.findings.map((f) => f.origin.line),
      [3],
    );
    assert.equal(r.stats.skipped.get('binary data'), 1);
    assert.ok(
      r.warnings.some((w) => w.startsWith(`${p}:2: skipped: binary`)),
      r.warnings.join('\n'),
    );
  });

  it('invalid UTF-8 is read with replacement characters, reported, and still scanned', async () => {
    const p = file(
      'latin1.log',
      Buffer.concat([Buffer.from(ATTACK.replace('curl/8.5.0', 'caf')), Buffer.from([0xe9, 0xff]), Buffer.from('\n')]),
    );
    const r = await scanFiles([p]);
    assert.deepEqual(
      r.findings.map((f) => f.origin.line),
      [1],
    );
    assert.ok(r.warnings.some((w) => w.startsWith(`${p}:1: invalid UTF-8`)));
  });

  it('CRLF line endings are handled', async () => {
    const p = file('crlf.log', `${BENIGN}\r\n${ATTACK}\r\n`);
    const r = await scanFiles([p], { logFormat: 'combined' });
    assert.deepEqual(
      r.findings.map((f) => f.origin.line),
      [2],
    );
    assert.equal(r.stats.skippedTotal, 0);
    assert.equal(r.findings[0]!.http?.status, 404);
  });

  it('a 1 MiB line is scanned; a line over --max-line-bytes is skipped and counted, and line numbers stay right', async () => {
    const big = `192.0.2.1 - - [21/Nov/2026:09:14:04 +0000] "GET /x?pad=${'a'.repeat(1 << 20)}&u=http://169.254.169.254/latest/meta-data/ HTTP/1.1" 404 1 "-" "-"`;
    const p = file('long.log', `${BENIGN}\n${big}\n${ATTACK}\n`);
    const r = await scanFiles([p]);
    assert.deepEqual(
      r.findings.map((f) => f.origin.line),
      [2, 3],
    );
    const r2 = await scanFiles([p], { maxLineBytes: 64 * 1024 });
    assert.deepEqual(
      r2.findings.map((f) => f.origin.line),
      [3],
    );
    assert.equal(r2.stats.skipped.get('line too long'), 1);
    assert.ok(r2.warnings.some((w) => w.startsWith(`${p}:2: skipped: line of`)));
  });

  it('a format that changes mid-file is re-detected and reported', async () => {
    const json = JSON.stringify({
      remote_addr: '192.0.2.9',
      request: 'GET /a?u=http://metadata.google.internal/computeMetadata/v1/ HTTP/1.1',
      status: 403,
    });
    const p = file('mixed.log', `${BENIGN}\n${json}\n${ATTACK}\n`);
    const r = await scanFiles([p]);
    assert.deepEqual(
      r.findings.map((f) => `${f.origin.line}:${f.origin.format}`),
      ['2:json', '3:combined'],
    );
    assert.ok(
      r.warnings.some((w) => w.includes(':2: format changed from combined to json')),
      r.warnings.join('\n'),
    );
  });

  it('with a forced format, lines that do not fit are skipped with a reason', async () => {
    const p = file('forced.log', `${ATTACK}\nnot a log line but http://169.254.169.254/latest/meta-data/\n`);
    const r = await scanFiles([p], { logFormat: 'combined' });
    assert.deepEqual(
      r.findings.map((f) => f.origin.line),
      [1],
    );
    assert.equal(r.stats.skipped.get('not combined'), 1);
  });

  it('.gz is read transparently; truncated gzip keeps the lines before and warns; corrupt gzip is an unreadable input', async () => {
    const gz = gzipSync(`${BENIGN}\n${ATTACK}\n`.repeat(200));
    const ok = file('ok.log.gz', gz);
    assert.equal((await scanFiles([ok])).findings.length, 200);
    const cut = file('cut.log.gz', gz.subarray(0, Math.floor(gz.length * 0.7)));
    const r = await scanFiles([cut]);
    assert.ok(r.findings.length > 0 && r.findings.length < 200);
    assert.equal(r.stats.inputsFailed.length, 0);
    assert.ok(
      r.warnings.some((w) => w.startsWith(`${cut}: truncated gzip after line`)),
      r.warnings.join('\n'),
    );
    const bad = file('bad.log.gz', Buffer.concat([Buffer.from([0x1f, 0x8b, 8, 0]), Buffer.alloc(64, 0x41)]));
    const r2 = await scanFiles([bad]);
    assert.deepEqual(r2.stats.inputsFailed, [bad]);
  });

  it('stdin, with gzip detected by magic bytes', async () => {
    const r = await scanFiles(['-'], { stdin: bytesOf(gzipSync(`${ATTACK}\n`)) });
    assert.deepEqual(
      r.findings.map((f) => `${f.origin.file}:${f.origin.line}`),
      ['-:1'],
    );
  });

  it('directories recurse and globs expand; missing inputs are reported while the rest is scanned', async () => {
    mkdirSync(join(dir, 'tree', 'sub'), { recursive: true });
    file('tree/a.log', `${ATTACK}\n`);
    file('tree/sub/b.log', `${BENIGN}\n${ATTACK}\n`);
    const r = await scanFiles([join(dir, 'tree'), join(dir, 'nope.log')]);
    assert.equal(r.findings.length, 2);
    assert.deepEqual(r.stats.inputsFailed, [join(dir, 'nope.log')]);
    const g = await scanFiles([join(dir, 'tree', '**', '*.log')]);
    assert.equal(g.findings.length, 2);
  });
});

describe('scan CLI exit codes and output', () => {
  const cli = (args: string[], input?: string) =>
    spawnSync(
      process.execPath,
      ['--import', 'tsx', join(import.meta.dirname, '..', '..', 'src', 'cli', 'main.ts'), 'scan', ...args],
      {
        encoding: 'utf8',
        input: input ?? '',
        timeout: 30_000,
      },
    );

  it('1 with findings (jsonl on stdout, summary on stderr), 0 below --fail-on, 2 when an input cannot be read', () => {
    const p = file('cli.log', `${BENIGN}\n${ATTACK}\n`);
    const r = cli([p]);
    assert.equal(r.status, 1, r.stderr);
    const lines = r.stdout.trim().split('\n');
    assert.equal(lines.length, 1);
    const f = JSON.parse(lines[0]!);
    assert.equal(f.origin.line, 2);
    assert.match(r.stderr, /findings: 1/);
    assert.equal(cli([p, '--fail-on', 'critical']).status, 0);
    const missing = cli([p, join(dir, 'missing.log')]);
    assert.equal(missing.status, 2);
    assert.match(missing.stderr, /missing\.log: cannot read \(ENOENT\)/);
    assert.equal(missing.stdout.trim().split('\n').length, 1, 'the readable input is still scanned');
  });

  it('reads stdin without arguments and writes SARIF to -o', () => {
    const out = join(dir, 'out.sarif');
    const r = cli(['--format', 'sarif', '-o', out], `${ATTACK}\n`);
    assert.equal(r.status, 1, r.stderr);
    assert.equal(r.stdout, '');
  });
});
