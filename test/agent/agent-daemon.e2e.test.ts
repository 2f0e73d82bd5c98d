/**
 * Daemon behaviour on the real kernel (bpftrace sensor): /healthz and /metrics on loopback, SIGHUP reloads the
 * allowlist, bpftrace dying is survived (restart with backoff), a flood is absorbed with drop counters instead of
 * memory growth (bursts are covered by the unit tests: here most flood events are dropped on purpose), and the
 * baseline survives a restart of the agent.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  CI,
  createNetns,
  deleteNetns,
  have,
  kernelRefusal,
  missingPrerequisite,
  type Netns,
  type RunningAgent,
  recordingArgs,
  runIn,
  startAgent,
  startFakeInNetns,
  stopChild,
  uniqueName,
} from './netns.ts';

const missing = missingPrerequisite(['bpftrace', 'curl', 'wget', 'wrk', 'setpriv']);
if (missing && CI) throw new Error(`agent daemon e2e cannot run under CI: ${missing}`);
// Where the kernel itself refuses the sensor, the tests skip with its reason, under CI too.
const why = missing ?? kernelRefusal('bpftrace');

// biome-ignore lint/suspicious/noExplicitAny: parsed JSON records under test, checked by the assertions
type Rec = Record<string, any>;

// One connection per request (`agent: false`). Node's global agent keeps sockets alive, and this test blocks its
// event loop for seconds in spawnSync (wrk, curl): meanwhile the daemon closes the idle connection after its 5 s
// keep-alive timeout, the FIN is not read yet, and the next request goes out on the dead socket ("socket hang up").
// That race is the client's (a scraper retries it); it said nothing about the daemon.
function get(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        body += c;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

async function until(pred: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await pred()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

const records = async (file: string): Promise<Rec[]> =>
  (await readFile(file, 'utf8').catch(() => ''))
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Rec);

const metricValue = (text: string, name: string): number =>
  Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text)?.[1] ?? Number.NaN);

describe('imdsguard agent as a daemon (bpftrace sensor)', { skip: why, timeout: 240_000 }, () => {
  let ns: Netns;
  let fake: ChildProcess | undefined;
  let dir: string;
  let agent: RunningAgent | undefined;
  const base = 'http://169.254.169.254/latest';

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'imdsguard-agent-daemon-'));
    ns = createNetns(uniqueName('igad'));
    fake = await startFakeInNetns(ns.name);
  });

  after(async () => {
    await stopChild(agent?.child, 'SIGKILL');
    await stopChild(fake, 'SIGKILL');
    if (ns) deleteNetns(ns.name);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('serves /healthz and /metrics, reloads the allowlist on SIGHUP, survives bpftrace dying, and absorbs a flood', async () => {
    const allow = join(dir, 'allow.yaml');
    await writeFile(allow, 'callers:\n  - name: nothing yet\n    exe: /nonexistent\n');
    const out = join(dir, 'out.jsonl');
    // No --sensor: the agent picks bpftrace itself on this machine and says why.
    agent = startAgent([...recordingArgs(out, dir), '--metrics-port', '0', '--allowlist', allow, '--queue-max', '5']);
    await agent.ready;
    const portLine = agent.logs.find((l) => l.includes('metrics and health'));
    const port = Number(JSON.parse(portLine ?? '{}').port);
    assert.ok(port > 0, 'metrics port logged');

    const health = await get(port, '/healthz');
    assert.equal(health.status, 200);
    assert.equal(JSON.parse(health.body).sensor, 'bpftrace');

    // Before the reload, wget reading credentials is unusual.
    runIn(ns.name, `exec wget -q -O /dev/null ${base}/meta-data/iam/security-credentials/`);
    await until(
      async () =>
        (await records(out)).some((r) => r.rule?.id === 'imds-unusual-caller' && r.process.exe === '/usr/bin/wget'),
      10_000,
      'wget finding',
    );
    // Allow curl for user nobody, reload, and check curl as nobody is quiet while curl as root is not.
    await writeFile(allow, 'callers:\n  - name: health probe\n    exe: curl\n    user: nobody\n');
    agent.child.kill('SIGHUP');
    await until(() => agent?.logs.some((l) => l.includes('allowlist reloaded')) ?? false, 10_000, 'reload log');
    const nobodyPid = Number(
      runIn(ns.name, `echo $$; exec curl -s -o /dev/null ${base}/meta-data/iam/security-credentials/`, {
        uid: 65534,
      }).trim(),
    );
    const rootPid = Number(
      runIn(ns.name, `echo $$; exec curl -s -o /dev/null ${base}/meta-data/iam/security-credentials/`).trim(),
    );
    await until(
      async () => (await records(out)).some((r) => r.rule?.id === 'imds-unusual-caller' && r.process.pid === rootPid),
      10_000,
      'root curl finding',
    );
    const recs = await records(out);
    assert.ok(
      !recs.some((r) => r.rule?.id === 'imds-unusual-caller' && r.process.pid === nobodyPid),
      'allowlisted caller was reported',
    );
    assert.ok(
      recs.some((r) => r.rule?.id === 'imds-v1-use' && r.process.pid === nobodyPid),
      'the allowlist does not hide IMDSv1 use',
    );

    // bpftrace dies: the agent says so, restarts it, and sees requests again.
    const attached = agent.logs.find((l) => l.includes('bpftrace probes attached'));
    const btPid = Number(JSON.parse(attached ?? '{}').pid);
    assert.ok(btPid > 0);
    process.kill(btPid, 'SIGKILL');
    await until(
      () => agent?.logs.some((l) => l.includes('bpftrace exited') && l.includes('restarting in')) ?? false,
      10_000,
      'restart log',
    );
    await until(
      () => (agent?.logs.filter((l) => l.includes('bpftrace probes attached')).length ?? 0) >= 2,
      60_000,
      'reattach',
    );
    const afterPid = Number(runIn(ns.name, `echo $$; exec curl -s -o /dev/null ${base}/meta-data/instance-id`).trim());
    await until(
      async () => (await records(out)).some((r) => r.process?.pid === afterPid),
      10_000,
      'finding after restart',
    );

    // A flood: wrk with keep-alive for 3 s against the fake service; the queue is bounded at 5, so events are dropped
    // and counted, and the agent keeps running.
    if (have('wrk')) {
      runIn(ns.name, `exec wrk -t1 -c4 -d3s ${base}/meta-data/iam/security-credentials/`);
      const metrics = (await get(port, '/metrics')).body;
      const seen = metricValue(metrics, 'imdsguard_events_total');
      const dropped = metricValue(metrics, 'imdsguard_events_dropped_total');
      assert.ok(seen > 0, metrics);
      assert.ok(dropped > 0, `dropped ${dropped}`);
      assert.ok(Number.isFinite(metricValue(metrics, 'imdsguard_process_resident_memory_bytes')));
      const health2 = JSON.parse((await get(port, '/healthz')).body);
      assert.equal(health2.restarts, 1);
      assert.ok(health2.events > 50, JSON.stringify(health2));
    }
    assert.equal(await stopChild(agent.child, 'SIGTERM', 20_000), 0, agent.logs.slice(-5).join('\n'));
  });

  it('keeps the baseline across restarts (and picks bpftrace by itself): a caller seen before is not unusual after restart', async () => {
    // The baseline is the one the first test's agent saved when it stopped.
    const saved = await readFile(join(dir, 'state', 'baseline.json'), 'utf8').catch((e: unknown) => {
      throw new Error(`no baseline saved by the first test's agent (did it fail?): ${String(e)}`);
    });
    const state = JSON.parse(saved);
    assert.ok(
      Object.keys(state.entries).some((k) => k.startsWith('/usr/bin/wget|root|host|credentials')),
      Object.keys(state.entries).join('\n'),
    );
    const out = join(dir, 'out2.jsonl');
    // No --sensor: the agent picks bpftrace itself on this machine and says why.
    agent = startAgent(['--format', 'jsonl', '-o', out, '--state', join(dir, 'state'), '--warmup', '0']);
    await agent.ready;
    assert.ok(agent.logs.some((l) => l.includes('using sensor bpftrace: root and bpftrace present (preferred)')));
    const w = Number(
      runIn(ns.name, `echo $$; exec wget -q -O /dev/null ${base}/meta-data/iam/security-credentials/`).trim(),
    );
    await until(async () => (await records(out)).some((r) => r.process?.pid === w), 10_000, 'wget v1 finding');
    assert.equal(await stopChild(agent.child, 'SIGTERM', 20_000), 0);
    const recs = await records(out);
    assert.ok(recs.some((r) => r.rule.id === 'imds-v1-use' && r.process.pid === w));
    assert.ok(!recs.some((r) => r.rule.id === 'imds-unusual-caller' && r.process.pid === w));
  });
});
