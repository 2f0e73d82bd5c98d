/**
 * End to end with the auditd sensor: the agent installs its connect rules, follows the real audit log, and reports
 * connections to the fake metadata service made by real clients inside namespaces this test creates. Audit records
 * carry no payload and no namespace, so the assertions are the connection-level ones: pid, exe, argv, uid,
 * destination. Everything started here (auditd included, when it was not running) is stopped afterwards.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
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
  type RunningAgent,
  recordingArgs,
  runIn,
  sh,
  startAgent,
  startFakeInNetns,
  stopChild,
  uniqueName,
} from './netns.ts';

const missing = missingPrerequisite(['auditd', 'auditctl', 'curl', 'setpriv']);
if (missing && CI) throw new Error(`agent auditd e2e cannot run under CI: ${missing}`);
// Where the kernel itself refuses the sensor, the tests skip with its reason, under CI too.
const why = missing ?? kernelRefusal('auditd');

// biome-ignore lint/suspicious/noExplicitAny: parsed JSON records under test, checked by the assertions
type Rec = Record<string, any>;

/** The log the agent follows (its --audit-log default). */
const AUDIT_LOG = '/var/log/audit/audit.log';

function auditStatus(): { enabled: number; pid: number; backlogLimit: number } {
  const out = sh('auditctl', ['-s']).out;
  const field = (name: string) => Number(new RegExp(`^${name} (\\d+)`, 'm').exec(out)?.[1] ?? 0);
  return { enabled: field('enabled'), pid: field('pid'), backlogLimit: field('backlog_limit') };
}

