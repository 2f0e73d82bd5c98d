/**
 * End to end, in network namespaces this test creates: the metadata addresses on the namespace's own `lo`, the
 * fake metadata service there, the real nftables redirect applied inside the namespace, the proxy running under a
 * dedicated uid with the capabilities attribution needs, and real clients (curl, python3, node) as root, as
 * nobody, and from a second namespace standing for a container. Nothing here touches the host's namespace.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { client, daemon, deleteNs, inNs, netnsUnavailable, sh, stop } from './netns.ts';

const REASON = netnsUnavailable(['ip', 'nft', 'curl', 'python3', 'setpriv', 'ss', 'conntrack']);
if (REASON && process.env.CI === 'true') throw new Error(`CI=true but the namespace tests cannot run: ${REASON}`);

const SUFFIX = `${process.pid % 100000}`;
const HOST = `igp-host-${SUFFIX}`;
const CTR = `igp-ctr-${SUFFIX}`;
const PROXY_UID = 61234;
const NOBODY = { uid: 65534, gid: 65534 };
const NET = `10.${200 + (process.pid % 50)}.${process.pid % 250}`;
const V4_PORT = 18169;
const V6_PORT = 18170;
const TTL = ['-H', 'X-aws-ec2-metadata-token-ttl-seconds: 60'];
const LISTEN = [
  '--listen',
  `0.0.0.0:${V4_PORT}`,
  '--upstream',
  'http://169.254.169.254',
  '--listen',
  `[::]:${V6_PORT}`,
  '--upstream',
  'http://[fd00:ec2::254]',
];
const CLI = ['node', '--import', 'tsx', 'src/cli/main.ts'];

interface EventRecord {
  type: string;
  process: { pid?: number; exe?: string; uid?: number; user?: string; netns?: number; identity: string };
  http: { method: string; path: string; token: boolean };
  decision: string;
  policy_rule: string;
  status: number;
  latency_ms: number;
}

describe('proxy end to end in network namespaces', { skip: REASON ?? false }, () => {
  let dir: string;
  let records: string;
  let fake: ChildProcess | undefined;
  let proxy: ChildProcess | undefined;
  let proxyLog: string[] = [];
  let ctrNetns: number;

  const events = (): EventRecord[] =>
    existsSync(records)
      ? readFileSync(records, 'utf8')
          .split('\n')
          .filter(Boolean)
          .map((l) => JSON.parse(l) as EventRecord)
          .filter((r) => r.type === 'event')
      : [];

  /** The events recorded for one client process (waiting briefly for the write). */
  const eventsOf = async (pid: number, n: number): Promise<EventRecord[]> => {
    for (let i = 0; i < 100; i++) {
      const mine = events().filter((e) => e.process.pid === pid);
      if (mine.length >= n) return mine;
      await new Promise((r) => setTimeout(r, 50));
    }
    return events().filter((e) => e.process.pid === pid);
  };

  const curl = (ns: string, args: string[], as?: { uid: number; gid: number }) =>
    client(ns, ['curl', '-s', '-m', '10', '-w', '\\n%{http_code}', ...args], as);
  const statusOf = (out: string) => Number(out.trim().split('\n').at(-1));

  before(async () => {
    deleteNs(HOST);
    deleteNs(CTR);
    sh('ip', ['netns', 'add', HOST]);
    sh('ip', ['netns', 'add', CTR]);
    inNs(HOST, 'ip', ['link', 'set', 'lo', 'up']);
    inNs(HOST, 'ip', ['addr', 'add', '169.254.169.254/32', 'dev', 'lo']);
    inNs(HOST, 'ip', ['-6', 'addr', 'add', 'fd00:ec2::254/128', 'dev', 'lo']);
    inNs(CTR, 'ip', ['link', 'set', 'lo', 'up']);
    // The veth pair is created directly inside the two namespaces: the host namespace never holds a side.
    sh('ip', ['link', 'add', 'igph0', 'netns', HOST, 'type', 'veth', 'peer', 'name', 'igpc0', 'netns', CTR]);
    inNs(HOST, 'ip', ['addr', 'add', `${NET}.1/30`, 'dev', 'igph0']);
    inNs(CTR, 'ip', ['addr', 'add', `${NET}.2/30`, 'dev', 'igpc0']);
    inNs(HOST, 'ip', ['link', 'set', 'igph0', 'up']);
    inNs(CTR, 'ip', ['link', 'set', 'igpc0', 'up']);
    inNs(CTR, 'ip', ['route', 'add', '169.254.169.254/32', 'via', `${NET}.1`]);
    ctrNetns = Number(/\[(\d+)\]/.exec(inNs(CTR, 'readlink', ['/proc/self/ns/net']).stdout)?.[1]);

    dir = mkdtempSync(join(tmpdir(), 'imdsguard-netns-'));
    chmodSync(dir, 0o777);
    records = join(dir, 'records.jsonl');
    const policy = join(dir, 'policy.yaml');
    writeFileSync(policy, readFileSync('test/fixtures/proxy/example-policy.yaml'));
    chmodSync(policy, 0o644);

    fake = (
      await daemon(
        HOST,
        [
          'node',
          '--import',
          'tsx',
          'test/fake-imds/serve.ts',
          '--listen',
          '169.254.169.254:80',
          '--listen',
          '[fd00:ec2::254]:80',
        ],
        /listening.*fd00/,
        'stdout',
      )
    ).child;
    // The proxy as its own uid, with the two capabilities attribution needs to read other users' /proc/<pid>/fd.
    const started = await daemon(
      HOST,
      [
        'setpriv',
        `--reuid=${PROXY_UID}`,
        `--regid=${PROXY_UID}`,
        '--clear-groups',
        '--inh-caps=+sys_ptrace,+dac_read_search',
        '--ambient-caps=+sys_ptrace,+dac_read_search',
        'env',
        `HOME=${dir}`,
        `TMPDIR=${dir}`,
        ...CLI,
        'proxy',
        '--policy',
        policy,
        ...LISTEN,
        '--format',
        'jsonl',
        '-o',
        records,
      ],
      /imdsguard proxy listening/,
      'stderr',
    );
    proxy = started.child;
    proxyLog = started.lines;
    inNs(HOST, CLI[0]!, [...CLI.slice(1), 'proxy', 'redirect', '--apply', '--uid', String(PROXY_UID), ...LISTEN]);
  });

  after(async () => {
    await stop(proxy);
    await stop(fake);
    deleteNs(CTR);
    deleteNs(HOST);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('the redirect is our own table, with the proxy uid exempt, in OUTPUT and PREROUTING', () => {
    const t = inNs(HOST, 'nft', ['list', 'table', 'inet', 'imdsguard_proxy']).stdout;
    assert.match(t, new RegExp(`meta skuid ${PROXY_UID} return`));
    assert.match(t, /hook output/);
    assert.match(t, /hook prerouting/);
    assert.match(t, new RegExp(`ip daddr 169\\.254\\.169\\.254 tcp dport 80 redirect to :${V4_PORT}`));
    assert.match(t, new RegExp(`ip6 daddr fd00:ec2::254 tcp dport 80 redirect to :${V6_PORT}`));
  });

  test('the proxy runs as its own uid with CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH, and attributes through sock_diag', () => {
    const status = readFileSync(`/proc/${proxy!.pid}/status`, 'utf8');
    assert.match(status, new RegExp(`^Uid:\\s+${PROXY_UID}\\s+${PROXY_UID}`, 'm'));
    const capEff = BigInt(`0x${/^CapEff:\s+([0-9a-f]+)/m.exec(status)![1]}`);
    assert.equal(capEff, (1n << 19n) | (1n << 2n), 'exactly CAP_SYS_PTRACE (19) and CAP_DAC_READ_SEARCH (2)');
    assert.match(proxyLog.join('\n'), /"attribution":"sock_diag"/);
  });

  test("root's curl gets a token and reads credentials; the proxy names curl, root and the rule", async () => {
    const t = await curl(HOST, ['-X', 'PUT', ...TTL, 'http://169.254.169.254/latest/api/token']);
    assert.equal(statusOf(t.stdout), 200, t.stdout + t.stderr);
    const token = t.stdout.trim().split('\n')[0]!;
    const c = await curl(HOST, [
      '-H',
      `X-aws-ec2-metadata-token: ${token}`,
      'http://169.254.169.254/latest/meta-data/iam/security-credentials/',
    ]);
    assert.equal(statusOf(c.stdout), 200);
    const [ev] = await eventsOf(c.pid, 1);
    assert.ok(ev, 'an event for the curl process');
    assert.equal(ev.process.exe, '/usr/bin/curl');
    assert.equal(ev.process.uid, 0);
    assert.equal(ev.process.user, 'root');
    assert.deepEqual([ev.decision, ev.policy_rule, ev.status], ['allow', 'curl may read everything', 200]);
    assert.deepEqual(ev.http, { method: 'GET', path: '/latest/meta-data/iam/security-credentials/', token: true });
    assert.ok(!readFileSync(records, 'utf8').includes(token), 'the token never reaches the records');
  });

  test('an IMDSv1 GET from curl gets 401 (imdsv2_only)', async () => {
    const c = await curl(HOST, ['http://169.254.169.254/latest/meta-data/']);
    assert.equal(statusOf(c.stdout), 401);
    const [ev] = await eventsOf(c.pid, 1);
    assert.equal(ev?.policy_rule, 'defaults.imdsv2_only');
  });

  test('curl run by nobody is refused with the rule name', async () => {
    const c = await curl(HOST, ['-X', 'PUT', ...TTL, 'http://169.254.169.254/latest/api/token'], NOBODY);
    assert.equal(statusOf(c.stdout), 403);
    assert.match(c.stdout, /no service account reads metadata/);
    const [ev] = await eventsOf(c.pid, 1);
    assert.equal(ev?.process.uid, 65534);
    assert.equal(ev?.process.user, 'nobody');
    assert.equal(ev?.decision, 'deny');
  });

  test('python3 may read /latest/meta-data/ (audited) but not credentials', async () => {
    const script = `
import urllib.request as u, urllib.error as e
base = 'http://169.254.169.254'
def go(method, path, headers):
    try:
        r = u.urlopen(u.Request(base + path, method=method, headers=headers), timeout=10)
        return r.status, r.read().decode()
    except e.HTTPError as x:
        return x.code, x.read().decode()
s, tok = go('PUT', '/latest/api/token', {'X-aws-ec2-metadata-token-ttl-seconds': '60'})
a, _ = go('GET', '/latest/meta-data/', {'X-aws-ec2-metadata-token': tok})
b, body = go('GET', '/latest/meta-data/iam/security-credentials/', {'X-aws-ec2-metadata-token': tok})
print(s, a, b, body.strip())
`;
    const c = await client(HOST, ['python3', '-c', script]);
    const [put, idx, cred] = c.stdout.trim().split(' ').map(Number);
    assert.deepEqual([put, idx, cred], [200, 200, 403], c.stdout + c.stderr);
    assert.match(c.stdout, /everything else is refused/);
    const evs = await eventsOf(c.pid, 3);
    assert.equal(evs.length, 3, 'three events for the python process (pyenv shims exec the real interpreter)');
    assert.match(evs[0]!.process.exe ?? '', /python3/);
    assert.deepEqual(
      evs.map((e) => [e.http.method, e.http.path, e.decision, e.policy_rule]),
      [
        ['PUT', '/latest/api/token', 'audit', 'python may read the index only'],
        ['GET', '/latest/meta-data/', 'audit', 'python may read the index only'],
        ['GET', '/latest/meta-data/iam/security-credentials/', 'deny', 'everything else is refused'],
      ],
    );
  });

  test('node is refused even a token (everything else is refused)', async () => {
    const c = await client(HOST, [
      'node',
      '-e',
      "fetch('http://169.254.169.254/latest/api/token',{method:'PUT',headers:{'X-aws-ec2-metadata-token-ttl-seconds':'60'}}).then(async r=>console.log(r.status, await r.text()))",
    ]);
    assert.match(c.stdout, /^403 .*everything else is refused/, c.stdout + c.stderr);
    const [ev] = await eventsOf(c.pid, 1);
    assert.match(ev?.process.exe ?? '', /node$/);
    assert.equal(ev?.policy_rule, 'everything else is refused');
  });

  test('IPv6: curl to [fd00:ec2::254] goes through the IPv6 listener', async () => {
    const t = await curl(HOST, ['-X', 'PUT', ...TTL, 'http://[fd00:ec2::254]/latest/api/token']);
    assert.equal(statusOf(t.stdout), 200, t.stdout + t.stderr);
    const [ev] = await eventsOf(t.pid, 1);
    assert.equal(ev?.process.exe, '/usr/bin/curl');
    assert.equal(ev?.decision, 'allow');
  });

  test('curl in another network namespace (a container) is refused by other_namespaces: deny', async () => {
    const c = await curl(CTR, ['-X', 'PUT', ...TTL, 'http://169.254.169.254/latest/api/token']);
    assert.equal(statusOf(c.stdout), 403, c.stdout + c.stderr);
    assert.match(c.stdout, /defaults\.other_namespaces/);
    const [ev] = await eventsOf(c.pid, 1);
    assert.ok(ev, 'the container process is identified by pid');
    assert.equal(ev.process.exe, '/usr/bin/curl');
    assert.equal(ev.process.netns, ctrNetns);
  });

  test("the proxy's own uid is exempt: it reaches the service directly", async () => {
    const before = events().length;
    const c = await curl(HOST, ['http://169.254.169.254/latest/meta-data/instance-id'], {
      uid: PROXY_UID,
      gid: PROXY_UID,
    });
    assert.equal(statusOf(c.stdout), 200);
    assert.match(c.stdout, /^i-0fake/);
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(events().length, before, 'no proxy record: the request never went through the proxy');
  });

  test('redirect --apply ends a keep-alive connection opened before it, with conntrack already running (P1)', async () => {
    // Start from no redirect, on a host where a connection tracker already runs (as with Docker, firewalld, ufw).
    inNs(HOST, CLI[0]!, [...CLI.slice(1), 'proxy', 'redirect', '--remove']);
    inNs(HOST, 'nft', ['add', 'table', 'inet', 'igp_tracker']);
    inNs(HOST, 'nft', ['add', 'chain', 'inet', 'igp_tracker', 'out', '{ type filter hook output priority 0; }']);
    inNs(HOST, 'nft', ['add', 'rule', 'inet', 'igp_tracker', 'out', 'ct', 'state', 'established', 'accept']);
    // A client with one keep-alive connection: a token now (directly: no redirect yet), credentials when told.
    const script = `
const http = require('http');
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
const go = (method, path, headers) => new Promise((resolve, reject) => {
  const r = http.request({ host: '169.254.169.254', port: 80, method, path, headers, agent }, (x) => {
    let b = ''; x.on('data', (d) => { b += d; }); x.on('end', () => resolve([x.statusCode, b, r.reusedSocket]));
  });
  r.on('error', reject); r.end();
});
(async () => {
  const [s, token] = await go('PUT', '/latest/api/token', { 'X-aws-ec2-metadata-token-ttl-seconds': '60' });
  console.log('first', s);
  // Poll on the same connection (as an SDK does) so the service's keep-alive timeout never closes it.
  let polling = true;
  (async () => { while (polling) { await new Promise((r) => setTimeout(r, 1000)); if (polling) await go('GET', '/latest/meta-data/', { 'X-aws-ec2-metadata-token': token }).catch(() => undefined); } })();
  await new Promise((r) => process.stdin.once('data', r));
  polling = false;
  const [s2, body, reused] = await go('GET', '/latest/meta-data/iam/security-credentials/', { 'X-aws-ec2-metadata-token': token });
  console.log('second', s2, reused, JSON.stringify(body.slice(0, 80)));
  process.exit(0);
})().catch((e) => { console.log('error', e.code); process.exit(1); });
`;
    const child = spawn('ip', ['netns', 'exec', HOST, 'node', '-e', script], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
    });
    child.stderr.on('data', (c: Buffer) => {
      out += c.toString();
    });
    try {
      for (let i = 0; i < 200 && !/first/.test(out); i++) await new Promise((r) => setTimeout(r, 50));
      assert.match(out, /^first 200/, out);
      const tracked = inNs(HOST, 'conntrack', ['-L', '-p', 'tcp', '--orig-dst', '169.254.169.254', '--dport', '80']);
      assert.match(tracked.stdout, /ESTABLISHED/, 'the tracker follows the client connection');
      const applied = inNs(HOST, CLI[0]!, [
        ...CLI.slice(1),
        'proxy',
        'redirect',
        '--apply',
        '--uid',
        String(PROXY_UID),
        ...LISTEN,
      ]);
      assert.match(applied.stderr, /ended 1 metadata connection/, applied.stderr);
      assert.match(applied.stderr, new RegExp(`node \\(pid ${child.pid}\\)`), applied.stderr);
      assert.match(applied.stderr, /deleted \d+ connection-tracking entr/);
      const exited = once(child, 'exit');
      child.stdin.write('go\n');
      await exited;
      // The old connection is gone: the request went through the proxy, which refuses it (the token was not issued
      // through the proxy, and node may not read credentials), and recorded it.
      assert.match(out, /second (?:401|403) /, out);
      const evs = await eventsOf(child.pid!, 1);
      assert.ok(
        evs.some((e) => e.http.path === '/latest/meta-data/iam/security-credentials/' && e.decision === 'deny'),
        JSON.stringify(evs),
      );
      assert.doesNotMatch(out, /AccessKeyId|fake-role/);
    } finally {
      child.kill('SIGKILL');
      inNs(HOST, 'nft', ['delete', 'table', 'inet', 'igp_tracker'], { allowFail: true });
    }
  });

  test('fail-closed: with the proxy down and the redirect in place, connections are refused', async () => {
    await stop(proxy);
    proxy = undefined;
    const c = await curl(HOST, ['http://169.254.169.254/latest/meta-data/']);
    assert.equal(c.code, 7, `curl exit 7 (connection refused), got ${c.code}: ${c.stderr}`);
  });

  test('redirect --remove deletes our table and nothing else', () => {
    inNs(HOST, 'nft', ['add', 'table', 'inet', 'someone_else']);
    inNs(HOST, CLI[0]!, [...CLI.slice(1), 'proxy', 'redirect', '--remove']);
    const rules = inNs(HOST, 'nft', ['list', 'tables']).stdout;
    assert.doesNotMatch(rules, /imdsguard_proxy/);
    assert.match(rules, /someone_else/);
    const direct = inNs(HOST, 'curl', ['-s', '-m', '5', 'http://169.254.169.254/latest/meta-data/instance-id']);
    assert.match(direct.stdout, /^i-0fake/, 'without the redirect, clients reach the service directly');
  });
});
