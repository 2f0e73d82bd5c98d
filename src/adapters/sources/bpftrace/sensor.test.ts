import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { PidTable } from '../host/pid-table.ts';
import type { SensorEvent } from '../host/sensor-event.ts';
import { BpftraceSensor } from './sensor.ts';

const FAKE = fileURLToPath(new URL('../../../../test/fixtures/agent/fake-bpftrace.mjs', import.meta.url));

describe('BpftraceSensor (replayed bpftrace output)', () => {
  let dir: string | undefined;
  after(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
    delete process.env.FAKE_BPFTRACE_STATE;
  });

  it('reorders records, joins chunks and split writes, reports a cut head as partial, keeps exec argv, counts losses, and restarts bpftrace after a crash', async () => {
    dir = await mkdtemp(join(tmpdir(), 'imdsguard-fakebt-'));
    process.env.FAKE_BPFTRACE_STATE = join(dir, 'state');
    const pids = new PidTable();
    const sensor = new BpftraceSensor({
      pids,
      bpftrace: [process.execPath, FAKE],
      preflight: false,
      backoffMs: { min: 50, max: 100 },
    });
    const events: SensorEvent[] = [];
    const logs: string[] = [];
    const log = {
      info: (_o: Record<string, unknown>, m: string) => logs.push(m),
      warn: (_o: Record<string, unknown>, m: string) => logs.push(m),
      error: (_o: Record<string, unknown>, m: string) => logs.push(m),
    };
    await sensor.start((e) => events.push(e), log);
    const deadline = Date.now() + 10_000;
    while (events.length < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    await sensor.stop();

    assert.equal(events.length, 3, JSON.stringify(events));
    const [first] = events;
    const second = events.find((e) => e.pid === 4343);
    const third = events.find((e) => e.pid === 4444);
    assert.equal(first?.pid, 4242);
    assert.equal(first?.exe, '/usr/bin/curl');
    assert.deepEqual(first?.argv, ['curl', '-H', 'X-aws-ec2-metadata-token: AQAEAfake==']);
    assert.equal(first?.netns, 4026532177);
    assert.deepEqual(first?.destination, { ip: '169.254.169.254', port: 80 });
    assert.equal(first?.http?.path, '/latest/meta-data/iam/security-credentials/role');
    // The token header sits past byte 160: it is only seen in the second chunk.
    assert.equal(first?.http?.awsToken, true);
    assert.deepEqual(first?.capture, { complete: true });
    assert.ok(!JSON.stringify(first?.http).includes('AQAEA'));
    assert.equal(second?.pid, 4343);
    assert.equal(second?.uid, 1000);
    assert.equal(second?.destination.ip, 'fd00:ec2::254');
    assert.equal(second?.http?.token, false);
    assert.equal(second?.http?.path, '/latest/meta-data/');
    assert.deepEqual(second?.capture, { complete: true });
    // 160 of 2,000 bytes printed and no end of head: the request line is known, the rest is not.
    assert.equal(third?.pid, 4444);
    assert.equal(third?.http?.path, '/latest/meta-data/');
    assert.equal(third?.capture?.complete, false);
    assert.match(third?.capture?.gap ?? '', /160 of 2000/);
    const stats = sensor.stats();
    assert.equal(stats.lost, 5);
    assert.equal(stats.orphan_writes, 1);
    assert.equal(stats.restarts, 1);
    assert.equal(stats.unparsed, 1);
    assert.ok(
      logs.some((l) => /bpftrace exited \(1\); restarting in 50 ms/.test(l)),
      logs.join('\n'),
    );
  });

  it('lists connections open at attach, leaving out those the probes saw connect while the list was taken', async () => {
    dir ??= await mkdtemp(join(tmpdir(), 'imdsguard-fakebt-'));
    // The fake's second run: it attaches, then a python3 (pid 4343) and a "big" (pid 4444) connect.
    process.env.FAKE_BPFTRACE_STATE = join(dir, 'ran-before');
    await writeFile(process.env.FAKE_BPFTRACE_STATE, 'ran');
    const listed = (pid: number, ip: string) => ({
      pid,
      uid: 0,
      netns: 4026532177,
      inode: pid,
      source: { ip: '10.0.0.2', port: 40000 + pid },
      destination: { ip, port: 80 },
    });
    const sensor = new BpftraceSensor({
      pids: new PidTable(),
      bpftrace: [process.execPath, FAKE],
      preflight: false,
      // The listing finds 4343's connection (opened after the attach, seen by the probes) and 5555's, opened before.
      // A listing takes a while; a connection it finds was open before it ended (here: the fake's connects, printed
      // right after it attached).
      openConnections: async () => {
        await new Promise((r) => setTimeout(r, 100));
        return { connections: [listed(4343, 'fd00:ec2::254'), listed(5555, '169.254.169.254')], errors: [] };
      },
    });
    const events: SensorEvent[] = [];
    const logs: string[] = [];
    const log = {
      info: (o: Record<string, unknown>, m: string) => logs.push(`${m} ${JSON.stringify(o)}`),
      warn: (_o: Record<string, unknown>, m: string) => logs.push(m),
      error: (_o: Record<string, unknown>, m: string) => logs.push(m),
    };
    await sensor.start((e) => events.push(e), log);
    const deadline = Date.now() + 10_000;
    while (events.length < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, 300));
    await sensor.stop();
    const pre = events.filter((e) => e.preExisting);
    assert.deepEqual(
      pre.map((e) => e.pid),
      [5555],
      JSON.stringify(events),
    );
    assert.equal(events.filter((e) => e.pid === 4343).length, 1, JSON.stringify(events));
    assert.ok(
      logs.some((l) => l.includes('"connections":1,"opened_during_listing":1')),
      logs.join('\n'),
    );
  });

  it('fails to start with a clear error when bpftrace cannot run', async () => {
    const sensor = new BpftraceSensor({ pids: new PidTable(), bpftrace: '/nonexistent/bpftrace', preflight: false });
    const log = { info() {}, warn() {}, error() {} };
    await assert.rejects(
      sensor.start(() => {}, log),
      /Cannot run \/nonexistent\/bpftrace: ENOENT/,
    );
    await sensor.stop();
  });
});
