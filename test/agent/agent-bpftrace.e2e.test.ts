/**
 * End to end on the real kernel: the agent with the bpftrace sensor watches real clients (curl, wget, python3
 * urllib, node fetch; root and an unprivileged user; one inside a "container" namespace and cgroup) talk to the
 * fake metadata service inside namespaces this test creates, and reports who they were and what they asked.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  CI,
  createContainerCgroup,
  createNetns,
  deleteNetns,
  kernelRefusal,
  missingPrerequisite,
  type Netns,
  type RunningAgent,
  recordingArgs,
  removeCgroup,
  runIn,
  startAgent,
  startFakeInNetns,
  stopChild,
  uniqueName,
} from './netns.ts';

const missing = missingPrerequisite(['bpftrace', 'curl', 'wget', 'setpriv']);
if (missing && CI) throw new Error(`agent bpftrace e2e cannot run under CI: ${missing}`);
// Where the kernel itself refuses the sensor, the tests skip with its reason, under CI too.
const why = missing ?? kernelRefusal('bpftrace');

// biome-ignore lint/suspicious/noExplicitAny: parsed JSON records under test, checked by the assertions
type Rec = Record<string, any>;

describe('imdsguard agent --sensor bpftrace (real kernel, test namespaces)', { skip: why, timeout: 180_000 }, () => {
  let host: Netns;
  let ctr: Netns;
  const fakes: ChildProcess[] = [];
  let cgroup: { path: string; id: string } | undefined;
  let dir: string;
  let agent: RunningAgent | undefined;
  let records: Rec[] = [];
  let exitCode: number | null = null;
  const pids: Record<string, number> = {};

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'imdsguard-agent-e2e-'));
    host = createNetns(uniqueName('igag-host'));
    ctr = createNetns(uniqueName('igag-ctr'));
    fakes.push(await startFakeInNetns(host.name), await startFakeInNetns(ctr.name));
    cgroup = createContainerCgroup();
    const out = join(dir, 'out.jsonl');
    agent = startAgent(['--sensor', 'bpftrace', '--events', ...recordingArgs(out, dir), '--metrics-port', '0']);
    await agent.ready;

    const base = 'http://169.254.169.254/latest';
    // IMDSv1 credentials GET with curl, as root.
    pids.curlV1 = Number(
      runIn(host.name, `echo $$; exec curl -s -o /dev/null ${base}/meta-data/iam/security-credentials/`).trim(),
    );
    // IMDSv2 with curl from a shell script: token PUT, then credentials GET with the token (sibling processes).
    const seq = runIn(
      host.name,
      `echo $$; T=$(curl -s -X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 60' ${base}/api/token); curl -s -o /dev/null -H "X-aws-ec2-metadata-token: $T" ${base}/meta-data/iam/security-credentials/`,
    );
    pids.seqShell = Number(seq.trim().split('\n')[0]);
    pids.wget = Number(runIn(host.name, `echo $$; exec wget -q -O /dev/null ${base}/user-data`).trim());
    // python3 urllib over IPv6, as an unprivileged user.
    pids.python = Number(
      runIn(
        host.name,
        `echo $$; exec /usr/bin/python3 -c "import urllib.request as u; u.urlopen('http://[fd00:ec2::254]/latest/meta-data/').read()"`,
        {
          uid: 65534,
        },
      ).trim(),
    );
    // node fetch doing IMDSv2 in one process (one keep-alive socket, two requests).
    pids.node = Number(
      runIn(
        host.name,
        `echo $$; exec ${process.execPath} -e "const b='${base}';fetch(b+'/api/token',{method:'PUT',headers:{'X-aws-ec2-metadata-token-ttl-seconds':'60'}}).then(r=>r.text()).then(t=>fetch(b+'/meta-data/iam/security-credentials/',{headers:{'X-aws-ec2-metadata-token':t}})).then(r=>r.text())"`,
      ).trim(),
    );
    // curl as an unprivileged user, IMDSv1.
    pids.curlNobody = Number(
      runIn(host.name, `echo $$; exec curl -s -o /dev/null ${base}/meta-data/`, { uid: 65534 }).trim(),
    );
    // The ECS credentials endpoint.
    pids.ecs = Number(
      runIn(host.name, 'echo $$; exec curl -s -o /dev/null http://169.254.170.2/v2/credentials/test-task-role').trim(),
    );
    // A "container": its own namespace and a Docker-shaped cgroup.
    pids.ctrCurl = Number(
      runIn(
        ctr.name,
        `echo $$; exec curl -s -o /dev/null ${base}/meta-data/iam/security-credentials/`,
        cgroup ? { cgroup: cgroup.path } : {},
      ).trim(),
    );

    // Give the pipeline its reorder window, then stop the agent the way systemd does.
    await new Promise((r) => setTimeout(r, 1500));
    exitCode = await stopChild(agent.child, 'SIGTERM', 20_000);
    records = (await readFile(out, 'utf8'))
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Rec);
  });

  after(async () => {
    await stopChild(agent?.child, 'SIGKILL');
    for (const f of fakes) await stopChild(f, 'SIGKILL');
    if (host) deleteNetns(host.name);
    if (ctr) deleteNetns(ctr.name);
    if (cgroup) removeCgroup(cgroup.path);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const events = () => records.filter((r) => r.type === 'event');
  const findings = () => records.filter((r) => r.type === 'finding');
  const eventOf = (pid: number, method?: string) =>
    events().find((e) => e.process.pid === pid && (!method || e.http?.method === method));

  it('exits 0 on SIGTERM and writes one JSON object per line', () => {
    assert.equal(exitCode, 0, agent?.logs.join('\n'));
    assert.ok(records.length > 0);
    assert.ok(agent?.logs.some((l) => l.includes('"using sensor bpftrace')));
  });

  it('attributes an IMDSv1 curl: pid, exe, argv, uid, user, netns, method, path, no token, version 1', () => {
    const e = eventOf(pids.curlV1 as number);
    assert.ok(
      e,
      `no event for curl pid ${pids.curlV1}: ${JSON.stringify(events().map((x) => [x.process.pid, x.process.exe, x.http?.path]))}`,
    );
    assert.equal(e.process.exe, '/usr/bin/curl');
    assert.equal(e.process.argv[0], 'curl');
    assert.equal(e.process.uid, 0);
    assert.equal(e.process.user, 'root');
    assert.equal(e.process.netns, host.inode);
    assert.equal(e.process.container, undefined);
    assert.deepEqual(e.destination, { ip: '169.254.169.254', port: 80 });
    assert.equal(e.http.method, 'GET');
    assert.equal(e.http.path, '/latest/meta-data/iam/security-credentials/');
    assert.equal(e.http.token, false);
    assert.equal(e.imds_version, 1);
    const v1 = findings().find((f) => f.rule.id === 'imds-v1-use' && f.process.pid === pids.curlV1);
    assert.ok(v1, 'IMDSv1 finding');
    assert.equal(v1.severity, 'high');
    assert.equal(v1.origin.sensor, 'bpftrace');
    assert.equal(v1.imds_version, 1);
  });

  it('sees the IMDSv2 sequence from a script: token PUT, then a credentials GET with the token, and the time between', () => {
    const siblings = events().filter((e) => e.process.ppid === pids.seqShell);
    const put = siblings.find((e) => e.http?.method === 'PUT');
    const get = siblings.find((e) => e.http?.method === 'GET');
    assert.ok(put && get, JSON.stringify(siblings));
    assert.equal(put.http.path, '/latest/api/token');
    assert.equal(put.imds_version, 2);
    assert.equal(get.http.token, true);
    assert.equal(get.imds_version, 2);
    // The token value never reaches the output (it was in argv and in the request bytes).
    assert.ok(get.process.argv.includes('X-aws-ec2-metadata-token: ****'), JSON.stringify(get.process.argv));
    assert.ok(!JSON.stringify(records).includes('AQAEA'), 'a token value leaked into the output');
    const seq = findings().find(
      (f) => f.rule.id === 'imds-v2-credentials-sequence' && f.process.pid === get.process.pid,
    );
    assert.ok(seq, 'sequence finding');
    assert.equal(seq.evidence.token_pid, put.process.pid);
    assert.ok(seq.evidence.seconds_between >= 0 && seq.evidence.seconds_between < 10);
    assert.ok(!findings().some((f) => f.rule.id === 'imds-v1-use' && f.process.ppid === pids.seqShell));
  });

  it('attributes wget, python3 over IPv6 as an unprivileged user, and node fetch doing IMDSv2 in one process', () => {
    const w = eventOf(pids.wget as number);
    assert.equal(w?.process.exe, '/usr/bin/wget');
    assert.equal(w?.http.path, '/latest/user-data');
    assert.equal(w?.imds_version, 1);

    const p = eventOf(pids.python as number);
    assert.ok(p, 'python3 event');
    assert.match(p.process.exe, /python3/);
    assert.equal(p.process.uid, 65534);
    assert.equal(p.destination.ip, 'fd00:ec2::254');
    assert.equal(p.http.path, '/latest/meta-data/');
    assert.equal(p.http.token, false);

    const put = eventOf(pids.node as number, 'PUT');
    const get = eventOf(pids.node as number, 'GET');
    assert.ok(put && get, 'node fetch PUT and GET');
    assert.equal(get.process.exe, process.execPath);
    assert.equal(get.http.token, true);
    const seq = findings().find((f) => f.rule.id === 'imds-v2-credentials-sequence' && f.process.pid === pids.node);
    assert.equal(seq?.evidence.same_process, true);

    const n = eventOf(pids.curlNobody as number);
    assert.equal(n?.process.uid, 65534);
    assert.equal(n?.process.user, 'nobody');
  });

  it('covers the ECS credentials endpoint too', () => {
    const e = eventOf(pids.ecs as number);
    assert.ok(e, 'ECS event');
    assert.deepEqual(e.destination, { ip: '169.254.170.2', port: 80 });
    assert.equal(e.provider, 'aws');
    assert.equal(e.path_class, 'credentials');
    assert.equal(e.http.path, '/v2/credentials/test-task-role');
  });

  it('attributes the client in the container namespace and cgroup, and raises the unusual-caller severity', () => {
    const e = eventOf(pids.ctrCurl as number);
    assert.ok(e, 'container curl event');
    assert.equal(e.process.netns, ctr.inode);
    assert.notEqual(ctr.inode, host.inode);
    if (cgroup) {
      assert.equal(e.process.container, cgroup.id);
      assert.equal(e.process.container_runtime, 'docker');
    }
    const f = findings().find((x) => x.rule.id === 'imds-unusual-caller' && x.process.pid === pids.ctrCurl);
    assert.ok(f, 'unusual caller finding');
    assert.equal(f.severity, cgroup ? 'critical' : 'high');
    assert.ok(f.evidence.traits.includes('http-tool'));
  });
});
