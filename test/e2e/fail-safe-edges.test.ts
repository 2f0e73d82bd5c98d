import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import {
  chmodSync,
  closeSync,
  cpSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { BIN, cannotRunUnprivileged, ROOT, runCli, skipUnbuilt, snapshot, touched } from './helpers.ts';

const base = mkdtempSync(join(tmpdir(), 'imdsguard-failsafe-edges-'));
after(() => rmSync(base, { recursive: true, force: true }));
let n = 0;
/** A fresh temporary directory per test. */
const fresh = () => {
  const d = join(base, String(n++));
  mkdirSync(d);
  return d;
};

const SSRF = (ip: number) =>
  `192.0.2.${ip} - - [21/Nov/2026:09:14:04 +0000] "GET /fetch?url=http://169.254.169.254/latest/meta-data/iam/security-credentials/ HTTP/1.1" 200 512 "-" "curl/8"\n`;
/** Long enough for a test to fail rather than hang; a correct run takes a second or two. */
const BOUND = 20_000;

describe('outputs that cannot be created', { skip: skipUnbuilt }, () => {
  test('-o under /proc or /sys fails at once with exit 3 and one line naming it, for every command', async () => {
    const d = fresh();
    writeFileSync(join(d, 'a.log'), SSRF(1));
    const name = `/proc/imdsguard-${process.pid}`;
    const runs: Array<[string[], RegExp]> = [
      [['export', '--to', 'sigma', '-o', name], /the sigma export to "\/proc\/imdsguard-\d+"/],
      [['export', '--to', 'suricata', '-o', `${name}/deeper/`], /\/proc\/imdsguard-\d+\/deeper\//],
      [['export', '--to', 'sigma', '-o', '/sys/imdsguard-test'], /\/sys\/imdsguard-test/],
      [['redact', 'a.log', '-o', `${name}/`], /\/proc\/imdsguard-\d+\//],
      [['redact', 'a.log', '-o', name], /\/proc\/imdsguard-\d+/],
      [['scan', 'a.log', '-o', `${name}/x`], /\/proc\/imdsguard-\d+\/x/],
      [['explain', '-o', name], /\/proc\/imdsguard-\d+/],
    ];
    for (const [args, where] of runs) {
      const r = await runCli(args, { cwd: d, timeoutMs: BOUND, input: SSRF(2) });
      assert.equal(r.signal, null, `${args.join(' ')} did not end by itself`);
      assert.equal(r.status, 3, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, /^imdsguard: cannot write /);
      assert.match(r.stderr, where);
      assert.doesNotMatch(r.stderr, /^\s+at /m);
    }
    assert.deepEqual(readdirSync(d), ['a.log']);
  });
});

function mkfifo(path: string): void {
  assert.equal(spawnSync('mkfifo', [path]).status, 0, `mkfifo ${path}`);
}

/** Whether process `pid` holds `path` open (its /proc/PID/fd links). */
function holdsOpen(pid: number, path: string): boolean {
  try {
    return readdirSync(`/proc/${pid}/fd`).some((fd) => {
      try {
        return readlinkSync(`/proc/${pid}/fd/${fd}`) === path;
      } catch {
        return false;
      }
    });
  } catch {
    return false;
  }
}

/**
 * Start the CLI, wait until it holds `waitFor` open (at most 3 s: a command that never opens it is signalled
 * anyway), send `sig`, and collect how it ended; a command still running `BOUND` ms later is killed.
 */
async function signalWhenOpen(args: string[], cwd: string, waitFor: string | number, sig: NodeJS.Signals) {
  const child = spawn(process.execPath, [BIN, ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (b: Buffer) => {
    stderr += b;
  });
  child.stdout.resume();
  if (typeof waitFor === 'number') await new Promise((r) => setTimeout(r, waitFor));
  else
    for (let waited = 0; waited < 3000 && !holdsOpen(child.pid!, waitFor); waited += 50)
      await new Promise((r) => setTimeout(r, 50));
  child.kill(sig);
  const killer = setTimeout(() => child.kill('SIGKILL'), BOUND);
  const [status, signal] = (await once(child, 'close')) as [number | null, NodeJS.Signals | null];
  clearTimeout(killer);
  return { status, signal, stderr };
}

describe('FIFOs: read as streams, and a signal still ends the run', { skip: skipUnbuilt }, () => {
  test('investigate reads findings from a FIFO', async () => {
    const d = fresh();
    writeFileSync(join(d, 'a.log'), SSRF(3));
    const findings = (await runCli(['scan', 'a.log'], { cwd: d })).stdout;
    assert.match(findings, /192\.0\.2\.3/);
    mkfifo(join(d, 'ff'));
    void open(join(d, 'ff'), 'w').then(async (fh) => {
      await fh.write(findings);
      await fh.close();
    });
    const r = await runCli(['investigate', '--format', 'jsonl', 'ff'], { cwd: d, timeoutMs: BOUND });
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stdout, /"type":"incident"/);
    assert.match(r.stderr, /ff \(1 findings?\)/);
  });

  const runs: Array<[string, string[], NodeJS.Signals, number]> = [
    ['investigate', ['investigate', 'ff', 'later.log'], 'SIGTERM', 143],
    ['investigate', ['investigate', 'ff', 'later.log'], 'SIGINT', 130],
    ['scan', ['scan', '--concurrency', '1', 'ff', 'later.log'], 'SIGTERM', 143],
    ['cloudtrail', ['cloudtrail', 'ff', 'later.log'], 'SIGTERM', 143],
    ['posture', ['posture', 'ff', 'later.log'], 'SIGHUP', 129],
    ['redact', ['redact', 'ff', 'later.log', '-o', 'out/'], 'SIGTERM', 143],
  ];
  for (const [name, args, sig, code] of runs)
    test(`${name}: ${sig} while a FIFO has no writer ends the run with ${code}, naming every input not read`, async () => {
      const d = fresh();
      mkfifo(join(d, 'ff'));
      writeFileSync(join(d, 'later.log'), SSRF(4));
      const r = await signalWhenOpen(args, d, join(d, 'ff'), sig);
      assert.equal(r.signal, null, `${args.join(' ')} ignored ${sig} (killed after ${BOUND} ms)`);
      assert.equal(r.status, code, r.stderr);
      assert.match(r.stderr, new RegExp(`interrupted by ${sig}; not read: ff\\b[^\\n]*, later\\.log`));
      // Nothing came through the FIFO: it was not read at all, not "partly".
      if (name === 'redact') assert.match(r.stderr, /not read: ff, later\.log\n/);
      assert.deepEqual(readdirSync(d).sort(), ['ff', 'later.log'], 'no output or directory left behind');
    });

  test('an output FIFO without a reader: a signal ends every command (128+n), nothing is left', async () => {
    const d = fresh();
    writeFileSync(join(d, 'a.log'), SSRF(6));
    const inv = readdirSync(join(ROOT, 'test/fixtures/cloud')).find((f) => f.startsWith('aws-describe-instances'));
    cpSync(join(ROOT, 'test/fixtures/cloud', inv ?? 'aws-describe-addresses.json'), join(d, 'inv.json'));
    const ct = readdirSync(join(ROOT, 'test/fixtures/cloud')).find((f) => f.endsWith('.json'))!;
    cpSync(join(ROOT, 'test/fixtures/cloud', ct), join(d, 't.json'));
    mkfifo(join(d, 'ff'));
    const runs: Array<[string[], NodeJS.Signals, number]> = [
      [['scan', 'a.log', '-o', 'ff'], 'SIGTERM', 143],
      [['redact', 'a.log', '-o', 'ff'], 'SIGINT', 130],
      [['cloudtrail', 't.json', '-o', 'ff'], 'SIGHUP', 129],
      [['explain', '-o', 'ff', 'http://169.254.169.254/'], 'SIGTERM', 143],
      [['investigate', 'a.log', '-o', 'ff'], 'SIGTERM', 143],
      [['posture', 'inv.json', '--readiness', 'ff'], 'SIGTERM', 143],
    ];
    for (const [args, sig, code] of runs) {
      const r = await signalWhenOpen(args, d, 700, sig);
      assert.equal(r.signal, null, `${args.join(' ')} ignored ${sig} (killed after ${BOUND} ms)`);
      assert.equal(r.status, code, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, new RegExp(`interrupted by ${sig}`));
      assert.deepEqual(readdirSync(d).sort(), ['a.log', 'ff', 'inv.json', 't.json']);
    }
  });

  test('an output FIFO gets the whole output once a reader comes', async () => {
    const d = fresh();
    writeFileSync(join(d, 'a.log'), SSRF(7).repeat(3000));
    mkfifo(join(d, 'ff'));
    const want = await runCli(['scan', '--format', 'jsonl', 'a.log'], { cwd: d, timeoutMs: BOUND });
    const run = runCli(['scan', '--format', 'jsonl', 'a.log', '-o', 'ff'], { cwd: d, timeoutMs: BOUND });
    await new Promise((r) => setTimeout(r, 500));
    const reader = spawn('cat', ['ff'], { cwd: d, stdio: ['ignore', 'pipe', 'ignore'] });
    const chunks: Buffer[] = [];
    reader.stdout.on('data', (b: Buffer) => chunks.push(b));
    const [r] = await Promise.all([run, once(reader, 'close')]);
    assert.equal(r.status, 1, r.stderr);
    assert.ok(want.stdout.length > 100_000, 'more than a pipe holds');
    assert.equal(Buffer.concat(chunks).toString('utf8'), want.stdout);
  });

  test('redact --in-place on a FIFO is refused (exit 2) at once', async () => {
    const d = fresh();
    mkfifo(join(d, 'ff'));
    const r = await runCli(['redact', '--in-place', 'ff'], { cwd: d, timeoutMs: BOUND });
    assert.equal(r.signal, null, 'did not end by itself');
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /--in-place needs regular files; "ff" is a FIFO/);
  });

  test('redact: SIGTERM once part of an input\'s copy is written names it "(partly)", and the copy is not left', async () => {
    const d = fresh();
    mkfifo(join(d, 'ff'));
    writeFileSync(join(d, 'later.log'), SSRF(4));
    const child = spawn(process.execPath, [BIN, 'redact', 'ff', 'later.log', '-o', 'out/'], {
      cwd: d,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (b: Buffer) => {
      stderr += b;
    });
    // More than redact reads before it writes (1 KiB, to tell UTF-16), the FIFO kept open so the input goes on.
    const writer = await open(join(d, 'ff'), 'w');
    await writer.write(SSRF(5).repeat(40));
    const written = () => {
      try {
        return readdirSync(join(d, 'out')).some((f) => readFileSync(join(d, 'out', f)).length > 0);
      } catch {
        return false;
      }
    };
    for (let waited = 0; waited < BOUND && !written(); waited += 20) await new Promise((r) => setTimeout(r, 20));
    assert.ok(written(), 'a copy of ff was begun');
    child.kill('SIGTERM');
    const [status] = (await once(child, 'close')) as [number | null];
    await writer.close();
    assert.equal(status, 143, stderr);
    assert.match(stderr, /interrupted by SIGTERM; not read: ff \(partly\), later\.log\n/);
    assert.deepEqual(readdirSync(d).sort(), ['ff', 'later.log'], 'the partial copy and its directory removed');
  });
});

describe('a reader that stops early', { skip: skipUnbuilt }, () => {
  test('investigate … | head -1 ends quietly with the exit code of what was found (1), as scan does', () => {
    const d = fresh();
    // Many clients, many incidents: megabytes of output, far more than the pipe holds when head goes.
    let log = '';
    for (let i = 0; i < 3000; i++) log += SSRF(1).replace('192.0.2.1 ', `10.${i >> 8}.${i & 255}.1 `);
    writeFileSync(join(d, 'many.log'), log);
    const r = spawnSync(
      'bash',
      [
        '-c',
        `"${process.execPath}" "${BIN}" investigate --no-summary --format jsonl many.log | head -1; echo "rc=\${PIPESTATUS[0]}" >&2`,
      ],
      { cwd: d, encoding: 'utf8', timeout: BOUND },
    );
    assert.match(r.stdout, /"type":"incident"/);
    assert.equal(r.stderr, 'rc=1\n');
  });
});

describe('line ends: CR-only text', { skip: skipUnbuilt }, () => {
  const lines = (jsonl: string) =>
    jsonl
      .split('\n')
      .filter(Boolean)
      .map((l) => (JSON.parse(l) as { origin: { line: number } }).origin.line)
      .sort((a, b) => a - b);

  test('scan: a 1 MiB line of one token around a metadata URL is read in linear time and its finding given (it took minutes)', async () => {
    const d = fresh();
    // Runs that made two of the fetch-context searches quadratic: word characters before the URL (a name compared
    // with a value), and dotted words (every dot a new start of a scheme name).
    writeFileSync(join(d, 'token.log'), `${'A'.repeat(1 << 20)} http://169.254.169.254/latest/meta-data/\n`);
    writeFileSync(join(d, 'dots.log'), `${'a.'.repeat(400_000)}=http://169.254.169.254/latest/meta-data/\n`);
    for (const f of ['token.log', 'dots.log']) {
      const r = await runCli(['scan', '--format', 'jsonl', '--fail-on', 'info', f], { cwd: d, timeoutMs: BOUND * 3 });
      assert.equal(r.status, 1, `${f}: ${r.stderr}`);
      assert.equal(lines(r.stdout).length, 1, f);
    }
  });

  test('scan: each CR ends a line (findings on lines 1-5), CRLF is one end, and a 5 MB CR-only file is read whole', async () => {
    const d = fresh();
    const five = [1, 2, 3, 4, 5].map((i) => SSRF(i).trimEnd());
    writeFileSync(join(d, 'cr.log'), `${five.join('\r')}\r`);
    writeFileSync(join(d, 'crlf.log'), `${five.join('\r\n')}\r\n`);
    for (const f of ['cr.log', 'crlf.log']) {
      const r = await runCli(['scan', '--format', 'jsonl', f], { cwd: d, timeoutMs: BOUND });
      assert.equal(r.status, 1, r.stderr);
      assert.deepEqual(lines(r.stdout), [1, 2, 3, 4, 5], f);
    }
    // 20,000 lines of 250 bytes: one 5 MB line if CR were not a line end (over --max-line-bytes, skipped).
    const quiet = `192.0.2.9 - - [21/Nov/2026:09:14:04 +0000] "GET /index.html?q=${'x'.repeat(160)} HTTP/1.1" 200 512 "-" "curl/8"`;
    const big = Array.from({ length: 20_000 }, (_, i) => (i % 5000 === 4999 ? SSRF(6).trimEnd() : quiet));
    writeFileSync(join(d, 'big.log'), `${big.join('\r')}\r`);
    const r = await runCli(['scan', '--format', 'jsonl', 'big.log'], { cwd: d, timeoutMs: BOUND * 2 });
    assert.equal(r.status, 1, r.stderr);
    assert.deepEqual(lines(r.stdout), [5000, 10000, 15000, 20000]);
  });

  test('redact: a CR-only file keeps every byte but the secret, its CRs included', async () => {
    const d = fresh();
    const secret = readFileSync(join(ROOT, 'test/fixtures/leaks/access-combined.log'), 'utf8').split('\n')[4]!;
    const text = [SSRF(1).trimEnd(), secret, SSRF(2).trimEnd(), secret].join('\r');
    writeFileSync(join(d, 'cr.log'), text);
    writeFileSync(join(d, 'lf.log'), text.replaceAll('\r', '\n'));
    const cr = await runCli(['redact', 'cr.log'], { cwd: d, timeoutMs: BOUND });
    const lf = await runCli(['redact', 'lf.log'], { cwd: d, timeoutMs: BOUND });
    assert.equal(cr.status, 0, cr.stderr);
    assert.match(lf.stdout, /ASIA\*+UYPA/);
    assert.equal(cr.stdout, lf.stdout.replaceAll('\n', '\r'));
    assert.equal(cr.stdout.split('\r').length, 4, 'three CRs, as in the input');
    assert.ok(!cr.stdout.includes('\n'));
  });
});

describe('stdout redirected onto an input', { skip: skipUnbuilt }, () => {
  test('scan x >> x, redact r >> r, cloudtrail t.json > t.json: refused (exit 2), the input untouched', async () => {
    const d = fresh();
    writeFileSync(join(d, 'x.log'), SSRF(1));
    writeFileSync(
      join(d, 't.json'),
      readFileSync(
        join(
          ROOT,
          'test/fixtures/cloud',
          readdirSync(join(ROOT, 'test/fixtures/cloud')).find((f) => f.endsWith('.json'))!,
        ),
      ),
    );
    for (const [args, file] of [
      [['scan', 'x.log'], 'x.log'],
      [['redact', 'x.log'], 'x.log'],
      [['cloudtrail', 't.json'], 't.json'],
      [['investigate', 'x.log'], 'x.log'],
    ] as const) {
      const before = readFileSync(join(d, file));
      const fd = openSync(join(d, file), 'a');
      const r = await runCli([...args], { cwd: d, stdout: fd, timeoutMs: BOUND });
      closeSync(fd);
      assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, new RegExp(`stdout is redirected onto an input \\("${file.replace('.', '\\.')}"\\)`));
      assert.deepEqual(readFileSync(join(d, file)), before);
    }
  });
});

describe('stdout redirected onto the file given as stdin', { skip: skipUnbuilt }, () => {
  test('scan < x >> x, explain, cloudtrail, redact the same: refused (exit 2), the input untouched', async () => {
    const d = fresh();
    writeFileSync(join(d, 'x.log'), SSRF(1).repeat(200));
    writeFileSync(
      join(d, 't.json'),
      readFileSync(
        join(
          ROOT,
          'test/fixtures/cloud',
          readdirSync(join(ROOT, 'test/fixtures/cloud')).find((f) => f.endsWith('.json'))!,
        ),
      ),
    );
    for (const [args, file] of [
      [['scan', '--no-summary'], 'x.log'],
      [['scan', '-'], 'x.log'],
      [['explain'], 'x.log'],
      [['redact'], 'x.log'],
      [['cloudtrail'], 't.json'],
    ] as const) {
      const before = readFileSync(join(d, file));
      const input = openSync(join(d, file), 'r');
      const output = openSync(join(d, file), 'a');
      const r = await runCli([...args], { cwd: d, stdin: input, stdout: output, timeoutMs: BOUND });
      closeSync(input);
      closeSync(output);
      assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, /stdout is redirected onto an input \(stdin\)/);
      assert.deepEqual(readFileSync(join(d, file)), before);
    }
  });
});

describe('two outputs naming one file', { skip: skipUnbuilt }, () => {
  test('posture -o x --remediation-script x is refused (exit 2) before anything is written', async () => {
    const d = fresh();
    const inv = readdirSync(join(ROOT, 'test/fixtures/cloud')).find((f) => f.startsWith('aws-describe-instances'));
    writeFileSync(
      join(d, 'inv.json'),
      readFileSync(join(ROOT, 'test/fixtures/cloud', inv ?? 'aws-describe-addresses.json')),
    );
    for (const [a, b] of [
      ['x', 'x'],
      ['x', './x'],
    ]) {
      const r = await runCli(['posture', 'inv.json', '-o', a!, '--remediation-script', b!], {
        cwd: d,
        timeoutMs: BOUND,
      });
      assert.equal(r.status, 2, r.stderr);
      assert.match(r.stderr, /name the same file/);
      assert.deepEqual(readdirSync(d), ['inv.json']);
    }
  });

  test('a name not made yet, reached through a dangling link or a linked directory and "..", is refused too', async () => {
    const d = fresh();
    const inv = readdirSync(join(ROOT, 'test/fixtures/cloud')).find((f) => f.startsWith('aws-describe-instances'));
    cpSync(join(ROOT, 'test/fixtures/cloud', inv ?? 'aws-describe-addresses.json'), join(d, 'inv.json'));
    symlinkSync('n1', join(d, 'n1link'));
    mkdirSync(join(d, 'sd'));
    symlinkSync('.', join(d, 'sd', 'self'));
    const before = snapshot(d);
    for (const [a, b] of [
      ['n1', 'n1link'],
      ['sd/self/../n3', 'n3'],
    ]) {
      const r = await runCli(['posture', 'inv.json', '-o', a!, '--remediation-script', b!], {
        cwd: d,
        timeoutMs: BOUND,
      });
      assert.equal(r.status, 2, `${a} and ${b}: ${r.stderr}`);
      assert.match(r.stderr, /name the same file/);
      assert.deepEqual(touched(before, snapshot(d)), []);
    }
    // Two names that differ stay allowed.
    const ok = await runCli(['posture', 'inv.json', '-o', 'sd/self/n4', '--remediation-script', 'n4'], {
      cwd: d,
      timeoutMs: BOUND,
    });
    assert.notEqual(ok.status, 2, ok.stderr);
  });
});

describe('credentials in a URL argument', { skip: skipUnbuilt }, () => {
  test('--publish nats://user:pass@host is refused without echoing the password', async () => {
    const d = fresh();
    writeFileSync(join(d, 'a.log'), SSRF(1));
    const r = await runCli(['scan', 'a.log', '--publish', 'nats://alice:s3cretPassw0rd@127.0.0.1:4999'], {
      cwd: d,
      timeoutMs: BOUND,
    });
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /nats:\/\/alice:\*\*\*\*@127\.0\.0\.1:4999/);
    assert.doesNotMatch(r.stderr + r.stdout, /s3cretPassw0rd/);
  });
});

