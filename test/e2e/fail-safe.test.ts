import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import {
  closeSync,
  cpSync,
  linkSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { BIN, findingIds, isRoot, mknod, ROOT, runCli, skipUnbuilt, snapshot, touched } from './helpers.ts';

const base = mkdtempSync(join(tmpdir(), 'imdsguard-failsafe-'));
after(() => rmSync(base, { recursive: true, force: true }));
let n = 0;
/** A fresh temporary directory per test. */
const fresh = () => {
  const d = join(base, String(n++));
  mkdirSync(d);
  return d;
};

const CLOUD = join(ROOT, 'test/fixtures/cloud');
const SSRF = (ip: number) =>
  `192.0.2.${ip} - - [21/Nov/2026:09:14:04 +0000] "GET /fetch?url=http://169.254.169.254/latest/meta-data/iam/security-credentials/ HTTP/1.1" 200 512 "-" "curl/8"\n`;
/** A log line holding instance credentials (a fixture's fake ones), and what they look like masked. */
const QUIET = '192.0.2.1 - - [21/Nov/2026:09:14:04 +0000] "GET /index.html HTTP/1.1" 200 512 "-" "curl/8"\n';
const SECRET = `${readFileSync(join(ROOT, 'test/fixtures/leaks/access-combined.log'), 'utf8').split('\n')[4]}\n`;
const MASKED = /ASIA\*+UYPA/;
const BROKEN_GZ = Buffer.concat([gzipSync(Buffer.from(SECRET.repeat(2000))).subarray(0, 60)]);
const noDevices = isRoot ? false : 'device nodes can only be made as root (mknod)';

/** Cloud findings by what they rest on (their ids include the line, which inserted bad lines shift). */
const cloudKeys = (jsonl: string) =>
  jsonl
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const f = JSON.parse(l) as { rule: { id: string }; origin: { event_ids?: string[] } };
      return `${f.rule.id} ${[...(f.origin.event_ids ?? [])].sort().join(',')}`;
    })
    .sort();

/** One line, no stack trace. */
function oneLine(stderr: string, re: RegExp): void {
  const lines = stderr.trimEnd().split('\n');
  assert.equal(lines.length, 1, stderr);
  assert.match(lines[0]!, re);
  assert.doesNotMatch(stderr, /^\s+at /m);
}

