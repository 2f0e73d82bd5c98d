/**
 * End to end on the real kernel: a small C program (compiled here with the machine's gcc, liburing from Debian)
 * reaches the fake metadata service inside a test namespace in every way that hid requests from a sensor built on
 * connect() and the first write: TCP Fast Open, io_uring, a sockaddr and request in an untouched file-backed page,
 * a connection opened before the agent, a 1-byte first write, writev and sendmsg with several buffers, a forked
 * writer, a dup()ed descriptor, sendfile, and a token header past byte 400. Each must give an event with pid, exe,
 * uid and destination, and the method, path and token wherever tracepoints can read them.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  CI,
  createNetns,
  deleteNetns,
  kernelRefusal,
  missingPrerequisite,
  type Netns,
  REPO,
  type RunningAgent,
  recordingArgs,
  runIn,
  sh,
  startAgent,
  startFakeInNetns,
  stopChild,
  uniqueName,
  waitForLine,
} from './netns.ts';

const missing =
  missingPrerequisite(['bpftrace', 'gcc']) ??
  (sh('sh', ['-c', 'test -e /usr/include/liburing.h'], { allowFail: true }).code !== 0
    ? 'needs liburing-dev (bash .ci/run installs it)'
    : undefined);
if (missing && CI) throw new Error(`agent techniques e2e cannot run under CI: ${missing}`);
const why = missing ?? kernelRefusal('bpftrace');

// biome-ignore lint/suspicious/noExplicitAny: parsed JSON records under test, checked by the assertions
type Rec = Record<string, any>;

const PATH = '/latest/meta-data/iam/security-credentials/';
const TOKEN = 'AQAEAtechniquesfaketoken==';
const TECHNIQUES = [
  'connect',
  'tfo',
  'iouring',
  'mmap',
  'split1',
  'writev2',
  'sendmsg3',
  'fork',
  'dup',
  'sendfile',
  'token400',
] as const;

describe('imdsguard agent: every way of reaching the metadata service (real kernel, test namespace)', {
  skip: why,
  timeout: 240_000,
}, () => {
  let ns: Netns;
  let fake: ChildProcess | undefined;
  let pre: ChildProcess | undefined;
  let dir: string;
  let bin: string;
  let agent: RunningAgent | undefined;
  let records: Rec[] = [];
  let agentStats = '';
  const pids: Record<string, number> = {};

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'imdsguard-techniques-'));
    bin = join(dir, 'imds-techniques');
    sh('gcc', ['-O1', '-Wall', '-o', bin, join(REPO, 'test/agent/imds-techniques.c'), '-luring'], {
      timeoutMs: 60_000,
    });
    ns = createNetns(uniqueName('igag-tech'));
    fake = await startFakeInNetns(ns.name);
    // A connection opened before the agent attaches; the request is written once the agent is ready.
    pre = spawn('ip', ['netns', 'exec', ns.name, bin, 'preexisting', PATH], { stdio: ['pipe', 'pipe', 'inherit'] });
    await waitForLine(pre.stdout as NodeJS.ReadableStream, (l) => l === 'connected', 20_000, 'the early connection');
    pids.preexisting = pre.pid as number;

    const out = join(dir, 'out.jsonl');
    agent = startAgent(['--sensor', 'bpftrace', '--events', ...recordingArgs(out, dir)]);
    await agent.ready;
    pre.stdin?.write('go\n');
    for (const t of TECHNIQUES) {
      const token = t === 'token400' || t === 'writev2' ? TOKEN : '';
      pids[t] = Number(runIn(ns.name, `echo $$; IMDS_TOKEN=${token} exec ${bin} ${t} ${PATH} > /dev/null`).trim());
    }
    // bpftrace dies: after its restart the connection still open is listed again.
    const attached = agent.logs.map((l) => JSON.parse(l) as Rec).find((l) => l.msg === 'bpftrace probes attached');
    process.kill(attached?.pid as number, 'SIGKILL');
    const listed = () => agent?.logs.filter((l) => l.includes('metadata connections open at attach')).length ?? 0;
    const deadline = Date.now() + 60_000;
    while (listed() < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
    await new Promise((r) => setTimeout(r, 1500));
    pre.stdin?.end();
    const code = await stopChild(agent.child, 'SIGTERM', 60_000);
    assert.equal(code, 0, `agent exit ${code}; logs:\n${agent.logs.join('\n')}`);
    agentStats = agent.logs.filter((l) => /stat|lost|drop|exited/.test(l)).join('\n');
    records = (await readFile(out, 'utf8'))
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Rec);
  });

  after(async () => {
    await stopChild(agent?.child, 'SIGKILL');
    await stopChild(pre, 'SIGKILL');
    await stopChild(fake, 'SIGKILL');
    if (ns) deleteNetns(ns.name);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const events = () => records.filter((r) => r.type === 'event');
  const eventOf = (pid: number) => events().find((e) => e.process.pid === pid || e.opened_by?.pid === pid);
  const seen = () => JSON.stringify(events().map((e) => [e.process.pid, e.http?.path, e.capture, e.capture_gap]));

  /** An event with the process and destination, and the request read whole. */
  function assertFull(t: string, token: boolean): Rec {
    const e = eventOf(pids[t] as number);
    assert.ok(e, `${t}: no event for pid ${pids[t]}: ${seen()}`);
    // A failure names the technique and shows every record of its process and the sensor's counters.
    const m = `${t}: ${JSON.stringify(records.filter((r) => r.process?.pid === pids[t] || r.opened_by?.pid === pids[t]))}\n${agentStats}`;
    assert.equal(e.process.exe, bin, m);
    assert.equal(e.process.uid, 0, m);
    assert.equal(e.process.netns, ns.inode, m);
    assert.deepEqual(e.destination, { ip: '169.254.169.254', port: 80 }, m);
    assert.equal(e.http?.method, 'GET', m);
    assert.equal(e.http?.path, PATH, m);
    assert.equal(e.http?.token, token, m);
    assert.equal(e.imds_version, token ? 2 : 1, m);
    assert.equal(e.capture, 'full', m);
    return e;
  }

  it('sees connect+write, TCP Fast Open, io_uring and a request in an untouched file-backed page, request included', () => {
    for (const t of ['connect', 'tfo', 'iouring', 'mmap']) assertFull(t, false);
  });

  it('puts split writes, writev, sendmsg iovecs and a dup()ed descriptor back together', () => {
    for (const t of ['split1', 'sendmsg3', 'dup']) assertFull(t, false);
    assertFull('writev2', true);
  });

  it('attributes a forked writer, naming the process that opened the connection', () => {
    const e = eventOf(pids.fork as number);
    assert.ok(e, seen());
    assert.notEqual(e.process.pid, pids.fork);
    assert.equal(e.opened_by.pid, pids.fork);
    assert.equal(e.process.exe, bin);
    assert.equal(e.http.path, PATH);
    assert.equal(e.capture, 'full');
  });

  it('reads a token header past byte 400 as IMDSv2, with no IMDSv1 finding', () => {
    assertFull('token400', true);
    assert.ok(
      !records.some((r) => r.type === 'finding' && r.rule.id === 'imds-v1-use' && r.process.pid === pids.token400),
    );
    assert.ok(!JSON.stringify(records).includes(TOKEN), 'a token value leaked into the output');
  });

  it('reports sendfile as a connection whose request is out of reach: version unknown, capture partial, no v1 finding', () => {
    const e = eventOf(pids.sendfile as number);
    assert.ok(e, seen());
    assert.equal(e.process.exe, bin);
    assert.equal(e.http, undefined);
    assert.equal(e.imds_version, 'unknown');
    assert.equal(e.capture, 'partial');
    assert.match(e.capture_gap, /sendfile/);
    assert.ok(
      !records.some((r) => r.type === 'finding' && r.rule.id === 'imds-v1-use' && r.process.pid === pids.sendfile),
    );
  });

  it('lists a connection open at attach with its owner, at start and again after bpftrace restarts', () => {
    const listed = events().filter((x) => x.process.pid === pids.preexisting && !x.http);
    assert.equal(listed.length, 2, seen());
    for (const e of listed) {
      assert.equal(e.connection, 'pre-existing');
      assert.equal(e.process.exe, bin);
      assert.equal(e.process.uid, 0);
      assert.equal(e.process.netns, ns.inode);
      assert.deepEqual(e.destination, { ip: '169.254.169.254', port: 80 });
      assert.equal(e.capture, 'partial');
      assert.equal(e.imds_version, 'unknown');
    }
    assert.ok(agent?.logs.some((l) => l.includes('bpftrace exited')));
  });

  it('reports a connection opened before the agent attached as pre-existing, with its owner and request', () => {
    const e = events().find((x) => x.process.pid === pids.preexisting && x.http);
    assert.ok(e, seen());
    assert.equal(e.connection, 'pre-existing');
    assert.equal(e.process.exe, bin);
    assert.equal(e.http.path, PATH);
  });
});
