/**
 * The procfs fallback on the real kernel: a client that holds its connection open inside a test namespace is
 * found by polling /proc/<pid>/net/tcp per namespace and attributed through /proc/<pid>/fd.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  CI,
  createNetns,
  deleteNetns,
  missingPrerequisite,
  type Netns,
  type RunningAgent,
  recordingArgs,
  startAgent,
  startFakeInNetns,
  stopChild,
  uniqueName,
} from './netns.ts';

const why = missingPrerequisite([]);
if (why && CI) throw new Error(`agent procfs e2e cannot run under CI: ${why}`);

// biome-ignore lint/suspicious/noExplicitAny: parsed JSON records under test, checked by the assertions
type Rec = Record<string, any>;

describe('imdsguard agent --sensor procfs (polling, test namespace)', { skip: why, timeout: 120_000 }, () => {
  let ns: Netns;
  let fake: ChildProcess | undefined;
  let holder: ChildProcess | undefined;
  let dir: string;
  let agent: RunningAgent | undefined;
  let records: Rec[] = [];
  let sigintCode: number | null = null;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'imdsguard-agent-procfs-'));
    ns = createNetns(uniqueName('igap'));
    fake = await startFakeInNetns(ns.name);
    const out = join(dir, 'out.jsonl');
    agent = startAgent(['--sensor', 'procfs', '--procfs-interval', '50', '--events', ...recordingArgs(out, dir)]);
    await agent.ready;
    // A client that keeps its socket to the metadata address open for two seconds.
    holder = spawn(
      'ip',
      [
        'netns',
        'exec',
        ns.name,
        '/usr/bin/python3',
        '-c',
        "import socket,time; s=socket.create_connection(('169.254.169.254',80)); time.sleep(2)",
      ],
      { stdio: 'ignore' },
    );
    await new Promise<void>((resolve) => holder?.once('exit', () => resolve()));
    // Ctrl-C: a clean stop (records flushed), exit code 130.
    sigintCode = await stopChild(agent.child, 'SIGINT', 20_000);
    records = (await readFile(out, 'utf8'))
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Rec);
  });

  after(async () => {
    await stopChild(holder, 'SIGKILL');
    await stopChild(agent?.child, 'SIGKILL');
    await stopChild(fake, 'SIGKILL');
    if (ns) deleteNetns(ns.name);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('finds the open connection, its process and namespace, and says what it cannot see', () => {
    const e = records.find((r) => r.type === 'event' && r.process.pid === holder?.pid);
    assert.ok(e, JSON.stringify(records));
    assert.equal(e.sensor, 'procfs');
    assert.match(e.process.exe, /python3/);
    assert.equal(e.process.netns, ns.inode);
    assert.equal(e.process.uid, 0);
    assert.deepEqual(e.destination, { ip: '169.254.169.254', port: 80 });
    assert.equal(e.http, undefined);
    assert.equal(
      records.filter((r) => r.type === 'event' && r.process.pid === holder?.pid).length,
      1,
      'reported once per socket',
    );
    assert.ok(agent?.logs.some((l) => l.includes('short connections can be missed')));
    assert.equal(sigintCode, 130);
    assert.ok(agent?.logs.some((l) => l.includes('agent stopped')));
  });

  it('with --duration exits 1 when a finding reaches --fail-on, and 0 when nothing does', async () => {
    const run = (failOn: string) =>
      new Promise<{ code: number | null; out: string }>((resolve) => {
        const a = startAgent([
          '--sensor',
          'procfs',
          '--procfs-interval',
          '50',
          '--duration',
          '3',
          '--fail-on',
          failOn,
          '--format',
          'jsonl',
          '--state',
          join(dir, `state-${failOn}`),
          '--warmup',
          '0',
        ]);
        let out = '';
        a.child.stdout?.removeAllListeners('data');
        a.child.stdout?.setEncoding('utf8');
        a.child.stdout?.on('data', (c: string) => {
          out += c;
        });
        a.ready
          .then(() => {
            const h = spawn(
              'ip',
              [
                'netns',
                'exec',
                ns.name,
                '/usr/bin/python3',
                '-c',
                "import socket,time; s=socket.create_connection(('169.254.169.254',80)); time.sleep(1)",
              ],
              { stdio: 'ignore' },
            );
            h.once('exit', () => undefined);
          })
          .catch(() => undefined);
        a.child.once('exit', (code) => resolve({ code, out }));
      });
    const medium = await run('medium');
    const lines = medium.out
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Rec);
    const f = lines.find((r) => r.type === 'finding' && r.rule.id === 'imds-unusual-caller');
    assert.ok(f, medium.out);
    assert.equal(f.severity, 'medium');
    assert.equal(medium.code, 1);
    const critical = await run('critical');
    assert.equal(critical.code, 0, critical.out);
  });
});