describe('agent state that cannot be saved', { skip: skipUnbuilt }, () => {
  test('agent --state under /proc fails at start with exit 2, naming the directory', async () => {
    const r = await runCli(['agent', '--state', `/proc/imdsguard-${process.pid}`, '--duration', '30'], {
      timeoutMs: BOUND,
    });
    assert.equal(r.signal, null, 'ended by itself, before its duration');
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /state directory "\/proc\/imdsguard-\d+"/);
  });
});

describe('directory inputs: nothing skipped silently', { skip: skipUnbuilt }, () => {
  test('a loop, a dangling link and a FIFO are each named on stderr; two names for one directory count once', async () => {
    const d = fresh();
    mkdirSync(join(d, 'logs'));
    writeFileSync(join(d, 'logs', 'a.log'), SSRF(1));
    symlinkSync('.', join(d, 'logs', 'up'));
    symlinkSync('nowhere.log', join(d, 'logs', 'dangling.log'));
    mkfifo(join(d, 'logs', 'pipe'));
    symlinkSync('logs', join(d, 'again'));
    const r = await runCli(['scan', '--format', 'jsonl', 'logs', 'again'], { cwd: d, timeoutMs: BOUND });
    assert.equal(r.status, 1, r.stderr);
    assert.equal(r.stdout.trim().split('\n').length, 1, 'a.log read once');
    assert.match(r.stderr, /skipped logs\/up: a directory already walked/);
    assert.match(r.stderr, /skipped logs\/dangling\.log: a dangling link/);
    assert.match(r.stderr, /skipped logs\/pipe: a FIFO/);
    assert.match(r.stderr, /skipped again: a directory already walked/);
    assert.equal(r.stderr.match(/skipped logs\/pipe/g)?.length, 1, 'each said once');
  });
});