describe('outputs fail safe', { skip: skipUnbuilt }, () => {
  test('redact: a failed run leaves an existing -o file, a file under -o DIR/ and a linked file as they were', async () => {
    const d = fresh();
    writeFileSync(join(d, 'broken.gz'), BROKEN_GZ);
    writeFileSync(join(d, 'keep.txt'), 'precious\n');
    mkdirSync(join(d, 'out'));
    writeFileSync(join(d, 'out', 'broken.gz'), 'precious too\n');
    writeFileSync(join(d, 'target.txt'), 'pointed at\n');
    symlinkSync('target.txt', join(d, 'link.txt'));
    const before = snapshot(d);
    for (const out of ['keep.txt', 'out/', 'link.txt']) {
      const r = await runCli(['redact', 'broken.gz', '-o', out], { cwd: d });
      assert.equal(r.status, 2, r.stderr);
      assert.match(r.stderr, /broken\.gz/);
    }
    assert.deepEqual(touched(before, snapshot(d)), []);
    assert.deepEqual(snapshot(d), before, 'no file left behind');
  });

  test('redact: one bad input among several; the good one is written, the bad one leaves its old copy', async () => {
    const d = fresh();
    writeFileSync(join(d, 'broken.gz'), BROKEN_GZ);
    writeFileSync(join(d, 'good.log'), SECRET);
    mkdirSync(join(d, 'out'));
    writeFileSync(join(d, 'out', 'broken.gz'), 'old copy\n');
    const before = snapshot(d);
    const r = await runCli(['redact', 'broken.gz', 'good.log', '-o', 'out/'], { cwd: d });
    assert.equal(r.status, 2, r.stderr);
    assert.match(readFileSync(join(d, 'out', 'good.log'), 'utf8'), MASKED);
    assert.deepEqual(touched(before, snapshot(d)), []);
  });

  test('redact: a symlink output keeps the link and replaces what it points at, on success only', async () => {
    const d = fresh();
    writeFileSync(join(d, 'good.log'), SECRET);
    writeFileSync(join(d, 'target.txt'), 'old\n');
    symlinkSync('target.txt', join(d, 'link.txt'));
    const r = await runCli(['redact', 'good.log', '-o', 'link.txt'], { cwd: d });
    assert.equal(r.status, 0, r.stderr);
    assert.ok(lstatSync(join(d, 'link.txt')).isSymbolicLink());
    assert.match(readFileSync(join(d, 'target.txt'), 'utf8'), MASKED);
  });

  test('device copies: written through, never removed; a full device is one line and exit 3', {
    skip: noDevices,
  }, async () => {
    const d = fresh();
    assert.ok(mknod(join(d, 'full'), 1, 7) && mknod(join(d, 'null'), 1, 3));
    writeFileSync(join(d, 'broken.gz'), BROKEN_GZ);
    writeFileSync(join(d, 'good.log'), SSRF(2) + SECRET);
    const before = snapshot(d);
    let r = await runCli(['redact', 'broken.gz', '-o', 'full'], { cwd: d });
    assert.equal(r.status, 2, r.stderr);
    r = await runCli(['redact', 'good.log', '-o', 'full'], { cwd: d });
    assert.equal(r.status, 3);
    oneLine(r.stderr, /cannot write ".*full": no space left on device \(ENOSPC\)/);
    r = await runCli(['redact', 'good.log', '-o', 'null'], { cwd: d });
    assert.equal(r.status, 0, r.stderr);
    r = await runCli(['scan', 'good.log', '-o', 'full'], { cwd: d });
    assert.equal(r.status, 3);
    oneLine(r.stderr.replace(/^imdsguard scan:[\s\S]*$/m, ''), /no space left on device \(ENOSPC\)/);
    // Every command's stdout on a full device.
    const full = openSync(join(d, 'full'), 'w');
    try {
      for (const args of [
        ['export', '--to', 'sigma'],
        ['scan', '--no-summary', 'good.log'],
        ['explain', 'http://169.254.169.254/latest/meta-data/'],
        ['cloudtrail', join(CLOUD, 'lake-export.ndjson')],
        ['posture', join(CLOUD, 'aws-describe-instances.json'), '--readiness', '/dev/null'],
        ['redact', 'good.log'],
      ]) {
        r = await runCli(args, { cwd: d, stdout: full });
        assert.equal(r.status, 3, `${args[0]}: ${r.stderr}`);
        oneLine(r.stderr, /^imdsguard: cannot write stdout: no space left on device \(ENOSPC\)$/);
      }
    } finally {
      closeSync(full);
    }
    assert.deepEqual(touched(before, snapshot(d)), []);
  });

  test('a reader that closes the pipe early ends redact quietly (exit 0, nothing on stderr)', async () => {
    const d = fresh();
    writeFileSync(join(d, 'big.log'), SECRET.repeat(200_000));
    const wrap = spawn(
      'bash',
      ['-c', `"${process.execPath}" "${BIN}" redact big.log 2>err | head -1 >/dev/null; echo \${PIPESTATUS[0]}`],
      {
        cwd: d,
      },
    );
    let out = '';
    wrap.stdout.on('data', (b: Buffer) => {
      out += b;
    });
    await once(wrap, 'close');
    assert.equal(out.trim(), '0');
    assert.equal(readFileSync(join(d, 'err'), 'utf8'), '');
  });

  test('an existing -o file: replaced when the run reaches its end, even with exit 2 for an unreadable input; kept on a usage error', async () => {
    const d = fresh();
    writeFileSync(join(d, 'access.log'), SSRF(6));
    const cases: Array<[string, string[]]> = [
      ['scan', ['access.log', 'missing.log']],
      ['cloudtrail', [join(CLOUD, 'lake-export.ndjson'), 'missing.json']],
      ['posture', [join(CLOUD, 'aws-describe-instances.json'), 'missing.json']],
    ];
    for (const [cmd, inputs] of cases) {
      writeFileSync(join(d, 'out.jsonl'), 'old\n');
      const alone = await runCli([cmd, ...inputs.slice(0, 1)], { cwd: d });
      const r = await runCli([cmd, ...inputs, '-o', 'out.jsonl'], { cwd: d });
      assert.equal(r.status, 2, `${cmd}: ${r.stderr}`);
      assert.match(r.stderr, /missing\.(log|json)/, cmd);
      // The findings of every input that could be read, as if it had been the only one.
      const written = readFileSync(join(d, 'out.jsonl'), 'utf8');
      assert.ok(alone.stdout.length > 0, cmd);
      assert.deepEqual(findingIds(written), findingIds(alone.stdout), cmd);
      // A usage error ends the run before it has a result: the file stays as it was.
      writeFileSync(join(d, 'out.jsonl'), 'old\n');
      const u = await runCli([cmd, ...inputs, '--fail-on', 'nosuch', '-o', 'out.jsonl'], { cwd: d });
      assert.equal(u.status, 2, `${cmd}: ${u.stderr}`);
      assert.equal(readFileSync(join(d, 'out.jsonl'), 'utf8'), 'old\n', cmd);
    }
    // redact writes one copy per input: an input that fails leaves its existing copy as it was.
    writeFileSync(join(d, 'out.log'), 'old\n');
    writeFileSync(join(d, 'broken.gz'), BROKEN_GZ);
    const r = await runCli(['redact', 'broken.gz', '-o', 'out.log'], { cwd: d });
    assert.equal(r.status, 2, r.stderr);
    assert.equal(readFileSync(join(d, 'out.log'), 'utf8'), 'old\n');
  });

  test('a closed stdout (>&-) is a write error: one line, exit 3; >/dev/null and | head stay quiet', async () => {
    const d = fresh();
    writeFileSync(join(d, 'access.log'), SSRF(4));
    writeFileSync(join(d, 'big.log'), SSRF(5).repeat(5_000));
    const sh = async (cmd: string): Promise<{ code: string; err: string }> => {
      const wrap = spawn('bash', ['-c', `${cmd} 2>err; echo \${PIPESTATUS[0]}`], { cwd: d });
      let out = '';
      wrap.stdout.on('data', (b: Buffer) => {
        out += b;
      });
      await once(wrap, 'close');
      return { code: out.trim(), err: readFileSync(join(d, 'err'), 'utf8') };
    };
    const cli = `"${process.execPath}" "${BIN}"`;
    for (const args of [
      'scan access.log',
      'scan --format table access.log',
      'redact access.log',
      'explain http://169.254.169.254/',
      'export --to sigma',
    ]) {
      const r = await sh(`${cli} ${args} >&-`);
      assert.equal(r.code, '3', `${args}: ${r.err}`);
      oneLine(r.err, /^imdsguard: cannot write stdout: it is closed \(bad file descriptor, EBADF\)$/);
    }
    // Written to /dev/null on purpose, or to -o with stdout closed: no error.
    assert.equal((await sh(`${cli} scan access.log >/dev/null`)).code, '1');
    assert.equal((await sh(`${cli} scan access.log -o out.jsonl >&-`)).code, '1');
    // A reader that stops early: quiet, with the exit code so far (findings were seen).
    for (const format of ['jsonl', 'table']) {
      const r = await sh(`${cli} scan --format ${format} big.log | head -1 >/dev/null`);
      assert.equal(r.code, '1', `${format}: ${r.err}`);
      assert.equal(r.err, '', format);
    }
  });

  test('an output that is one of the inputs is refused, through links too, by every command', async () => {
    const d = fresh();
    writeFileSync(join(d, 'access.log'), SSRF(3));
    writeFileSync(join(d, 'secret.log'), SECRET);
    symlinkSync('access.log', join(d, 'sym.log'));
    linkSync(join(d, 'access.log'), join(d, 'hard.log'));
    cpSync(join(CLOUD, 'lake-export.ndjson'), join(d, 'trail.ndjson'));
    symlinkSync('trail.ndjson', join(d, 'trail-link.ndjson'));
    cpSync(join(CLOUD, 'aws-describe-instances.json'), join(d, 'inv.json'));
    mkdirSync(join(d, 'logs'));
    symlinkSync('../access.log', join(d, 'logs', 'in-dir.log'));
    const before = snapshot(d);
    const cases: string[][] = [
      ['scan', 'access.log', '-o', 'access.log'],
      ['scan', 'access.log', '-o', 'sym.log'],
      ['scan', 'access.log', '-o', 'hard.log'],
      ['scan', 'logs', '-o', 'access.log'],
      ['cloudtrail', 'trail.ndjson', '-o', 'trail-link.ndjson'],
      ['cloudtrail', 'trail.ndjson', '--inventory', 'inv.json', '-o', 'inv.json'],
      ['posture', 'inv.json', '-o', 'inv.json'],
      ['posture', 'inv.json', '--remediation-script', 'inv.json'],
      ['posture', 'inv.json', '--readiness', 'inv.json'],
      ['redact', 'access.log', '-o', 'sym.log'],
    ];
    for (const args of cases) {
      const r = await runCli(args, { cwd: d });
      assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, /is also an input/, args.join(' '));
    }
    // Stdin is the same file as -o (`cmd -o FILE < FILE`): refused by device and inode, the file named, left as it was.
    // secret.log holds a secret, so a redact that went ahead would change it.
    const stdinCases: Array<[string, string[]]> = [
      ['access.log', ['explain', '-o', 'access.log']],
      ['secret.log', ['redact', '-o', 'secret.log']],
      ['secret.log', ['redact', '-', '-o', 'secret.log']],
      ['access.log', ['scan', '-o', 'access.log']],
      ['access.log', ['scan', '-', '-o', 'access.log']],
      ['trail.ndjson', ['cloudtrail', '-o', 'trail.ndjson']],
      ['trail.ndjson', ['cloudtrail', '-', '-o', 'trail-link.ndjson']],
      ['inv.json', ['posture', '-', '-o', 'inv.json']],
    ];
    for (const [file, args] of stdinCases) {
      const fd = openSync(join(d, file), 'r');
      try {
        const child = spawn(process.execPath, [BIN, ...args], { cwd: d, stdio: [fd, 'pipe', 'pipe'] });
        let err = '';
        child.stderr?.on('data', (b: Buffer) => {
          err += b;
        });
        const [code] = await once(child, 'close');
        assert.equal(code, 2, `${args.join(' ')} < ${file}: ${err}`);
        assert.match(err, new RegExp(`"${args.at(-1)}" is also an input \\(stdin\\)`), `${args.join(' ')}: ${err}`);
      } finally {
        closeSync(fd);
      }
    }
    assert.deepEqual(touched(before, snapshot(d)), []);
    assert.deepEqual(snapshot(d), before);
  });
});

