import assert from 'node:assert/strict';
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { gunzipSync, gzipSync } from 'node:zlib';
import { type FileSummary, redact } from '../../src/app/redact.ts';
import { cli, expectOf, LEAKS, leaksIn } from './helpers.ts';

const dir = mkdtempSync(join(tmpdir(), 'imdsguard-redact-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const NAMES = readdirSync(LEAKS)
  .filter((n) => n.endsWith('.log'))
  .map((n) => n.slice(0, -4));

function lines(s: string): string[] {
  return s.split('\n');
}

describe('imdsguard redact', () => {
  it('masks every secret of every fixture into a directory, keeping every other line byte for byte', async () => {
    const out = join(dir, 'out/');
    const summaries: FileSummary[] = [];
    await redact({ inputs: NAMES.map((n) => join(LEAKS, `${n}.log`)), output: out }, (x) => summaries.push(x));
    for (const name of NAMES) {
      const exp = expectOf(name);
      const before = readFileSync(join(LEAKS, `${name}.log`), 'latin1');
      const after = readFileSync(join(out, `${name}.log`), 'latin1');
      const a = lines(before);
      const b = lines(after);
      assert.equal(b.length, a.length, `${name}: line count`);
      const leakLines = new Set(exp.leaks.map((l) => l.line));
      for (let i = 0; i < a.length; i++) {
        if (!leakLines.has(i + 1)) assert.equal(b[i], a[i], `${name}:${i + 1} changed but holds no secret`);
        else assert.notEqual(b[i], a[i], `${name}:${i + 1} holds a secret but was not changed`);
      }
      for (const v of exp.values) assert.ok(!after.includes(v), `${name}: ${v.slice(0, 8)}… survived`);
      assert.deepEqual(leaksIn(after), [], `${name}: scanning the redacted copy finds a leak`);
      // Only mask characters are new.
      for (const m of after.match(/[A-Za-z0-9._-]{0,4}\*\*\*\*[A-Za-z0-9._-]{0,4}/g) ?? []) assert.ok(m.length <= 12);
    }
    const app = summaries.find((x) => x.input.endsWith('app-text.log'))!;
    assert.equal(app.counts.lines, 99);
    assert.equal(app.counts.linesChanged, expectOf('app-text').leaks.length);
    assert.ok((app.counts.byKind['aws-secret-access-key'] ?? 0) >= 10);
  });

  it('gives the same secret the same mask everywhere', () => {
    const out = readFileSync(join(dir, 'out/app-text.log'), 'latin1');
    const exp = expectOf('app-text');
    // The IMDS role's key id and secret appear raw, JSON-in-JSON, percent-encoded once and twice, in a Python repr,
    // util.inspect and pretty JSON: one mask for each, everywhere.
    for (const v of exp.values.slice(0, 2)) {
      const m = `${v.slice(0, 4)}****${v.replace(/[^A-Za-z0-9._-]/g, '').slice(-4)}`;
      assert.ok(out.split(m).length - 1 >= 7, `${m} appears ${out.split(m).length - 1} times`);
    }
    const ids = new Set(out.match(/A[SK]IA\*\*\*\*[A-Z2-7]{4}/g));
    assert.equal(ids.size, 4, 'four distinct key ids, four distinct masks');
  });

  it('reads stdin and writes stdout (the CLI); gzip in and out', async () => {
    const src = readFileSync(join(LEAKS, 'access-json.log'));
    const [plain, gz] = await Promise.all([
      cli(['redact', '-q'], { input: src }),
      cli(['redact', '-', '-q'], { input: gzipSync(src) }),
    ]);
    assert.equal(plain.status, 0);
    assert.equal(plain.stderr.toString(), '');
    assert.equal(gz.status, 0);
    assert.deepEqual(gz.stdout, plain.stdout, 'gzip input is read transparently');
    assert.deepEqual(leaksIn(plain.stdout.toString('latin1')), []);
    const gzFile = join(dir, 'in.log.gz');
    writeFileSync(gzFile, gzipSync(src));
    const outGz = join(dir, 'out.log.gz');
    await redact({ inputs: [gzFile], output: outGz }, () => {});
    assert.deepEqual(gunzipSync(readFileSync(outGz)), plain.stdout, 'a .gz output is compressed');
  });

  it('keeps a last line without newline, CRLF endings and non-UTF-8 bytes as they were', async () => {
    const id = 'ASIAFAKEQ3EGU7LR2WNP';
    const input = Buffer.concat([
      Buffer.from(`a\r\nkey=${id}\r\n`),
      Buffer.from([0xe9, 0xff, 0x0a]),
      Buffer.from(`tail ${id}`),
    ]);
    const p = join(dir, 'bytes.log');
    writeFileSync(p, input);
    await redact({ inputs: [p], output: `${p}.out` }, () => {});
    const r = { stdout: readFileSync(`${p}.out`) };
    const expected = Buffer.concat([
      Buffer.from('a\r\nkey=ASIA****2WNP\r\n'),
      Buffer.from([0xe9, 0xff, 0x0a]),
      Buffer.from('tail ASIA****2WNP'),
    ]);
    assert.deepEqual(r.stdout, expected);
  });

  it('--in-place replaces the file atomically, keeping mode and owner, with an optional backup', {
    skip: process.getuid?.() !== 0 && !process.env.CI ? 'needs root to give the file another owner' : false,
  }, async () => {
    const p = join(dir, 'inplace.log');
    const original = readFileSync(join(LEAKS, 'app-text.log'));
    writeFileSync(p, original);
    chmodSync(p, 0o640);
    chownSync(p, 4321, 4322);
    await redact({ inputs: [p], inPlace: true, backupSuffix: '.orig' }, () => {});
    const st = statSync(p);
    assert.equal(st.mode & 0o7777, 0o640);
    assert.equal(st.uid, 4321);
    assert.equal(st.gid, 4322);
    assert.deepEqual(readFileSync(`${p}.orig`), original);
    assert.deepEqual(leaksIn(readFileSync(p, 'latin1')), []);
    assert.deepEqual(
      readdirSync(dir).filter((n) => n.includes('.imdsguard-')),
      [],
      'no temporary file left',
    );
    // A second run with the same backup suffix refuses rather than overwrite the backup.
    await assert.rejects(
      redact({ inputs: [p], inPlace: true, backupSuffix: '.orig' }, () => {}),
      /already exists/,
    );
  });

  it('--in-place on a .gz file writes gzip again', async () => {
    const p = join(dir, 'rotated.log.1.gz');
    const src = readFileSync(join(LEAKS, 'access-alb.log'));
    writeFileSync(p, gzipSync(src));
    await redact({ inputs: [p], inPlace: true }, () => {});
    const out = gunzipSync(readFileSync(p)).toString('latin1');
    assert.equal(out.split('\n').length, src.toString('latin1').split('\n').length);
    assert.deepEqual(leaksIn(out), []);
  });

  it('--in-place on a corrupt .gz fails with E_SOURCE_IO and leaves the original untouched', async () => {
    const p = join(dir, 'corrupt.log.gz');
    const good = gzipSync(readFileSync(join(LEAKS, 'app-text.log')));
    const bad = Buffer.concat([good.subarray(0, 200), Buffer.alloc(64, 0x41), good.subarray(264)]);
    writeFileSync(p, bad);
    await assert.rejects(
      redact({ inputs: [p], inPlace: true }, () => {}),
      (e: Error & { code?: string }) => {
        assert.equal(e.code, 'E_SOURCE_IO');
        assert.match(e.message, /corrupt\.log\.gz: corrupt gzip data|corrupt\.log\.gz: /);
        return true;
      },
    );
    assert.deepEqual(readFileSync(p), bad);
    assert.deepEqual(
      readdirSync(dir).filter((n) => n.includes('.imdsguard-')),
      [],
    );
  });

  it('--dry-run (the CLI) reports what it would mask on stderr and writes nothing; exit 0', async () => {
    const out = join(dir, 'dry.log');
    const r = await cli(['redact', '--dry-run', join(LEAKS, 'access-combined.log'), '-o', out]);
    assert.equal(r.status, 0);
    assert.equal(r.stdout.length, 0);
    assert.ok(!existsSync(out));
    // Each leaking line of the access-log fixtures holds each of its kinds once.
    const n = expectOf('access-combined').leaks.reduce((a, l) => a + l.kinds.length, 0);
    assert.match(
      r.stderr.toString(),
      new RegExp(
        `access-combined\\.log: ${lines(readFileSync(join(LEAKS, 'access-combined.log'), 'latin1')).length - 1} lines, would mask ${n} secrets \\(\\d+ distinct: `,
      ),
    );
  });

  it('exits 2 naming the problem: missing input, several inputs to one file, output equal to input', async () => {
    const p = join(dir, 'self.log');
    writeFileSync(p, 'x\n');
    const [missing, several, self, help] = await Promise.all([
      cli(['redact', join(dir, 'nope.log')]),
      cli(['redact', join(LEAKS, 'app-text.log'), join(LEAKS, 'negatives.log'), '-o', join(dir, 'one.log')]),
      cli(['redact', p, '-o', p]),
      cli(['redact', '--help']),
    ]);
    assert.equal(missing.status, 2);
    assert.match(missing.stderr.toString(), /nope\.log/);
    assert.equal(several.status, 2);
    assert.match(several.stderr.toString(), /-o DIR\//);
    assert.equal(self.status, 2);
    assert.equal(readFileSync(p, 'utf8'), 'x\n');
    assert.equal(help.status, 0);
    assert.match(help.stdout.toString(), /--in-place/);
  });

  it('--pseudonymise-ips replaces client addresses with stable keyed pseudonyms and keeps metadata targets', async () => {
    const input = [
      '203.0.113.7 - - [23/Nov/2026:05:10:01 +0000] "GET /fetch?url=http://169.254.169.254/latest/ HTTP/1.1" 200 5',
      '203.0.113.7 - - [23/Nov/2026:05:10:02 +0000] "GET /x HTTP/1.1" 200 5 "-" "curl" "2001:db8:1::7, 198.51.100.9"',
      '{"remote_addr":"2a02:1810:1::5","upstream":"100.100.100.200","peer":"127.0.0.1"}',
      '',
    ].join('\n');
    const p = join(dir, 'ips.log');
    writeFileSync(p, input);
    await redact({ inputs: [p], output: `${p}.1`, pseudonymiseIps: true, ipKey: 'k1' }, () => {});
    await redact({ inputs: [p], output: `${p}.2`, pseudonymiseIps: true, ipKey: 'k2' }, () => {});
    const a = readFileSync(`${p}.1`, 'utf8').split('\n');
    const b = readFileSync(`${p}.2`, 'utf8').split('\n');
    const first = a[0]!.split(' ')[0]!;
    assert.match(first, /^2(4\d|5[0-5])\.\d+\.\d+\.\d+$/);
    assert.equal(a[1]!.split(' ')[0], first, 'stable within a run');
    assert.notEqual(b[0]!.split(' ')[0], first, 'another key, another pseudonym');
    assert.ok(a[0]!.includes('http://169.254.169.254/latest/'));
    assert.ok(!a[1]!.includes('198.51.100.9'));
    assert.ok(!a[2]!.includes('2a02:1810:1::5'));
    assert.match(a[2]!, /"remote_addr":"2001:db8:[0-9a-f:]+"/);
    assert.ok(a[2]!.includes('"100.100.100.200"') && a[2]!.includes('"127.0.0.1"'));
  });
});