describe('a directory that cannot be listed (mode 000, read as nobody)', {
  skip: skipUnbuilt || cannotRunUnprivileged,
}, () => {
  /** logs/a and logs/c each hold one finding; logs/b (mode 000) holds one that cannot be read. */
  const tree = () => {
    const d = fresh();
    chmodSync(base, 0o755);
    for (const sub of ['a', 'b', 'c']) {
      mkdirSync(join(d, 'logs', sub), { recursive: true });
      writeFileSync(join(d, 'logs', sub, `${sub}.log`), SSRF(sub.charCodeAt(0)));
    }
    chmodSync(join(d, 'logs', 'b'), 0o000);
    after(() => chmodSync(join(d, 'logs', 'b'), 0o755));
    return d;
  };

  for (const input of ['logs', 'logs/**/*.log']) {
    test(`scan ${input}: the directory and EACCES are named, the others scanned, exit 2`, async () => {
      const d = tree();
      const r = await runCli(['scan', '--format', 'jsonl', input], { cwd: d, asNobody: true, timeoutMs: BOUND });
      assert.equal(r.status, 2, r.stderr);
      const clients = r.stdout
        .trim()
        .split('\n')
        .map((l) => (JSON.parse(l) as { client: { ip: string } }).client.ip)
        .sort();
      assert.deepEqual(clients, ['192.0.2.97', '192.0.2.99'], 'logs/a and logs/c scanned');
      assert.match(r.stderr, /logs\/b: cannot read directory \(EACCES\)/);
      assert.match(r.stderr, /inputs not read: logs\/b/);
      assert.doesNotMatch(r.stderr, /no file matches|holds no files/);
    });
  }

  test('scan logs/b/*.log: names logs/b and EACCES, not "no file matches"; a glob that cannot reach it is not hurt', async () => {
    const d = tree();
    const r = await runCli(['scan', 'logs/b/*.log'], { cwd: d, asNobody: true, timeoutMs: BOUND });
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /logs\/b: cannot read directory \(EACCES\)/);
    assert.doesNotMatch(r.stderr, /no file matches/);
    const other = await runCli(['scan', '--format', 'jsonl', 'logs/[ac]/*.log'], {
      cwd: d,
      asNobody: true,
      timeoutMs: BOUND,
    });
    assert.equal(other.status, 1, other.stderr);
    assert.doesNotMatch(other.stderr, /logs\/b/);
  });

  test('cloudtrail over a directory with one unreadable subdirectory reads the rest and exits 2', async () => {
    const d = tree();
    for (const sub of ['a', 'c'])
      cpSync(join(ROOT, 'test/fixtures/cloud/lake-export.ndjson'), join(d, 'logs', sub, 'trail.ndjson'));
    const good = await runCli(['cloudtrail', '--format', 'jsonl', 'logs/a/trail.ndjson'], { cwd: d });
    assert.equal(good.status, 1, good.stderr);
    const r = await runCli(['cloudtrail', '--format', 'jsonl', 'logs'], { cwd: d, asNobody: true, timeoutMs: BOUND });
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /logs\/b: cannot read directory \(EACCES\)/);
    assert.ok(r.stdout.trim().length > 0 && r.stdout.includes(good.stdout.trim().split('\n')[0]!.slice(0, 40)));
  });
});

