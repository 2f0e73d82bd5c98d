import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, describe, test } from 'node:test';
import { redirectRuleset } from '../../src/adapters/net/nft-redirect.ts';
import { parsePolicy } from '../../src/core/policy/load.ts';
import { type RunningFakeImds, startFakeImds } from '../fake-imds/server.ts';
import { call } from './harness.ts';

const CLI = ['--import', 'tsx', 'src/cli/main.ts'];
const run = (args: string[]) => spawnSync(process.execPath, [...CLI, ...args], { encoding: 'utf8', timeout: 60_000 });

describe('imdsguard proxy (CLI)', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'imdsguard-proxy-cli-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('--help exits 0 and documents the flags', () => {
    const r = run(['proxy', '--help']);
    assert.equal(r.status, 0);
    for (const f of ['--policy', '--listen', '--upstream', '--format', '--output', 'redirect'])
      assert.match(r.stdout, new RegExp(f));
    assert.equal(run(['proxy', 'redirect', '--help']).status, 0);
  });

  test('a missing --policy, an unpaired --listen or a bad policy exit 2 with a message naming the place', () => {
    assert.equal(run(['proxy']).status, 2);
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'rules:\n  - name: x\n    match: { exe: /bin/x }\n    action: permit\n');
    const r = run(['proxy', '--policy', bad, '--listen', '127.0.0.1:0', '--upstream', 'http://127.0.0.1:9']);
    assert.equal(r.status, 2);
    assert.match(r.stderr, new RegExp(`${bad.replace(/[.]/g, '\\.')}:4:\\d+: Invalid policy at "rules\\.0\\.action"`));
    const good = join(dir, 'good.yaml');
    writeFileSync(good, 'rules: []\n');
    const u = run(['proxy', '--policy', good, '--listen', '127.0.0.1:0']);
    assert.equal(u.status, 2);
    assert.match(u.stderr, /one --upstream per --listen/);
    const d = run(['proxy', 'redirect', '--dry-run']);
    assert.equal(d.status, 2, 'an unknown option of a nested command is a usage error too');
    assert.match(d.stderr, /unknown option '--dry-run'/);
  });

  test('redirect --print takes the listeners from the policy file and exempts --uid', () => {
    const r = run(['proxy', 'redirect', '--print', '--uid', '998', '--policy', 'packaging/proxy-policy.example.yaml']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /meta skuid 998 return/);
    assert.equal(
      r.stdout.match(/ip daddr 169\.254\.169\.254 tcp dport 80 redirect to :8169/g)?.length,
      2,
      'OUTPUT and PREROUTING',
    );
    assert.equal(r.stdout.match(/ip6 daddr fd00:ec2::254 tcp dport 80 redirect to :8170/g)?.length, 2);
    assert.equal(r.stdout.match(/ip daddr 169\.254\.170\.2 tcp dport 80 redirect to :8171/g)?.length, 2);
    assert.equal(run(['proxy', 'redirect', '--print', '--apply']).status, 2);
    assert.doesNotMatch(r.stderr, /loopback/);
  });

  test('redirect --print warns that a loopback listener cannot be reached from other namespaces', () => {
    const r = run([
      'proxy',
      'redirect',
      '--print',
      '--uid',
      '998',
      ...['--listen', '127.0.0.1:8169', '--upstream', 'http://169.254.169.254'],
      ...['--listen', '0.0.0.0:8171', '--upstream', 'http://169.254.170.2'],
    ]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /redirect to :8169/);
    assert.match(
      r.stderr,
      /warning: listener 127\.0\.0\.1:8169 is on loopback: connections redirected from other network namespaces \(containers\)/,
    );
    assert.doesNotMatch(r.stderr, /:8171 is on loopback/);
  });

  test('redirectRuleset() refuses a listener that cannot receive the family it redirects', () => {
    assert.throws(
      () => redirectRuleset({ listeners: [{ host: '127.0.0.1', port: 1, upstream: 'http://[fd00:ec2::254]' }] }),
      /cannot receive redirected IPv6/,
    );
    assert.throws(
      () => redirectRuleset({ listeners: [{ host: '0.0.0.0', port: 1, upstream: 'http://metadata.google.internal' }] }),
      /IP address/,
    );
  });

  test('the packaged example policy parses', () => {
    const p = parsePolicy(
      readFileSync('packaging/proxy-policy.example.yaml', 'utf8'),
      'packaging/proxy-policy.example.yaml',
    );
    assert.equal(p.rules.at(-1)?.action, 'deny');
    assert.equal(p.listeners?.length, 3);
  });

  test('the systemd unit runs as a dedicated user with exactly the attribution capabilities', () => {
    const unit = readFileSync('packaging/imdsguard-proxy.service', 'utf8');
    assert.match(unit, /^User=imdsguard$/m);
    assert.match(unit, /^AmbientCapabilities=CAP_SYS_PTRACE CAP_DAC_READ_SEARCH$/m);
    assert.match(unit, /^CapabilityBoundingSet=CAP_SYS_PTRACE CAP_DAC_READ_SEARCH$/m);
    assert.match(unit, /^ExecStartPre=\+.*proxy redirect --apply/m);
  });
});