describe('inputs: every readable input counts', { skip: skipUnbuilt }, () => {
  test('cloudtrail: a file holding 42, a broken NDJSON line, a truncated .json.gz, a missing path, a too-long record', async () => {
    const d = fresh();
    const athena = readFileSync(join(CLOUD, 'athena-unload.ndjson'), 'utf8').split('\n');
    writeFileSync(
      join(d, 'athena-broken.ndjson'),
      [...athena.slice(0, 2), '{"eventName": broken', ...athena.slice(2)].join('\n'),
    );
    writeFileSync(join(d, 'answer.json'), '42\n');
    cpSync(join(CLOUD, 'AWSLogs'), join(d, 'AWSLogs'), { recursive: true });
    const trailDir = join(d, 'AWSLogs/111122223333/CloudTrail/us-west-2/2026/11/20');
    const gz = gzipSync(readFileSync(join(CLOUD, 'lake-export.ndjson')));
    writeFileSync(
      join(trailDir, '111122223333_CloudTrail_us-west-2_20261120T1010Z_truncated.json.gz'),
      gz.subarray(0, gz.length >> 1),
    );
    const good = await runCli([
      'cloudtrail',
      join(CLOUD, 'athena-unload.ndjson'),
      join(CLOUD, 'AWSLogs'),
      join(CLOUD, 'gcp-audit.json'),
    ]);
    assert.equal(good.status, 1, good.stderr);
    const want = cloudKeys(good.stdout);
    assert.ok(want.length >= 3);
    const r = await runCli(
      ['cloudtrail', 'athena-broken.ndjson', 'answer.json', 'AWSLogs', 'missing.json', join(CLOUD, 'gcp-audit.json')],
      { cwd: d },
    );
    assert.equal(r.status, 2, r.stderr);
    assert.deepEqual(cloudKeys(r.stdout), want);
    assert.match(
      r.stderr,
      /athena-broken\.ndjson:3: Record not closed at the end of its line \(the rest of that line skipped\)/,
    );
    assert.match(r.stderr, /answer\.json:1: /);
    assert.match(r.stderr, /truncated\.json\.gz.*(truncated|corrupt)/);
    assert.match(r.stderr, /missing\.json/);
    assert.doesNotMatch(r.stderr, /^\s+at /m);
  });

  test('posture: a bad inventory file costs only itself', async () => {
    const d = fresh();
    writeFileSync(join(d, 'bad.json'), '{"Reservations": [ {"Instances": [ }');
    const good = await runCli(['posture', join(CLOUD, 'aws-describe-instances.json')]);
    const r = await runCli(['posture', 'bad.json', join(CLOUD, 'aws-describe-instances.json'), 'nope.json'], {
      cwd: d,
    });
    assert.equal(r.status, 2, r.stderr);
    assert.equal(r.stdout, good.stdout);
    assert.match(r.stderr, /bad\.json/);
    assert.match(r.stderr, /nope\.json/);
  });

  test('scan: FIFOs and process substitution are read as streams; symlinks in directories are followed, loops once', async () => {
    const d = fresh();
    mkdirSync(join(d, 'logs'));
    writeFileSync(join(d, 'outside.log'), SSRF(4));
    symlinkSync('../outside.log', join(d, 'logs', 'linked.log'));
    symlinkSync('.', join(d, 'logs', 'loop'));
    symlinkSync('nowhere.log', join(d, 'logs', 'dangling.log'));
    let r = await runCli(['scan', 'logs'], { cwd: d });
    assert.equal(r.status, 1, r.stderr);
    assert.equal(r.stdout.trim().split('\n').length, 1);
    r = await runCli(['scan', 'logs/*.log'], { cwd: d });
    assert.equal(r.status, 1, r.stderr);
    // Process substitution, as a shell does it.
    const sub = spawnSync('bash', ['-c', `"${process.execPath}" "${BIN}" scan <(printf '%s' "$0")`, SSRF(5)], {
      cwd: d,
      encoding: 'utf8',
    });
    assert.equal(sub.status, 1, sub.stderr);
    assert.match(sub.stdout, /192\.0\.2\.5/);
    // A FIFO.
    spawnFifoWriter(join(d, 'fifo'), SSRF(6));
    r = await runCli(['scan', 'fifo'], { cwd: d });
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stdout, /192\.0\.2\.6/);
  });

  test('explain: a bare CR is part of the line, CRLF is a line ending', async () => {
    const r = await runCli(['explain', '--format', 'jsonl'], { input: 'a\rb\nc\r\nd' });
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(
      r.stdout
        .trimEnd()
        .split('\n')
        .map((l) => (JSON.parse(l) as { input: string }).input),
      ['a\rb', 'c', 'd'],
    );
  });

  test('scan: the summary size counts skipped long lines', async () => {
    const d = fresh();
    writeFileSync(join(d, 'long.log'), `${'x'.repeat(3 << 20)}\n${SSRF(7)}`);
    const r = await runCli(['scan', '--max-line-bytes', '1000', 'long.log'], { cwd: d });
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /2 lines \(3\.0 MiB\)/);
  });
});