describe('file names holding a line feed or an escape sequence', { skip: skipUnbuilt }, () => {
  test("every command shows them escaped on stderr: no line of the name's choosing, no sequence reaches the terminal", async () => {
    const d = fresh();
    const named = 'x\nimdsguard: forged\u001b[2J.log';
    writeFileSync(join(d, named), SSRF(6));
    mkdirSync(join(d, 'dir'));
    writeFileSync(join(d, 'dir', 'y\nforged too.json'), '42\n');
    const runs: string[][] = [
      ['scan', named, 'dir', 'missing\nforged\u001b]0;t\u0007.log'],
      ['cloudtrail', named, 'dir', 'missing\nforged\u001b]0;t\u0007.log'],
      ['posture', named, 'dir'],
      ['redact', named, '-o', 'out/'],
    ];
    for (const args of runs) {
      const r = await runCli(args, { cwd: d, timeoutMs: BOUND });
      assert.equal(r.signal, null);
      assert.doesNotMatch(r.stderr, /^(imdsguard: )?forged/m, `${args[0]}: ${r.stderr}`);
      assert.ok(!r.stderr.includes('\u001b'), `${args[0]}: ${r.stderr}`);
      // Each name that is printed is printed escaped (scan names only the inputs it could not read).
      const shown = [
        /x\\x0aimdsguard: forged\\x1b\[2J\.log/,
        /y\\x0aforged too\.json/,
        /missing\\x0aforged\\x1b\]0;t\\x07\.log/,
      ].filter((re) => re.test(r.stderr));
      assert.ok(shown.length >= 1, `${args[0]}: ${r.stderr}`);
    }
  });
});

