/**
 * Every exit code the README (Conventions and each command's section), docs/fail-safe.md, docs/fleet.md and the
 * commands' --help document, run against the built CLI: one row per documented case, with where it is written.
 * Signals (128+n) are tested in fail-safe.test.ts, the hub's start errors in test/fleet/hub/hub-start-errors.test.ts,
 * the daemons' own ends (proxy 0 on SIGTERM and 130 on SIGINT, agent --duration 0 or 1) in test/proxy/proxy.cli.test.ts
 * and test/agent/agent-procfs.e2e.test.ts, a worker's in test/fleet/scan-jobs.test.ts and scan-worker-cut.test.ts.
 */
import assert from 'node:assert/strict';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { FindingStore } from '../../src/adapters/fleet/finding-store.ts';
import { isRoot, mknod, ROOT, type Run, runCli, skipUnbuilt } from './helpers.ts';

const dir = mkdtempSync(join(tmpdir(), 'imdsguard-exit-codes-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const at = (name: string) => join(dir, name);

const CLOUD = join(ROOT, 'test/fixtures/cloud');
const SSRF = (ip: number) =>
  `192.0.2.${ip} - - [21/Nov/2026:09:14:04 +0000] "GET /fetch?url=http://169.254.169.254/latest/meta-data/iam/security-credentials/ HTTP/1.1" 200 512 "-" "curl/8"\n`;
const QUIET = '192.0.2.1 - - [21/Nov/2026:09:14:04 +0000] "GET /index.html HTTP/1.1" 200 512 "-" "curl/8"\n';
/** A JSON access log whose record fetches the metadata service, and lines that are not JSON at all. */
const JSON_SSRF = `${JSON.stringify({ remote_addr: '192.0.2.7', request: 'GET /fetch?url=http://169.254.169.254/latest/meta-data/ HTTP/1.1', status: 200 })}\n`;
const NOT_JSON = [
  'GET /index.html 200',
  'client=192.0.2.8 path=/fetch?url=http://169.254.169.254/latest/meta-data/',
  '{"unclosed": ',
];

/** A gzip cut at 80% of its length: the first lines decompress, the tail is missing. */
function truncatedGzip(text: string | Buffer): Buffer {
  const gz = gzipSync(text);
  return gz.subarray(0, Math.floor(gz.length * 0.8));
}

const findingLines = (stdout: string) => stdout.split('\n').filter((l) => l.trim() !== '');

/** How each case is run: arguments, and stdout onto a copy of /dev/full when `full`. */
interface Case {
  args: string[];
  code: number;
  /** Where the code is documented. */
  doc: string;
  full?: boolean;
  check?: (r: Run) => void;
}

let devFull: string | undefined;

before(() => {
  // A command that publishes keeps its outbox in the state directory: here, not the machine's (the children inherit it).
  process.env.IMDSGUARD_STATE_DIR = at('state');
  writeFileSync(at('quiet.log'), QUIET.repeat(3));
  writeFileSync(at('ssrf.log'), QUIET + SSRF(7) + SSRF(8));
  writeFileSync(at('cut.log.gz'), truncatedGzip((QUIET + SSRF(9)).repeat(4000) + 'x'.repeat(200_000)));
  writeFileSync(at('not-json.log'), `${NOT_JSON.join('\n')}\n\n`);
  writeFileSync(at('some-json.log'), `${NOT_JSON[0]}\n${JSON_SSRF}`);
  writeFileSync(at('bad.creds'), 'user: alice\npassword: not a credentials file\n');
  writeFileSync(at('bad-ca.pem'), 'not a certificate\n');
  writeFileSync(at('trail.json.gz'), truncatedGzip(readFileSync(join(CLOUD, 'azure-activity-log.json'))));
  mkdirSync(at('out-dir'));
  // A small findings store, as the hub writes it, for `findings`.
  const store = new FindingStore(at('findings.sqlite'));
  store.close();
  if (isRoot && mknod(at('full'), 1, 7)) devFull = at('full');
});

async function run(c: Case): Promise<Run> {
  if (!c.full) return runCli(c.args, { cwd: dir, timeoutMs: 30_000 });
  const fd = openSync(devFull!, 'w');
  try {
    return await runCli(c.args, { cwd: dir, stdout: fd, timeoutMs: 30_000 });
  } finally {
    closeSync(fd);
  }
}

const README = 'README.md Conventions';
const PUBLISH = ['--publish', 'nats://127.0.0.1:1', '--publish-timeout', '0'];

const CASES: Case[] = [
  // scan
  { args: ['scan', 'quiet.log'], code: 0, doc: 'README scan: 0 nothing at or above --fail-on' },
  { args: ['scan', 'ssrf.log'], code: 1, doc: 'README scan: 1 findings' },
  { args: ['scan', '--exit-zero', 'ssrf.log'], code: 0, doc: 'README scan --exit-zero' },
  { args: ['scan', '--fail-on', 'critical', 'quiet.log'], code: 0, doc: 'README scan --fail-on' },
  {
    args: ['scan', '--format', 'jsonl', 'missing.log', 'ssrf.log'],
    code: 2,
    doc: 'README scan: 2 an input could not be read, the other inputs are still scanned',
    check: (r) => {
      assert.match(r.stderr, /missing\.log/);
      assert.equal(findingLines(r.stdout).length, 2, 'the readable input still gives its findings');
    },
  },
  {
    args: ['scan', '--format', 'jsonl', 'cut.log.gz'],
    code: 2,
    doc: 'docs/fail-safe.md: an input could not be read (corrupt gzip) → 2, the findings of what was read kept',
    check: (r) => {
      assert.match(r.stderr, /cut\.log\.gz: truncated gzip after line \d+/);
      assert.match(r.stderr, /inputs read in part: cut\.log\.gz/);
      assert.ok(findingLines(r.stdout).length > 100, 'the findings before the cut are written');
    },
  },
  {
    args: ['scan', '--format', 'jsonl', '--exit-zero', 'cut.log.gz'],
    code: 2,
    doc: 'README scan --exit-zero: errors still exit 2',
  },
  {
    args: ['scan', '--log-format', 'json', 'not-json.log'],
    code: 2,
    doc: 'README scan: 2 an input could not be read whole (no line in the forced --log-format)',
    check: (r) => {
      for (const line of [1, 2, 3])
        assert.match(r.stderr, new RegExp(`not-json\\.log:${line}: skipped: line does not match --log-format json`));
      assert.match(r.stderr, /not-json\.log: not read: none of its 3 line\(s\) matches --log-format json/);
      assert.match(r.stderr, /inputs not read: not-json\.log/);
    },
  },
  {
    args: ['scan', '--log-format', 'json', '--format', 'jsonl', 'some-json.log', 'not-json.log'],
    code: 2,
    doc: 'README Conventions: one bad input never costs another its findings',
    check: (r) => {
      assert.equal(findingLines(r.stdout).length, 1, r.stderr);
      assert.match(r.stderr, /some-json\.log:1: skipped: line does not match --log-format json/);
      assert.doesNotMatch(r.stderr, /some-json\.log: not read/);
    },
  },
  {
    args: ['scan', '--log-format', 'json', 'some-json.log'],
    code: 1,
    doc: 'README scan: bad lines are reported with file and line and the scan goes on',
  },
  { args: ['scan', '--fail-on', 'bogus', 'quiet.log'], code: 2, doc: `${README}: 2 usage error` },
  { args: ['scan', 'ssrf.log', '-o', 'out-dir'], code: 3, doc: 'docs/fail-safe.md: -o a directory → refused (exit 3)' },
  { args: ['scan', 'ssrf.log'], code: 3, full: true, doc: `${README}: 3 an output could not be written` },
  {
    args: ['scan', 'ssrf.log', ...PUBLISH, '--nats-creds', 'bad.creds'],
    code: 2,
    doc: 'docs/fleet.md: a credentials file that is not one is a configuration error',
    check: (r) => {
      assert.match(r.stderr, /NATS credentials "bad\.creds" are not a credentials file/);
      assert.doesNotMatch(r.stderr, /imdsguard scan: 1 input/, 'no input read');
    },
  },
  {
    args: ['scan', 'ssrf.log', ...PUBLISH, '--nats-tls-ca', 'missing-ca.pem'],
    code: 2,
    doc: 'docs/fleet.md: a CA file that cannot be read is a configuration error',
    check: (r) => assert.match(r.stderr, /Cannot read the TLS CA "missing-ca\.pem"/),
  },
  {
    args: ['scan', '--dispatch', 'ssrf.log', ...PUBLISH, '--nats-creds', 'missing.creds'],
    code: 2,
    doc: 'docs/fleet.md --dispatch: 2 on a configuration error',
  },
  {
    args: ['scan', '--worker', '--drain', ...PUBLISH, '--nats-tls-ca', 'bad-ca.pem'],
    code: 2,
    doc: 'docs/fleet.md --worker: a CA file that is not one is a configuration error',
    check: (r) => assert.match(r.stderr, /The TLS CA "bad-ca\.pem" holds no PEM certificate/),
  },
  // redact
  { args: ['redact', 'quiet.log'], code: 0, doc: 'README redact: 0 when done' },
  { args: ['redact', 'missing.log'], code: 2, doc: 'README redact: 2 input error' },
  {
    args: ['redact', 'cut.log.gz', '-o', 'cut.txt'],
    code: 2,
    doc: 'docs/fail-safe.md: redact keeps a copy only when its input was read to its end (exit 2)',
  },
  { args: ['redact', '--bogus', 'quiet.log'], code: 2, doc: 'README redact: 2 usage error' },
  { args: ['redact', 'quiet.log'], code: 3, full: true, doc: 'README redact: 3 when the output cannot be written' },
  // explain
  { args: ['explain', 'http://0xA9FEA9FE/latest/meta-data/'], code: 0, doc: 'README explain: 0 whatever the verdicts' },
  { args: ['explain', '--format', 'bogus', 'x'], code: 2, doc: 'README explain: 2 usage error' },
  { args: ['explain', 'x'], code: 3, full: true, doc: 'README explain: 3 when the output cannot be written' },
  // export
  { args: ['export', '--to', 'sigma'], code: 0, doc: 'README Conventions: 0 export done' },
  { args: ['export', '--to', 'bogus'], code: 2, doc: 'export --help: 2 usage error' },
  { args: ['export', '--to', 'sigma'], code: 3, full: true, doc: 'export --help: 3 the output could not be written' },
  // cloudtrail
  {
    args: ['cloudtrail', join(CLOUD, 'cross-instance.ndjson')],
    code: 0,
    doc: 'cloudtrail --help: 0 no finding at or above --fail-on',
  },
  { args: ['cloudtrail', join(CLOUD, 'azure-activity-log.json')], code: 1, doc: 'cloudtrail --help: 1 findings' },
  {
    args: ['cloudtrail', join(CLOUD, 'azure-activity-log.json'), 'missing.json'],
    code: 2,
    doc: 'cloudtrail --help: 2 input error, every readable input still read',
    check: (r) => assert.ok(findingLines(r.stdout).length > 0),
  },
  { args: ['cloudtrail', 'trail.json.gz'], code: 2, doc: 'docs/fail-safe.md: a truncated gzip → 2' },
  { args: ['cloudtrail', join(CLOUD, 'gcp-audit.json')], code: 3, full: true, doc: `${README}: 3` },
  {
    args: ['cloudtrail', join(CLOUD, 'gcp-audit.json'), ...PUBLISH, '--nats-creds', 'bad.creds'],
    code: 2,
    doc: 'docs/fleet.md: a credentials file that is not one is a configuration error',
  },
  // posture
  { args: ['posture', join(CLOUD, 'aws-describe-instances.json')], code: 1, doc: 'posture --help: 1 findings' },
  {
    args: ['posture', '--fail-on', 'critical', join(CLOUD, 'aws-describe-instances.json')],
    code: 0,
    doc: 'posture --help: 0 no finding at or above --fail-on',
  },
  { args: ['posture', 'missing.json'], code: 2, doc: 'posture --help: 2 input error' },
  { args: ['posture', join(CLOUD, 'aws-describe-instances.json')], code: 3, full: true, doc: 'posture --help: 3' },
  // investigate
  { args: ['investigate', 'missing.jsonl'], code: 2, doc: 'investigate --help: 2 input error' },
  {
    args: ['investigate', 'cut.log.gz'],
    code: 2,
    doc: 'docs/investigate.md: a log cut in the middle is an input error',
  },
  { args: ['investigate', 'ssrf.log'], code: 1, doc: 'investigate --help: 1 incidents' },
  { args: ['investigate', 'quiet.log'], code: 0, doc: 'investigate --help: 0 no incident at or above --fail-on' },
  { args: ['investigate', 'ssrf.log'], code: 3, full: true, doc: 'investigate --help: 3' },
  // findings
  { args: ['findings', '--store', 'findings.sqlite'], code: 0, doc: 'docs/fleet.md findings: 0 when the query ran' },
  { args: ['findings', '--store', 'missing.sqlite'], code: 2, doc: 'docs/fleet.md findings: 2 a missing store' },
  { args: ['findings', '--severity', 'bogus'], code: 2, doc: 'docs/fleet.md findings: 2 usage error' },
  // daemons: their usage and configuration errors (their runs end on SIGTERM, tested with them)
  { args: ['agent', '--fail-on', 'bogus'], code: 2, doc: 'agent --help: 2 on a usage error' },
  { args: ['proxy', '--policy', 'missing.yaml'], code: 2, doc: 'docs/proxy.md: a policy error is exit 2' },
  { args: ['proxy', 'redirect'], code: 2, doc: 'proxy redirect --help: 2 usage error' },
  { args: ['hub'], code: 2, doc: 'hub --help: 2 on a usage error' },
  { args: ['hub', '--config', 'missing.yaml'], code: 2, doc: 'docs/fleet.md: a hub that cannot start exits 2' },
];

describe('every documented exit code', { skip: skipUnbuilt }, () => {
  for (const c of CASES) {
    const name = `${c.args.join(' ')}${c.full ? ' > full device' : ''} → ${c.code} (${c.doc})`;
    test(name, { skip: c.full && !isRoot ? 'device nodes can only be made as root (mknod)' : false }, async () => {
      const r = await run(c);
      assert.equal(r.signal, null, `killed: ${r.stderr}`);
      assert.equal(r.status, c.code, r.stderr);
      assert.doesNotMatch(r.stderr, /^\s+at /m, 'no stack trace');
      c.check?.(r);
    });
  }
});