/** ESC, BEL and the C1 CSI: what would let text drive a terminal. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: these are what must not pass
const TERMINAL_CONTROL = /[\u001b\u0007\u009b]/;

describe('terminal safety', { skip: skipUnbuilt }, () => {
  test('escape sequences from a log field and from a file name never reach stderr', async () => {
    const d = fresh();
    const name = 'x\u001b[2Jy.log';
    writeFileSync(
      join(d, name),
      `${JSON.stringify({ client: '\u001b]0;pwned\u0007\u001b[2J', url: 'http://169.254.169.254/latest/meta-data/iam/security-credentials/', status: 200 })}\n\u0000\u0001binary\n`,
    );
    const r = await runCli(['scan', '--log-format', 'json', name, `missing\u001b]0;t\u0007.log`], { cwd: d });
    assert.equal(r.status, 2, r.stderr);
    assert.ok(r.stderr.length > 0);
    assert.doesNotMatch(r.stderr, TERMINAL_CONTROL);
    const c = await runCli(['cloudtrail', `no\u001b[2Jfile.json`], { cwd: d });
    assert.equal(c.status, 2);
    assert.doesNotMatch(c.stderr, TERMINAL_CONTROL);
  });
});

describe('signals', { skip: skipUnbuilt }, () => {
  for (const [sig, code] of [
    ['SIGTERM', 143],
    ['SIGHUP', 129],
    ['SIGINT', 130],
  ] as const) {
    test(`${sig} during a batch scan: the findings so far are written, the exit is ${code}, the unread inputs are named`, async () => {
      const d = fresh();
      writeFileSync(join(d, 'a.log'), SSRF(8));
      writeFileSync(join(d, 'c.log'), SSRF(9));
      writeFileSync(join(d, 'out.jsonl'), 'old\n');
      mkfifo(join(d, 'b.fifo'));
      const before = snapshot(d);
      const child = spawn(
        process.execPath,
        [BIN, 'scan', '--concurrency', '1', 'a.log', 'b.fifo', 'c.log', '-o', 'out.jsonl'],
        {
          cwd: d,
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      let err = '';
      child.stderr.on('data', (b: Buffer) => {
        err += b;
      });
      // Once the FIFO has a reader, the scan has read a.log; it then reads what trickles in until stopped.
      const writer = await open(join(d, 'b.fifo'), 'w');
      const trickle = trickleInto(writer, QUIET);
      child.kill(sig);
      const [status] = await once(child, 'close');
      await trickle;
      assert.equal(status, code, err);
      assert.match(err, new RegExp(`interrupted by ${sig}; not read: b\\.fifo \\(after line \\d+\\), c\\.log`));
      assert.match(readFileSync(join(d, 'out.jsonl'), 'utf8'), /192\.0\.2\.8/);
      assert.deepEqual(touched(before, snapshot(d), ['out.jsonl']), []);
      assert.deepEqual(readdirSync(d).sort(), [...before.keys()].sort(), 'no temporary file left');
    });
  }

  test('SIGTERM during cloudtrail: exit 143, the unread input named, a new -o file not left half-written', async () => {
    const d = fresh();
    mkfifo(join(d, 'b.fifo'));
    const before = snapshot(d);
    const child = spawn(
      process.execPath,
      [BIN, 'cloudtrail', join(CLOUD, 'lake-export.ndjson'), 'b.fifo', '-o', 'new.jsonl'],
      {
        cwd: d,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let err = '';
    child.stderr.on('data', (b: Buffer) => {
      err += b;
    });
    const writer = await open(join(d, 'b.fifo'), 'w');
    const trickle = trickleInto(writer, '{"eventName":"Quiet"}\n');
    child.kill('SIGTERM');
    const [status] = await once(child, 'close');
    await trickle;
    assert.equal(status, 143, err);
    assert.match(err, /interrupted by SIGTERM; not read: b\.fifo/);
    assert.deepEqual(snapshot(d), before);
  });
});

function mkfifo(path: string): void {
  assert.equal(spawnSync('mkfifo', [path]).status, 0, `mkfifo ${path}`);
}

/** Write `line` into an open FIFO every few milliseconds until its reader goes, then close it. */
async function trickleInto(writer: import('node:fs/promises').FileHandle, line: string): Promise<void> {
  try {
    for (;;) {
      await writer.write(line);
      await new Promise((r) => setTimeout(r, 10));
    }
  } catch {
    // EPIPE: the reader is gone.
  } finally {
    await writer.close();
  }
}

/** Write `text` into a FIFO once a reader opens it (in the background). */
function spawnFifoWriter(path: string, text: string): void {
  mkfifo(path);
  void open(path, 'w').then(async (fh) => {
    await fh.write(text);
    await fh.close();
  });
}