describe('line ends inside a field never reach the terminal raw', { skip: skipUnbuilt }, () => {
  const FORGED = '10.0.0.5\nimdsguard: forged line\u2028and\u2029more';
  test('scan: the summary by client and --format table show LF, U+2028, U+2029 of a log field escaped', async () => {
    const d = fresh();
    writeFileSync(
      join(d, 'j.log'),
      `${JSON.stringify({
        client: FORGED,
        request: 'GET /fetch?url=http://169.254.169.254/latest/meta-data/iam/security-credentials/ HTTP/1.1',
        status: 200,
        time: '2026-12-06T03:00:00Z',
      })}\n`,
    );
    for (const args of [
      ['scan', '--log-format', 'json', 'j.log'],
      ['scan', '--log-format', 'json', '--format', 'table', 'j.log'],
    ]) {
      const r = await runCli(args, { cwd: d, timeoutMs: BOUND });
      assert.equal(r.status, 1, r.stderr);
      // JSON lines on stdout are data (JSON escapes what it must); the terminal text is stderr, and the table.
      const text = args.includes('table') ? r.stdout + r.stderr : r.stderr;
      assert.match(text, /10\.0\.0\.5\\x0aimdsguard: forged line\\x2028and\\x2029more/);
      assert.doesNotMatch(text, /^imdsguard: forged/m);
      assert.doesNotMatch(text, /[\u2028\u2029]/);
    }
  });

  test('posture: the readiness view (stderr and --readiness) and the remediation script show inventory controls escaped', async () => {
    const d = fresh();
    const id = 'i-0a\u001b]0;title\u0007\u202eb\u0085\nimdsguard: forged';
    writeFileSync(
      join(d, 'inv.json'),
      JSON.stringify({
        Reservations: [
          {
            Instances: [
              {
                InstanceId: id,
                State: { Name: 'running' },
                MetadataOptions: { HttpTokens: 'optional', HttpEndpoint: 'enabled', HttpPutResponseHopLimit: 2 },
              },
            ],
          },
        ],
      }),
    );
    const r = await runCli(['posture', 'inv.json', '-o', 'f.jsonl'], { cwd: d, timeoutMs: BOUND });
    const w = await runCli(['posture', 'inv.json', '--readiness', 'rd.txt', '--remediation-script', 'rs.sh'], {
      cwd: d,
      timeoutMs: BOUND,
    });
    assert.equal(w.status, 1, w.stderr);
    const script = readFileSync(join(d, 'rs.sh'), 'utf8');
    for (const text of [r.stderr, readFileSync(join(d, 'rd.txt'), 'utf8'), script]) {
      assert.match(text, /i-0a\\x202eb\\x85\\x0aimdsguard: forged/);
      // biome-ignore lint/suspicious/noControlCharactersInRegex: no control may be left
      assert.doesNotMatch(text, /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202e]/);
      assert.doesNotMatch(text, /^imdsguard: forged/m);
    }
    // The commands naming it are written commented out, every line of them, so no quote is left open.
    assert.match(script, /# NOT WRITTEN: a name in these commands holds control characters/);
    assert.doesNotMatch(script, /^aws /m);
    assert.equal(spawnSync('sh', ['-n', join(d, 'rs.sh')]).status, 0, 'the script parses');
  });
});