describe('imdsguard agent --sensor auditd (real audit log, test namespaces)', { skip: why, timeout: 180_000 }, () => {
  let host: Netns;
  let ctr: Netns;
  const fakes: ChildProcess[] = [];
  let dir: string;
  let agent: RunningAgent | undefined;
  let records: Rec[] = [];
  let exitCode: number | null = null;
  let initial: ReturnType<typeof auditStatus> | undefined;
  let backlogAtStart = 0;
  let startedAuditd = 0;
  let rulesAfter = '';
  let diagnosis = '';
  const pids: Record<string, number> = {};
  const retries: string[] = [];

  /**
   * Runs a client in a namespace and returns its pid once auditd has logged its connect. What the kernel or auditd
   * never logs is out of the agent's reach (the agent counts the kernel's losses, and its sensor test covers that): a
   * client whose connect is not in the audit log within 5 s is run again, at most three times, and each retry is
   * told in a failure's message. The assertions then hold the agent to every connect auditd did log.
   */
  async function client(ns: string, command: string, opts: { uid?: number } = {}): Promise<number> {
    for (let attempt = 1; attempt <= 3; attempt++) {
      const pid = Number(runIn(ns, `echo $$; ${command}`, opts).trim());
      const logged = new RegExp(`type=SYSCALL .*syscall=(42|connect) .* pid=${pid} `);
      const deadline = Date.now() + 5_000;
      while (Date.now() < deadline) {
        const text = await readFile(AUDIT_LOG, 'utf8').catch(() => '');
        if (text.split('\n').some((l) => logged.test(l))) return pid;
        await new Promise((r) => setTimeout(r, 100));
      }
      retries.push(`attempt ${attempt} of \`${command}\` (pid ${pid}): its connect is not in ${AUDIT_LOG} after 5 s`);
    }
    throw new Error(
      `auditd logged no connect of \`${command}\` in 3 attempts:\n${retries.join('\n')}\n${sh('auditctl', ['-s']).out}`,
    );
  }

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'imdsguard-agent-audit-'));
    initial = auditStatus();
    if (initial.pid === 0) {
      // Not running (a fresh Debian install does not start it without systemd): start it for this test only.
      sh('/usr/sbin/auditd', []);
      for (let i = 0; i < 50 && auditStatus().pid === 0; i++) await new Promise((r) => setTimeout(r, 100));
      startedAuditd = auditStatus().pid;
      assert.ok(startedAuditd > 0, 'auditd did not start');
    }
    backlogAtStart = auditStatus().backlogLimit;
    host = createNetns(uniqueName('igau-host'));
    ctr = createNetns(uniqueName('igau-ctr'));
    fakes.push(await startFakeInNetns(host.name), await startFakeInNetns(ctr.name));
    const out = join(dir, 'out.jsonl');
    agent = startAgent(['--sensor', 'auditd', '--audit-rule', '--events', ...recordingArgs(out, dir)]);
    await agent.ready;
    // The agent has read the backlog (and warned of a small one); from here the test measures attribution, not the
    // kernel's queue, so the queue gets the size Debian's audit.rules gives it. Restored afterwards.
    if (backlogAtStart < 8192) sh('auditctl', ['-b', '8192']);

    const base = 'http://169.254.169.254/latest';
    pids.curl = await client(host.name, `exec curl -s -o /dev/null ${base}/meta-data/iam/security-credentials/`);
    pids.nobody = await client(host.name, `exec curl -s -o /dev/null ${base}/meta-data/`, { uid: 65534 });
    pids.python = await client(
      host.name,
      `exec /usr/bin/python3 -c "import urllib.request as u; u.urlopen('http://[fd00:ec2::254]/latest/meta-data/').read()"`,
    );
    pids.ctr = await client(ctr.name, `exec curl -s -o /dev/null ${base}/user-data`);

    // The log is polled every 100 ms; leave time for every client's records, then stop as systemd would.
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      const text = await readFile(out, 'utf8').catch(() => '');
      if (Object.values(pids).every((pid) => text.includes(`"pid":${pid},`))) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    exitCode = await stopChild(agent.child, 'SIGTERM', 20_000);
    rulesAfter = sh('auditctl', ['-l']).out;
    // What the kernel and auditd did, for a failure's message: status (lost records) and the clients' own records.
    const logged = await readFile(AUDIT_LOG, 'utf8').catch((e: Error) => e.message);
    diagnosis = [
      `pids ${JSON.stringify(pids)}`,
      ...retries,
      sh('auditctl', ['-s']).out,
      ...logged.split('\n').filter((l) => Object.values(pids).some((pid) => l.includes(` pid=${pid} `))),
      ...(agent.logs ?? []),
    ].join('\n');
    records = (await readFile(out, 'utf8'))
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Rec);
  });

  after(async () => {
    await stopChild(agent?.child, 'SIGKILL');
    // Whatever happened, leave no rule of ours behind.
    for (const fam of ['2', '10']) {
      sh(
        'auditctl',
        ['-d', 'always,exit', '-F', 'arch=b64', '-S', 'connect', '-F', `saddr_fam=${fam}`, '-F', 'key=imdsguard'],
        { allowFail: true },
      );
    }
    if (backlogAtStart > 0) sh('auditctl', ['-b', String(backlogAtStart)], { allowFail: true });
    if (startedAuditd > 0) {
      try {
        process.kill(startedAuditd, 'SIGTERM');
      } catch {}
      for (let i = 0; i < 50 && auditStatus().pid !== 0; i++) await new Promise((r) => setTimeout(r, 100));
      sh('auditctl', ['-e', String(initial?.enabled ?? 0)], { allowFail: true });
    }
    for (const f of fakes) await stopChild(f, 'SIGKILL');
    if (host) deleteNetns(host.name);
    if (ctr) deleteNetns(ctr.name);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const eventOf = (pid: number) => records.find((r) => r.type === 'event' && r.process.pid === pid);

  it('exits 0 on SIGTERM and removes the audit rules it installed', () => {
    assert.equal(exitCode, 0, agent?.logs.join('\n'));
    assert.ok(agent?.logs.some((l) => l.includes('installed audit rules')));
    assert.doesNotMatch(rulesAfter, /imdsguard/);
  });

  it('says what it cannot see', () => {
    assert.ok(agent?.logs.some((l) => l.includes('"using sensor auditd') && l.includes('no method, path or token')));
    // A small kernel backlog loses records in a burst of connects: the agent says so when it starts.
    const warned = agent?.logs.some((l) => l.includes("the kernel's audit backlog holds"));
    assert.equal(warned, backlogAtStart < 8192, `backlog_limit ${backlogAtStart}`);
  });

  it('attributes connections: pid, exe, argv, uid, user and destination (IPv4 and IPv6), and no request fields', () => {
    const c = eventOf(pids.curl as number);
    assert.ok(
      c,
      `no event for curl ${pids.curl}: ${JSON.stringify(records.map((r) => [r.type, r.process?.pid, r.process?.exe]))}\n${diagnosis}`,
    );
    assert.equal(c.sensor, 'auditd');
    assert.equal(c.process.exe, '/usr/bin/curl');
    assert.deepEqual(c.process.argv, [
      'curl',
      '-s',
      '-o',
      '/dev/null',
      'http://169.254.169.254/latest/meta-data/iam/security-credentials/',
    ]);
    assert.equal(c.process.uid, 0);
    assert.equal(c.process.user, 'root');
    assert.deepEqual(c.destination, { ip: '169.254.169.254', port: 80 });
    assert.equal(c.http, undefined);
    assert.equal(c.imds_version, undefined);

    const n = eventOf(pids.nobody as number);
    assert.equal(n?.process.uid, 65534, diagnosis);
    assert.equal(n?.process.user, 'nobody');

    const p = eventOf(pids.python as number);
    assert.match(p?.process.exe ?? '', /python3/);
    assert.deepEqual(p?.destination, { ip: 'fd00:ec2::254', port: 80 }, diagnosis);

    const k = eventOf(pids.ctr as number);
    assert.equal(k?.process.exe, '/usr/bin/curl', diagnosis);
  });

  it('reports unexpected callers at connection level', () => {
    const f = records.find(
      (r) => r.type === 'finding' && r.rule.id === 'imds-unusual-caller' && r.process.pid === pids.curl,
    );
    assert.ok(f, `unusual caller finding for curl\n${diagnosis}`);
    assert.equal(f.origin.sensor, 'auditd');
    assert.equal(f.severity, 'medium');
    assert.match(f.title, /connected to the metadata service/);
    assert.ok(
      !records.some((r) => r.type === 'finding' && r.rule.id === 'imds-v1-use'),
      'auditd cannot tell v1 from v2',
    );
  });
});
