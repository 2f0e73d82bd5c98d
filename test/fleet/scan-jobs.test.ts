import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { appendFileSync, copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import {
  decodeScanJob,
  SCAN_DEAD_STREAM,
  SCAN_JOBS_STREAM,
  SCAN_WORKERS_CONSUMER,
} from '../../src/core/fleet/contract.ts';
import { BIN, findingIds, ROOT, runCli, skipUnbuilt } from '../e2e/helpers.ts';
import { createFindingsStream, NatsServer, natsUnavailable, streamMessages } from './nats-server.ts';

const skip = natsUnavailable() || skipUnbuilt;
const ARCHIVE_HOST = 'archive-host-1';
const LEAKS = join(ROOT, 'test', 'fixtures', 'leaks');

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A combined log of `lines` lines with a metadata SSRF every `every` lines, so findings come all along the file. */
function writeAttackLog(path: string, lines: number, every: number): void {
  const out: string[] = [];
  for (let i = 0; i < lines; i++) {
    const ip = `198.51.100.${i % 250}`;
    const url =
      i % every === 0
        ? `/fetch?url=http://169.254.169.254/latest/meta-data/iam/security-credentials/role-${i}`
        : `/static/app-${i % 97}.js?v=${i}`;
    out.push(
      `${ip} - - [23/Nov/2026:05:10:00 +0000] "GET ${url} HTTP/1.1" 200 512 "https://shop.example.com/" "Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/133.0"`,
    );
    if (out.length === 10_000) {
      appendFileSync(path, `${out.join('\n')}\n`);
      out.length = 0;
    }
  }
  if (out.length > 0) appendFileSync(path, `${out.join('\n')}\n`);
}

/** Stream ids and finding ids of the findings stream, and the hosts they were published under. */
async function published(url: string) {
  const msgs = await streamMessages(url);
  const envs = msgs.map((m) => JSON.parse(m.body) as { host: { id: string }; finding: { id: string } });
  return {
    count: msgs.length,
    ids: envs.map((e) => e.finding.id).sort(),
    hosts: new Set(envs.map((e) => e.host.id)),
  };
}

async function queueState(url: string) {
  const nc = await connect({ servers: url });
  try {
    const jsm = await jetstreamManager(nc);
    const c = await jsm.consumers.info(SCAN_JOBS_STREAM, SCAN_WORKERS_CONSUMER).catch(() => undefined);
    const dead = await jsm.streams.info(SCAN_DEAD_STREAM);
    const letters = [];
    for (let seq = dead.state.first_seq; dead.state.messages > 0 && seq <= dead.state.last_seq; seq++) {
      const m = await jsm.streams.getMessage(SCAN_DEAD_STREAM, { seq });
      if (m)
        letters.push({
          job: decodeScanJob(m.string()),
          reason: m.header.get('Imdsguard-Reason'),
          tries: m.header.get('Imdsguard-Tries'),
        });
    }
    return { pending: c?.num_pending ?? 0, inHand: c?.num_ack_pending ?? 0, dead: letters };
  } finally {
    await nc.close();
  }
}

describe('scan --dispatch and scan --worker (real nats-server on loopback)', { skip }, () => {
  let dir: string;
  const servers: NatsServer[] = [];
  const children: ChildProcess[] = [];
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'imdsguard-scanjobs-'));
  });
  after(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    for (const s of servers) await s.dispose();
    rmSync(dir, { recursive: true, force: true });
  });
  const server = async () => {
    const s = await NatsServer.create();
    servers.push(s);
    await createFindingsStream(s.url);
    return s;
  };
  const dispatch = (s: NatsServer, archive: string) =>
    runCli(['scan', '--dispatch', '--publish', s.url, '--host-id', ARCHIVE_HOST, archive]);
  const workerArgs = (s: NatsServer, name: string, ...more: string[]) => [
    'scan',
    '--worker',
    '--publish',
    s.url,
    '--host-id',
    name,
    '--outbox',
    join(dir, `${name}.sqlite`),
    '--format',
    'jsonl',
    ...more,
  ];

  it('three workers give exactly the findings of one plain scan; dispatching again queues only what changed', async () => {
    const s = await server();
    const archive = join(dir, 'archive-1');
    mkdirSync(archive);
    for (const f of readdirSync(LEAKS).filter((n) => n.endsWith('.log')))
      copyFileSync(join(LEAKS, f), join(archive, f));
    // One file long enough to outlast the 2 s ack wait: only the worker's progress signals keep it from a second one.
    writeAttackLog(join(archive, 'big.log'), 200_000, 400);
    const files = readdirSync(archive).length;

    const first = await dispatch(s, archive);
    assert.equal(first.status, 0, first.stderr);
    assert.match(
      first.stderr,
      new RegExp(`dispatched ${files} file\\(s\\) to IMDS_SCAN_JOBS: ${files} queued, 0 already queued`),
    );
    const again = await dispatch(s, archive);
    assert.equal(again.status, 0, again.stderr);
    assert.match(again.stderr, new RegExp(`${files} file\\(s\\) to IMDS_SCAN_JOBS: 0 queued, ${files} already queued`));

    // big.log can take longer than the ack wait: then only the progress signals keep it with its worker; 5 s (a signal a
    // second) rather than 2 s: three workers and the broker on two loaded cores can miss a few in a row.
    const runs = await Promise.all(
      ['w1', 'w2', 'w3'].map((w) => runCli(workerArgs(s, w, '--drain', '--ack-wait', '5'))),
    );
    const plain = await runCli(['scan', '--format', 'jsonl', archive]);
    assert.equal(plain.status, 1, plain.stderr);
    const plainIds = findingIds(plain.stdout);
    assert.ok(plainIds.length > 500, `plain findings: ${plainIds.length}`);

    for (const r of runs) assert.equal(r.status, 1, r.stderr);
    const fromWorkers = [...new Set(runs.flatMap((r) => findingIds(r.stdout)))].sort();
    assert.deepEqual(fromWorkers, plainIds, 'the workers printed what a plain scan prints');
    const stream = await published(s.url);
    assert.deepEqual(stream.ids, plainIds, 'the stream holds each finding of the plain scan, once');
    assert.deepEqual([...stream.hosts], [ARCHIVE_HOST], 'published under the host that queued the files');
    const tries = runs.flatMap((r) => [...r.stderr.matchAll(/worker: (\/\S+): \d+ finding\(s\), try (\d+)/g)]);
    assert.equal(tries.length, files, runs.map((r) => r.stderr).join('\n'));
    assert.deepEqual(new Set(tries.map((t) => t[2])), new Set(['1']), 'no job was handed out twice');
    assert.deepEqual(await queueState(s.url), { pending: 0, inHand: 0, dead: [] });

    appendFileSync(
      join(archive, 'access-combined.log'),
      '203.0.113.9 - - [23/Nov/2026:06:00:00 +0000] "GET /x?u=http://169.254.169.254/latest/user-data HTTP/1.1" 200 1 "-" "curl/8.5.0"\n',
    );
    const changed = await dispatch(s, archive);
    assert.match(changed.stderr, new RegExp(`: 1 queued, ${files - 1} already queued`));
  });

  it('a worker killed with SIGKILL mid-job loses nothing: the job goes to the next worker, no finding is doubled', async () => {
    const s = await server();
    const archive = join(dir, 'archive-2');
    mkdirSync(archive);
    writeAttackLog(join(archive, 'long.log'), 250_000, 100);
    const plain = await runCli(['scan', '--format', 'jsonl', archive]);
    const plainIds = findingIds(plain.stdout);
    assert.equal(plainIds.length, 2500);
    assert.equal((await dispatch(s, archive)).status, 0);

    const killed = spawn(process.execPath, [BIN, ...workerArgs(s, 'doomed', '--ack-wait', '2', '-o', '/dev/null')], {
      stdio: 'ignore',
    });
    children.push(killed);
    const end = Date.now() + 30_000;
    while ((await streamMessages(s.url)).length === 0) {
      assert.ok(Date.now() < end, 'the first worker published nothing in 30 s');
      await sleep(50);
    }
    killed.kill('SIGKILL');
    await new Promise((r) => killed.once('exit', r));
    const midway = await published(s.url);
    assert.ok(midway.count < plainIds.length, `killed after all ${midway.count} findings: not mid-job`);
    assert.deepEqual((await queueState(s.url)).inHand, 1, 'the job was not acknowledged');

    const next = await runCli(workerArgs(s, 'next', '--drain', '--ack-wait', '2'));
    assert.equal(next.status, 1, next.stderr);
    assert.match(next.stderr, /long\.log: 2500 finding\(s\), try 2/);
    assert.match(next.stderr, /already in the stream/);
    const stream = await published(s.url);
    assert.deepEqual(stream.ids, plainIds);
    assert.equal(stream.count, plainIds.length);
    assert.deepEqual(await queueState(s.url), { pending: 0, inHand: 0, dead: [] });
  });

  it('a file that always fails goes to the dead letters after --max-tries, with the error; the rest is scanned', async () => {
    const s = await server();
    const archive = join(dir, 'archive-3');
    mkdirSync(archive);
    copyFileSync(join(LEAKS, 'access-combined.log'), join(archive, 'good.log'));
    // gzip's magic and header, then bytes that are no deflate stream: unreadable on every try.
    writeFileSync(
      join(archive, 'broken.log.gz'),
      Buffer.concat([Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3]), Buffer.from('not deflate data')]),
    );
    assert.equal((await dispatch(s, archive)).status, 0);
    const r = await runCli(workerArgs(s, 'w', '--drain', '--max-tries', '2'));
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /broken\.log\.gz: try 1 of 2 failed/);
    assert.match(r.stderr, /dead-lettered after 2 tries/);
    const q = await queueState(s.url);
    assert.equal(q.pending + q.inHand, 0);
    assert.equal(q.dead.length, 1);
    assert.equal(q.dead[0]!.job.path, join(archive, 'broken.log.gz'));
    assert.equal(q.dead[0]!.tries, '2');
    assert.match(q.dead[0]!.reason, /broken\.log\.gz: cannot read: /);
    const plain = await runCli(['scan', '--format', 'jsonl', join(archive, 'good.log')]);
    assert.deepEqual((await published(s.url)).ids, findingIds(plain.stdout));
  });

  it('SIGTERM gives the job in hand back at once; usage errors are named', async () => {
    const s = await server();
    const archive = join(dir, 'archive-4');
    mkdirSync(archive);
    writeAttackLog(join(archive, 'long.log'), 250_000, 100);
    assert.equal((await dispatch(s, archive)).status, 0);
    const w = spawn(process.execPath, [BIN, ...workerArgs(s, 'stopped', '--ack-wait', '30', '-o', '/dev/null')], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    children.push(w);
    let err = '';
    w.stderr?.on('data', (b: Buffer) => {
      err += b.toString('utf8');
    });
    const end = Date.now() + 30_000;
    while ((await streamMessages(s.url)).length === 0) {
      assert.ok(Date.now() < end, 'the worker published nothing in 30 s');
      await sleep(50);
    }
    w.kill('SIGTERM');
    const code = await new Promise((r) => w.once('exit', r));
    assert.equal(code, 1, err);
    assert.match(err, /long\.log: stopped, job given back/);
    // Given back, not left to the 30 s ack wait: the next worker has it at once.
    const next = await runCli(workerArgs(s, 'next', '--drain', '--ack-wait', '30'));
    assert.match(next.stderr, /long\.log: 2500 finding\(s\), try 2/);
    assert.equal((await published(s.url)).count, 2500);

    for (const [args, message] of [
      [['scan', '--dispatch', archive], /--dispatch needs --publish/],
      [['scan', '--worker', '--publish', s.url, archive], /takes its files from the job queue/],
      [['scan', '--drain', archive], /--drain only works with --worker/],
      [['scan', '--dispatch', '--publish', s.url, '-'], /stdin cannot go to another host/],
    ] as const) {
      const u = await runCli([...args]);
      assert.equal(u.status, 2, u.stderr);
      assert.match(u.stderr, message);
    }
    const down = await runCli(['scan', '--dispatch', '--publish', 'nats://127.0.0.1:1', archive]);
    assert.equal(down.status, 3, down.stderr);
    assert.match(down.stderr, /cannot queue jobs on nats:\/\/127\.0\.0\.1:1/);
  });
});