describe('imdsguard proxy (process): records, SIGHUP reload, SIGTERM', () => {
  let fake: RunningFakeImds;
  let dir: string;
  before(async () => {
    fake = await startFakeImds();
    dir = mkdtempSync(join(tmpdir(), 'imdsguard-proxy-run-'));
  });
  after(async () => {
    await fake.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('writes one jsonl event per request to -o, reloads the policy on SIGHUP and exits 0 on SIGTERM', async () => {
    const policy = join(dir, 'p.yaml');
    const records = join(dir, 'records.jsonl');
    writeFileSync(policy, 'defaults: { imdsv2_only: false }\nrules:\n  - { name: open, match: {}, action: allow }\n');
    const child = spawn(
      process.execPath,
      [
        ...CLI,
        'proxy',
        '--policy',
        policy,
        '--listen',
        '127.0.0.1:0',
        '--upstream',
        fake.url,
        '--format',
        'jsonl',
        '-o',
        records,
        '--metrics-port',
        '0',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    try {
      const rl = createInterface({ input: child.stderr });
      let port = 0;
      let metricsPort = 0;
      for await (const line of rl) {
        const m = /"port":(\d+)/.exec(line);
        if (m && /listening/.test(line)) {
          port = Number(m[1]);
          metricsPort = Number(/"metrics":(\d+)/.exec(line)?.[1]);
          break;
        }
      }
      assert.ok(port > 0 && metricsPort > 0, `ports ${port}, ${metricsPort}`);
      assert.equal((await call(port, 'GET', '/latest/meta-data/instance-id')).status, 200);
      const metrics = await call(metricsPort, 'GET', '/metrics');
      assert.match(metrics.body, /imdsguard_proxy_requests_total\{decision="allow",status="200"\} 1/);
      const health = await call(metricsPort, 'GET', '/healthz');
      assert.match(health.body, /"attribution":"sock_diag"/);
      writeFileSync(policy, 'rules:\n  - { name: closed now, match: {}, action: deny }\n');
      child.kill('SIGHUP');
      let status = 0;
      for (let i = 0; i < 50 && status !== 403; i++) {
        await new Promise((r) => setTimeout(r, 100));
        status = (await call(port, 'GET', '/latest/meta-data/instance-id')).status;
      }
      assert.equal(status, 403, 'the reloaded policy refuses');
      child.kill('SIGTERM');
      const [code] = await once(child, 'exit');
      assert.equal(code, 0);
      const lines = readFileSync(records, 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as Record<string, unknown>);
      const evs = lines.filter((l) => l.type === 'event');
      assert.equal((evs[0] as { policy_rule: string }).policy_rule, 'open');
      assert.equal((evs.at(-1) as { policy_rule: string }).policy_rule, 'closed now');
      for (const e of evs) {
        const ev = e as {
          process: { pid: number; exe: string; uid: number };
          http: { method: string; path: string };
          decision: string;
          status: number;
          latency_ms: number;
        };
        assert.equal(ev.process.pid, process.pid);
        assert.equal(typeof ev.process.exe, 'string');
        assert.equal(typeof ev.process.uid, 'number');
        assert.deepEqual([ev.http.method, ev.http.path], ['GET', '/latest/meta-data/instance-id']);
        assert.ok(['allow', 'deny'].includes(ev.decision));
        assert.equal(typeof ev.status, 'number');
        assert.equal(typeof ev.latency_ms, 'number');
      }
      assert.ok(
        lines.some((l) => l.type === 'finding'),
        'denied requests also become findings',
      );
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });

  test('every answered request is in the record file while the proxy runs, and still after SIGINT', async () => {
    const policy = join(dir, 'p-int.yaml');
    const records = join(dir, 'records-int.jsonl');
    writeFileSync(policy, 'defaults: { imdsv2_only: false }\nrules:\n  - { name: open, match: {}, action: allow }\n');
    const child = spawn(
      process.execPath,
      [...CLI, 'proxy', '--policy', policy, '--listen', '127.0.0.1:0', '--upstream', fake.url, '-o', records],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    try {
      let port = 0;
      for await (const line of createInterface({ input: child.stderr })) {
        const m = /"port":(\d+)/.exec(line);
        if (m && /listening/.test(line)) {
          port = Number(m[1]);
          break;
        }
      }
      const replies = await Promise.all(
        Array.from({ length: 50 }, () => call(port, 'GET', '/latest/meta-data/instance-id')),
      );
      assert.ok(replies.every((r) => r.status === 200));
      const eventsIn = () =>
        readFileSync(records, 'utf8')
          .split('\n')
          .filter((l) => l.startsWith('{"type":"event"')).length;
      // Each record is written as its request completes: all 50 are there while the proxy still runs.
      const until = Date.now() + 2000;
      while (eventsIn() < 50 && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
      assert.equal(eventsIn(), 50);
      child.kill('SIGINT');
      const [code] = await once(child, 'exit');
      assert.equal(code, 130);
      const events = readFileSync(records, 'utf8')
        .split('\n')
        .filter((l) => l.startsWith('{"type":"event"'));
      assert.equal(events.length, 50);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
});

describe('imdsguard proxy (CLI): stopping', () => {
  let dir: string;
  let slow: RunningFakeImds;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'imdsguard-proxy-stop-'));
    slow = await startFakeImds({ delayMs: 1500 });
  });
  after(async () => {
    await slow.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Start the proxy CLI in front of the slow service; resolves with its port once it listens. */
  const start = async (name: string, extra: string[] = []) => {
    const policy = join(dir, `${name}.yaml`);
    const records = join(dir, `${name}.jsonl`);
    writeFileSync(policy, 'defaults: { imdsv2_only: false }\nrules:\n  - { name: open, match: {}, action: allow }\n');
    const child = spawn(
      process.execPath,
      [...CLI, 'proxy', '--policy', policy, '--listen', '127.0.0.1:0', '--upstream', slow.url, '-o', records, ...extra],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let stderr = '';
    let port = 0;
    const lines = createInterface({ input: child.stderr });
    const listening = new Promise<void>((resolve) => {
      lines.on('line', (line) => {
        stderr += `${line}\n`;
        const m = /"port":(\d+)/.exec(line);
        if (m && /listening/.test(line)) {
          port = Number(m[1]);
          resolve();
        }
      });
    });
    await Promise.race([listening, once(child, 'exit')]);
    assert.ok(port > 0, stderr);
    const events = () =>
      readFileSync(records, 'utf8')
        .split('\n')
        .filter((l) => l.startsWith('{"type":"event"'))
        .map((l) => JSON.parse(l) as { status: number; upstream_error?: string; http: { path: string } });
    return { child, port, events, stderr: () => stderr };
  };

  /** Wait until the slow service has received `n` requests in all (the request is in flight in the proxy). */
  const upstreamHas = async (n: number) => {
    for (let i = 0; i < 200 && slow.seen.length < n; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(slow.seen.length, n);
  };

  test('SIGTERM: no new connections, the request in flight is answered and recorded, then exit 0', async () => {
    const p = await start('term');
    try {
      const seen = slow.seen.length;
      const inFlight = call(p.port, 'GET', '/latest/meta-data/instance-id');
      await upstreamHas(seen + 1);
      p.child.kill('SIGTERM');
      // Once the proxy says it is stopping, a new connection is refused.
      for (let i = 0; i < 200 && !/stopping/.test(p.stderr()); i++) await new Promise((r) => setTimeout(r, 10));
      assert.match(p.stderr(), /stopping/);
      await assert.rejects(call(p.port, 'GET', '/latest/meta-data/ami-id'), { code: 'ECONNREFUSED' });
      const r = await inFlight;
      assert.equal(r.status, 200);
      assert.match(r.body, /^i-/, 'the instance id, whole');
      assert.equal(r.headers.connection, 'close', 'the connection is closed after the answer');
      const [code] = await once(p.child, 'exit');
      assert.equal(code, 0, p.stderr());
      assert.doesNotMatch(p.stderr(), /Output closed|cannot write record/);
      const evs = p.events();
      assert.equal(evs.length, 1);
      assert.equal(evs[0]!.status, 200);
      assert.equal(evs[0]!.upstream_error, undefined);
    } finally {
      if (p.child.exitCode === null) p.child.kill('SIGKILL');
    }
  });

  test('a request still in flight after --drain-timeout-ms is cut off and recorded as PROXY_STOPPED', async () => {
    const p = await start('cut', ['--drain-timeout-ms', '100']);
    try {
      const seen = slow.seen.length;
      const inFlight = call(p.port, 'GET', '/latest/meta-data/instance-id').then(
        (r) => r.status,
        (e: NodeJS.ErrnoException) => e.code,
      );
      await upstreamHas(seen + 1);
      p.child.kill('SIGTERM');
      assert.equal(await inFlight, 'ECONNRESET');
      const [code] = await once(p.child, 'exit');
      assert.equal(code, 0, p.stderr());
      assert.match(p.stderr(), /cut off/);
      assert.doesNotMatch(p.stderr(), /Output closed|cannot write record/);
      const evs = p.events();
      assert.equal(evs.length, 1);
      assert.equal(evs[0]!.upstream_error, 'PROXY_STOPPED');
    } finally {
      if (p.child.exitCode === null) p.child.kill('SIGKILL');
    }
  });
});
