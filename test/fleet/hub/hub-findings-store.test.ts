import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runCli, skipUnbuilt } from '../../e2e/helpers.ts';
import { createFindingsStream, NatsServer, natsUnavailable } from '../nats-server.ts';
import { envelope, leakFinding } from '../support/envelopes.ts';
import { manyFindings, publish, startHub, tempDir, waitFor, writeConfig } from './harness.ts';

const skip = natsUnavailable() || skipUnbuilt;

describe('hub findings-store sink: what `imdsguard findings` reads', { skip, timeout: 90_000 }, () => {
  let nats: NatsServer;
  const tmp = tempDir();
  before(async () => {
    nats = await NatsServer.create();
    await createFindingsStream(nats.url);
  });
  after(async () => {
    await nats?.dispose();
    tmp.dispose();
  });

  const listed = async (store: string): Promise<Array<{ id: string; fleet: { host: { id: string } } }>> => {
    const r = await runCli(['findings', '--store', store, '--format', 'jsonl', '--limit', '0']);
    assert.equal(r.status, 0, r.stderr);
    return r.stdout
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l));
  };

  test('the hub stores each consumed finding once; a replay of the whole stream adds no row', async () => {
    const store = join(tmp.dir, 'findings.sqlite');
    const cfg = writeConfig(tmp.dir, {
      nats: { servers: [nats.url] },
      hub: { host_id: 'hub-1', batch: 10, ack_wait_ms: 2000 },
      correlator: { enabled: false },
      sinks: [{ name: 'local', type: 'findings-store', path: store }],
    });
    const envs = manyFindings(25, 'store');
    // The same leak seen on two hosts: one finding id, two hosts, two rows.
    const leak = leakFinding('/var/log/app.log', 7, 'h1', '2026-12-01T11:00:00.000Z');
    envs.push(envelope('web-1', 'scan', leak), envelope('web-2', 'scan', leak));
    await publish(nats.url, envs);
    const hub = await startHub(cfg, {});
    await waitFor('27 rows', async () => (await listed(store)).length === 27);
    await hub.stop();

    // Every reader moved back to the start: all 27 delivered again, stored once each.
    const again = await startHub(cfg, {}, { replayFrom: { kind: 'all' } });
    await publish(nats.url, manyFindings(3, 'later'));
    await waitFor('30 rows', async () => (await listed(store)).length === 30);
    await again.stop();
    const rows = await listed(store);
    assert.equal(rows.length, 30);
    const keys = rows.map((r) => `${r.fleet.host.id}/${r.id}`);
    assert.equal(new Set(keys).size, 30, 'no finding stored twice');
    assert.deepEqual(
      rows
        .filter((r) => r.id === leak.id)
        .map((r) => r.fleet.host.id)
        .sort(),
      ['web-1', 'web-2'],
    );
    assert.ok(
      envs.every((e) => keys.includes(`${e.host.id}/${e.finding.id}`)),
      'every published finding is stored',
    );
  });
});
