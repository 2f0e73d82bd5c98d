/**
 * A scan job carries a file's path off the host: a path holding a credential never reaches the bus, neither in the
 * job a dispatch queues nor in the dead letter a worker publishes (real nats-server on loopback, the built CLI).
 */
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { ScanJobQueue } from '../../src/adapters/fleet/scan-jobs.ts';
import {
  decodeScanJob,
  FLEET_CONTRACT_VERSION,
  SCAN_DEAD_STREAM,
  SCAN_JOBS_STREAM,
  SCAN_JOBS_SUBJECT,
  type ScanJob,
  scanJobMsgId,
} from '../../src/core/fleet/contract.ts';
import { ROOT, runCli, skipUnbuilt } from '../e2e/helpers.ts';
import { createFindingsStream, NatsServer, natsUnavailable } from './nats-server.ts';

const skip = natsUnavailable() || skipUnbuilt;
// Shaped like an AWS access key id (not a real credential); the masker shows it as AKIA****QX7Z.
const KEY_ID = 'AKIAQ3EGU7LR2WNPQX7Z';
const LOG = join(ROOT, 'test', 'fixtures', 'leaks', 'access-combined.log');

/** Every message of a stream: body and headers as text. */
async function streamText(url: string, stream: string): Promise<string[]> {
  const nc = await connect({ servers: url });
  try {
    const jsm = await jetstreamManager(nc);
    const info = await jsm.streams.info(stream);
    const out: string[] = [];
    for (let seq = info.state.first_seq; info.state.messages > 0 && seq <= info.state.last_seq; seq++) {
      const m = await jsm.streams.getMessage(stream, { seq });
      if (m) out.push(`${m.string()}\n${[...m.header.keys()].map((k) => `${k}: ${m.header.get(k)}`).join('\n')}`);
    }
    return out;
  } finally {
    await nc.close();
  }
}

describe('scan job paths holding a credential stay on the host', { skip, timeout: 120_000 }, () => {
  let dir: string;
  let server: NatsServer;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'imdsguard-jobmask-'));
    server = await NatsServer.create();
    await createFindingsStream(server.url);
  });
  after(async () => {
    await server?.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  it('dispatch: a file whose path holds a key id is named masked and not queued (exit 2); the others are', async () => {
    const archive = join(dir, 'archive');
    mkdirSync(join(archive, `export-${KEY_ID}`), { recursive: true });
    copyFileSync(LOG, join(archive, 'plain.log'));
    copyFileSync(LOG, join(archive, `export-${KEY_ID}`, 'access.log'));
    copyFileSync(LOG, join(archive, `copy-${KEY_ID}.log`));
    const r = await runCli(['scan', '--dispatch', '--publish', server.url, '--host-id', 'archive-1', archive]);
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /export-AKIA\*+QX7Z\/access\.log: not queued: its path holds a credential/);
    assert.match(r.stderr, /copy-AKIA\*+QX7Z\.log: not queued/);
    assert.match(r.stderr, /dispatched 3 file\(s\) to IMDS_SCAN_JOBS: 1 queued, 0 already queued, 2 not readable/);
    assert.ok(!r.stderr.includes(KEY_ID), r.stderr);
    const jobs = await streamText(server.url, SCAN_JOBS_STREAM);
    assert.equal(jobs.length, 1);
    assert.equal(decodeScanJob(jobs[0]!.split('\n')[0]!).path, join(archive, 'plain.log'));
  });

  it('worker: a job queued with such a path by another publisher goes to the dead letters masked', async () => {
    // As an older dispatcher, or any client of the bus, could queue it.
    const path = join(dir, `gone-${KEY_ID}.log`);
    const job: ScanJob = {
      v: FLEET_CONTRACT_VERSION,
      path,
      sha256: '0'.repeat(64),
      size: 1,
      host: { id: 'elsewhere' },
      account: '_',
      region: '_',
      queued_at: new Date().toISOString(),
    };
    const q = await ScanJobQueue.open({ servers: [server.url] });
    await q.close();
    const nc = await connect({ servers: server.url });
    try {
      await jetstream(nc).publish(SCAN_JOBS_SUBJECT, JSON.stringify(job), { msgID: scanJobMsgId(job) });
    } finally {
      await nc.close();
    }
    const r = await runCli([
      'scan',
      '--worker',
      '--drain',
      '--max-tries',
      '1',
      '--publish',
      server.url,
      '--outbox',
      join(dir, 'w.sqlite'),
    ]);
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /dead-lettered after 1 tries/);
    const dead = await streamText(server.url, SCAN_DEAD_STREAM);
    assert.equal(dead.length, 1);
    assert.ok(!dead[0]!.includes(KEY_ID), dead[0]);
    assert.ok(dead[0]!.includes(`gone-AKIA`), dead[0]);
    assert.equal(decodeScanJob(dead[0]!.split('\n')[0]!).sha256, job.sha256, 'the rest of the job as it was');
  });
});