describe('NDJSON: a line that ends inside a string costs that line only', { skip: skipUnbuilt }, () => {
  test('cloudtrail reads every record after lines broken inside a string (nested, past a chunk, after a backslash)', async () => {
    const d = fresh();
    const lines = ['athena-unload.ndjson', 'cross-instance.ndjson', 'lake-export.ndjson'].flatMap((f) =>
      readFileSync(join(ROOT, 'test/fixtures/cloud', f), 'utf8')
        .trimEnd()
        .split('\n'),
    );
    assert.ok(lines.length >= 4, 'the fixtures have records to lose');
    const broken = ['{"a":{"b":"x', `{"a":"${'x'.repeat(3 << 20)}`, '{"a":"y\\'];
    // A broken line after the first record (which says the input is NDJSON), each followed by good records.
    const mixed = [lines[0]!];
    for (let k = 1; k < lines.length; k++) mixed.push(...(k <= broken.length ? [broken[k - 1]!] : []), lines[k]!);
    writeFileSync(join(d, 'good.ndjson'), `${lines.join('\n')}\n`);
    writeFileSync(join(d, 'mixed.ndjson'), `${mixed.join('\n')}\n`);
    const good = await runCli(['cloudtrail', '--format', 'jsonl', 'good.ndjson'], { cwd: d, timeoutMs: BOUND });
    const r = await runCli(['cloudtrail', '--format', 'jsonl', 'mixed.ndjson'], { cwd: d, timeoutMs: BOUND * 2 });
    assert.equal(r.status, 2, r.stderr);
    const norm = (s: string) =>
      s
        .replaceAll('good.ndjson', 'F')
        .replaceAll('mixed.ndjson', 'F')
        .replace(/"line":\d+/g, '"line":0')
        .replace(/"id":"[0-9a-f]+"/g, '"id":""');
    assert.ok(good.stdout.length > 0, good.stderr);
    assert.equal(norm(r.stdout), norm(good.stdout));
    for (const line of [2, 4, 6])
      assert.match(r.stderr, new RegExp(`mixed\\.ndjson:${line}: Record not closed at the end of its line`));
    assert.doesNotMatch(r.stderr, /end of input/);
  });
});
