/**
 * The guard in a real process, inside a network namespace this test creates: the fake metadata service listens
 * on the real metadata addresses there, test names resolve to them through the namespace's own hosts file, and
 * every client library is driven against them. Nothing can leave the namespace.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { privateTempDir } from './_private-dir.ts';
import { createNetns, netnsUnavailable, type TestNetns } from './netns.ts';

/**
 * The client runs the built guard, as users do. Run from source, the guard's preload for worker threads is a
 * TypeScript file that a worker without tsx cannot load (Node 20 runs no loader hooks of its own in a worker);
 * esbuild's synchronous service, which tsx starts on a cold cache, blocks its parent until its worker answers,
 * so a client importing an SDK from source would hang there for good.
 */
const GUARD_MODULE = new URL('../../dist/guard/index.js', import.meta.url);
const why = netnsUnavailable() ?? (existsSync(GUARD_MODULE) ? null : 'dist/ is not built (npm run build)');
if (why && process.env.CI === 'true') throw new Error(`guard namespace tests cannot run under CI: ${why}`);

interface CaseResult {
  case: string;
  outcome: 'ok' | 'error';
  code?: string;
  status?: number;
  body?: string;
  message?: string;
  findings: Array<{ decision?: string; provider?: string; via?: string }>;
}

describe('guard inside a test network namespace', { skip: why ?? false, timeout: 900_000 }, () => {
  let ns: TestNetns;
  before(async () => {
    ns = createNetns({
      addresses: ['169.254.169.254', 'fd00:ec2::254', '169.254.170.2'],
      hosts: {
        'rebind.guard.test': '169.254.169.254',
        'metadata.google.internal': '169.254.169.254',
        'benign.guard.test': '127.0.0.1',
      },
    });
    await ns.start([
      process.execPath,
      '--import',
      'tsx',
      'test/fake-imds/serve.ts',
      ...[
        '169.254.169.254:80',
        '169.254.169.254:443',
        '[fd00:ec2::254]:80',
        '169.254.170.2:80',
        '127.0.0.1:8080',
      ].flatMap((l) => ['--listen', l]),
    ]);
    // A plain forward proxy, in a process of its own (the guard runs in the client process only).
    await ns.start([process.execPath, '--import', 'tsx', 'test/guard/_forward-proxy.ts', '3128']);
  });
  after(() => ns?.remove());

  /** `entry`: the script the client process starts from (where the application's packages resolve). */
  async function run(
    cases: string[],
    env: Record<string, string> = {},
    entry = 'test/guard/_clients.ts',
  ): Promise<Map<string, CaseResult>> {
    const r = await ns.exec([process.execPath, '--import', 'tsx', entry, ...cases], {
      env: {
        ...process.env,
        IMDSGUARD_GUARD_REPORT: 'none',
        METADATA_SERVER_DETECTION: 'assume-present',
        IMDSGUARD_TEST_GUARD_MODULE: GUARD_MODULE.href,
        ...env,
      },
      // Generous: tsx start-up alone takes seconds on a loaded machine.
      timeoutMs: 180_000,
    });
    assert.equal(r.code, 0, `client process failed: ${r.stderr}`);
    const out = new Map<string, CaseResult>();
    for (const line of r.stdout.trim().split('\n')) {
      const rec = JSON.parse(line) as CaseResult;
      out.set(rec.case, rec);
    }
    assert.equal(out.size, cases.length, r.stdout);
    return out;
  }

  const BLOCKED = [
    'http-ip',
    'http-name',
    'http-ipv6',
    'http-gcp-name',
    'http-decimal',
    'http-ecs',
    'fetch-ip',
    'fetch-name',
    'fetch-gcp-header',
    'axios-name',
    'got-name',
    'node-fetch-name',
    'net-ip',
    'net-name',
    'tls-name',
  ];
  const BENIGN = [
    'http-benign',
    'http-benign-name',
    'fetch-benign',
    'axios-benign',
    'got-benign',
    'node-fetch-benign',
    'net-benign',
  ];

  test('block mode: every client is refused with ERR_IMDSGUARD_BLOCKED, also through names that resolve to a metadata address', async () => {
    const res = await run([...BLOCKED, ...BENIGN]);
    for (const c of BLOCKED) {
      const r = res.get(c)!;
      assert.equal(r.outcome, 'error', `${c} should be blocked: ${JSON.stringify(r)}`);
      assert.equal(r.code, 'ERR_IMDSGUARD_BLOCKED', `${c}: ${JSON.stringify(r)}`);
      assert.match(
        r.message ?? '',
        /imdsguard blocked a connection to (169\.254\.169\.254|fd00:ec2::254|169\.254\.170\.2|metadata\.google\.internal)/,
      );
      assert.equal(r.findings.length, 1, c);
      assert.equal(r.findings[0]!.decision, 'deny', c);
    }
    assert.match(res.get('http-name')!.message!, /resolved from "rebind\.guard\.test"/);
    assert.equal(res.get('http-ecs')!.findings[0]!.provider, 'aws');
    assert.equal(res.get('http-gcp-name')!.findings[0]!.provider, 'gcp');
    for (const c of BENIGN) {
      const r = res.get(c)!;
      assert.equal(r.outcome, 'ok', `${c} should pass: ${JSON.stringify(r)}`);
      assert.equal(r.findings.length, 0, c);
    }
  });

  test('the real AWS, Google and Azure SDKs still get credentials; the same endpoint stays closed to the app', async () => {
    const res = await run(['aws-sdk', 'http-ip', 'gcp-sdk', 'fetch-gcp-header', 'azure-sdk', 'http-azure']);
    assert.equal(res.get('aws-sdk')!.outcome, 'ok', JSON.stringify(res.get('aws-sdk')));
    assert.equal(res.get('aws-sdk')!.body, 'ASIAFAKEEXAMPLE00001');
    assert.equal(res.get('gcp-sdk')!.outcome, 'ok', JSON.stringify(res.get('gcp-sdk')));
    assert.match(res.get('gcp-sdk')!.body!, /^ya29\.FAKE/);
    assert.equal(res.get('azure-sdk')!.outcome, 'ok', JSON.stringify(res.get('azure-sdk')));
    assert.match(res.get('azure-sdk')!.body!, /^eyFAKE/);
    // Right after the SDK used a keep-alive socket to the service, the app's own request must not ride on it.
    for (const c of ['http-ip', 'fetch-gcp-header', 'http-azure']) {
      assert.equal(res.get(c)!.code, 'ERR_IMDSGUARD_BLOCKED', `${c}: ${JSON.stringify(res.get(c))}`);
    }
  });

  test('a kept-alive fetch socket opened by an allowlisted caller is not reused for the app', async () => {
    const dir = privateTempDir('imdsguard-fake-sdk-');
    try {
      mkdirSync(join(dir, 'node_modules', 'fake-sdk'), { recursive: true });
      writeFileSync(
        join(dir, 'node_modules', 'fake-sdk', 'index.mjs'),
        'export async function get(url) { const r = await fetch(url); await r.text(); return r.status; }\n',
      );
      // The application starts from that directory, so its node_modules holds the application's packages.
      const entry = join(dir, 'app.mjs');
      writeFileSync(entry, `await import(${JSON.stringify(new URL('./_clients.ts', import.meta.url).href)});\n`);
      const res = await run(['fetch-reuse'], { FAKE_SDK_DIR: dir, IMDSGUARD_GUARD_ALLOW: 'fake-sdk:aws' }, entry);
      const r = res.get('fetch-reuse')!;
      assert.match(r.message ?? '', /^sdk status 200;/, JSON.stringify(r));
      assert.equal(r.code, 'ERR_IMDSGUARD_BLOCKED', JSON.stringify(r));
      assert.deepEqual(
        r.findings.map((f) => [f.decision, f.via]),
        [['deny', 'fetch-reused-socket']],
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  const via = (r: CaseResult) => r.findings.map((f) => [f.decision, f.via]);

  test('a request queued behind the AWS SDK at maxSockets is checked when handed its socket; the SDK still gets its credentials', async () => {
    const r = (await run(['aws-sdk-handoff'])).get('aws-sdk-handoff')!;
    // The scenario really happened: the app's request waited in the agent's queue while the SDK held the socket.
    assert.match(r.message ?? '', /^sdk ASIAFAKEEXAMPLE00001; queued 1;/, JSON.stringify(r));
    assert.equal(r.code, 'ERR_IMDSGUARD_BLOCKED', JSON.stringify(r));
    assert.deepEqual(via(r), [['deny', 'http-socket-handoff']]);
    // In monitor mode the same request is let through on the handed-off socket and reaches the credentials.
    const m = (await run(['aws-sdk-handoff'], { IMDSGUARD_GUARD_MODE: 'monitor' })).get('aws-sdk-handoff')!;
    assert.equal(m.status, 200, JSON.stringify(m));
    assert.match(m.body ?? '', /ASIAFAKEEXAMPLE00001/);
    assert.ok(
      via(m).some(([d, v]) => d === 'audit' && v === 'http-socket-handoff'),
      JSON.stringify(m.findings),
    );
  });

  const PROXIED: Record<string, string> = {
    'http-absolute-proxy': 'http-proxy',
    'http-absolute-proxy-decimal': 'http-proxy',
    'http-absolute-proxy-gcp-name': 'http-proxy',
    'http-connect-proxy': 'http-connect',
    'axios-env-proxy': 'http-proxy',
    'undici-proxy-agent': 'undici-connect',
    'undici-env-proxy': 'undici-connect',
    'fetch-proxy-dispatcher': 'undici-connect',
    'raw-connect-proxy': 'socket-connect-line',
    'raw-absolute-proxy': 'socket-proxy-line',
    'raw-connect-proxy-split': 'socket-connect-line',
    'raw-absolute-proxy-corked': 'socket-proxy-line',
    'http-socket-connect-write': 'socket-connect-line',
    'http-header-tamper': 'socket-proxy-line',
  };
  const PROXY_ENV = { HTTP_PROXY: 'http://127.0.0.1:3128', http_proxy: 'http://127.0.0.1:3128' };

  test('through a forward proxy (HTTP_PROXY, ProxyAgent, absolute-form, CONNECT) the request line is checked', async () => {
    const benign = ['http-absolute-proxy-benign', 'axios-env-proxy-benign', 'undici-proxy-benign'];
    const res = await run([...Object.keys(PROXIED), ...benign], PROXY_ENV);
    for (const [c, v] of Object.entries(PROXIED)) {
      const r = res.get(c)!;
      assert.equal(r.code, 'ERR_IMDSGUARD_BLOCKED', `${c}: ${JSON.stringify(r)}`);
      assert.deepEqual(via(r), [['deny', v]], c);
    }
    for (const c of benign) {
      const r = res.get(c)!;
      assert.equal(r.status, 200, `${c} goes through the proxy: ${JSON.stringify(r)}`);
      assert.equal(r.findings.length, 0, c);
    }
    // The proxy does forward them: in monitor mode they reach the service.
    const m = await run(Object.keys(PROXIED), { ...PROXY_ENV, IMDSGUARD_GUARD_MODE: 'monitor' });
    for (const [c, v] of Object.entries(PROXIED)) {
      const r = m.get(c)!;
      assert.equal(r.outcome, 'ok', `${c}: ${JSON.stringify(r)}`);
      // The AWS role listing, or for Google (asked without its header) the fake's own refusal; not the proxy's 502.
      if (c === 'http-absolute-proxy-gcp-name') assert.notEqual(r.status, 502, JSON.stringify(r));
      else assert.match(r.body ?? '', /fake-imds-role/, `${c}: ${JSON.stringify(r)}`);
      assert.deepEqual(via(r), [['audit', v]], c);
    }
  });

  test('a bound built-in called from an SDK frame (a getter on its options) does not pass as the SDK; the SDK still works', async () => {
    const res = await run(['launder-getter-http', 'launder-getter-fetch', 'launder-profile', 'aws-sdk']);
    for (const c of ['launder-getter-http', 'launder-getter-fetch', 'launder-profile']) {
      const r = res.get(c)!;
      assert.equal(r.code, 'ERR_IMDSGUARD_BLOCKED', `${c}: ${JSON.stringify(r)}`);
      assert.equal(r.findings[0]?.decision, 'deny', c);
    }
    assert.equal(res.get('aws-sdk')!.body, 'ASIAFAKEEXAMPLE00001');
  });

  test('getters on options, callers named after an SDK file, tcp_wrap and a take-over from another module', async () => {
    const res = await run([
      'net-getter-options',
      'vm-spoofed-caller',
      'function-spoofed-caller',
      'tcp-wrap',
      'take-over',
    ]);
    const g = res.get('net-getter-options')!;
    // net connects where the check looked (the harmless address), or the connection is refused; never the service.
    assert.ok(g.message === 'connected to 127.0.0.1:8080' || g.code === 'ERR_IMDSGUARD_BLOCKED', JSON.stringify(g));
    for (const c of ['vm-spoofed-caller', 'function-spoofed-caller', 'take-over']) {
      const r = res.get(c)!;
      assert.equal(r.code, 'ERR_IMDSGUARD_BLOCKED', `${c}: ${JSON.stringify(r)}`);
      assert.deepEqual(via(r), [['deny', 'http']], c);
    }
    assert.match(
      res.get('take-over')!.message!,
      /^view\.uninstall=undefined, view\.reconfigure=undefined, reinstall refused; mode block;/,
    );
    const t = res.get('tcp-wrap')!;
    assert.match(t.code ?? '', /^uv -\d+$/, JSON.stringify(t));
    assert.deepEqual(via(t), [['deny', 'tcp-handle-unowned']]);
  });

  test('worker threads started after installation are guarded too', async () => {
    const res = await run(['worker-request', 'worker-eval-request', 'aws-sdk']);
    for (const c of ['worker-request', 'worker-eval-request']) {
      const r = res.get(c)!;
      assert.equal(r.code, 'ERR_IMDSGUARD_BLOCKED', `${c}: ${JSON.stringify(r)}`);
    }
    assert.equal(res.get('aws-sdk')!.body, 'ASIAFAKEEXAMPLE00001');
  });

  test('monitor mode lets the request through and reports it; findings can go to a file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'imdsguard-guard-'));
    try {
      const file = join(dir, 'findings.jsonl');
      const res = await run(['http-ip', 'fetch-name', 'http-benign'], {
        IMDSGUARD_GUARD_MODE: 'monitor',
        IMDSGUARD_GUARD_REPORT: file,
      });
      const r = res.get('http-ip')!;
      assert.equal(r.outcome, 'ok');
      assert.equal(r.status, 200);
      assert.equal(r.findings[0]!.decision, 'audit');
      assert.equal(res.get('fetch-name')!.status, 200);
      const lines = readFileSync(file, 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l));
      assert.equal(lines.length, 2);
      for (const f of lines) {
        assert.equal(f.type, 'finding');
        assert.equal(f.rule.id, 'guard-metadata-connection');
        assert.equal(f.decision, 'audit');
        assert.deepEqual(f.attack, ['T1552.005']);
        assert.equal(f.origin.sensor, 'imdsguard-guard');
        assert.equal(f.process.pid > 0, true);
        assert.equal(f.destination.ip, '169.254.169.254');
      }
      assert.equal(lines[0].target.path_class, 'credentials');
      assert.deepEqual(lines[0].http, {
        method: 'GET',
        path: '/latest/meta-data/iam/security-credentials/',
        token: false,
      });
      assert.equal(lines[0].imds_version, 1);
      assert.equal(lines[0].severity, 'critical');
      // The response body (credentials) never reaches a finding.
      assert.doesNotMatch(readFileSync(file, 'utf8'), /FAKE-EXAMPLE|fakeSecretKey/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
