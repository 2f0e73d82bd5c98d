import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { envelopeMsgId, type FleetEnvelope } from '../../../src/core/fleet/contract.ts';
import { HUB_RULES } from '../../../src/core/fleet/correlate.ts';
import { createFindingsStream, NatsServer, natsUnavailable, streamMessages } from '../nats-server.ts';
import { callerFinding, cloudtrailUse, envelope, leakFinding } from '../support/envelopes.ts';
import { FakeElasticsearch } from './fake-elasticsearch.ts';
import { manyFindings, publish, startHub, tempDir, waitFor, writeConfig } from './harness.ts';
import { PostgresServer, postgresUnavailable } from './postgres-server.ts';

const skip = natsUnavailable() || postgresUnavailable();
const CLI = join(import.meta.dirname, '../../../dist/cli/main.js');

function hubProcess(config: string, env: NodeJS.ProcessEnv): { child: ChildProcess; exited: Promise<number | null> } {
  const child = spawn(process.execPath, [CLI, 'hub', '--config', config, '--log-level', 'warn'], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let err = '';
  child.stderr?.on('data', (b: Buffer) => {
    err += b.toString('utf8');
  });
  const exited = new Promise<number | null>((r) =>
    child.once('exit', (code) => {
      if (code !== 0 && code !== null) process.stderr.write(err);
      r(code);
    }),
  );
  return { child, exited };
}

describe('hub as a process: killed mid-way, correlation on the bus, state across restarts', {
  skip,
  timeout: 120_000,
}, () => {
  let nats: NatsServer;
  let pg: PostgresServer;
  let es: FakeElasticsearch;
  const tmp = tempDir();
  const env: NodeJS.ProcessEnv = {};
  /** Rows in a table; 0 while the sink has not created it yet. */
  const count = async (table: string) => {
    try {
      return Number((await pg.query<{ n: string }>(`SELECT count(*) AS n FROM ${table}`))[0]!.n);
    } catch (e) {
      if (/does not exist/.test((e as Error).message)) return 0;
      throw e;
    }
  };

  before(async () => {
    [nats, pg] = await Promise.all([NatsServer.create(), PostgresServer.create()]);
    es = new FakeElasticsearch();
    await es.start();
    await createFindingsStream(nats.url);
    env.PG_URL = pg.url;
  });
  after(async () => {
    await Promise.all([nats?.dispose(), es?.close()]);
    pg?.dispose();
    tmp.dispose();
  });

  test('SIGKILL mid-stream: the restarted hub gets the unacknowledged findings again; ES and PostgreSQL hold each once', async () => {
    const envs = manyFindings(300, 'kill');
    await publish(nats.url, envs);
    es.delayMs = 40;
    const file = writeConfig(
      tmp.dir,
      {
        nats: { servers: [nats.url] },
        hub: { host_id: 'hub-1', batch: 10, ack_wait_ms: 1000 },
        correlator: { enabled: false },
        sinks: [
          { name: 'elastic', type: 'elasticsearch', url: es.url, index: 'kill' },
          { name: 'pg', type: 'postgres', url_env: 'PG_URL', table: 'kill_findings' },
        ],
      },
      'kill.yaml',
    );
    const one = hubProcess(file, env);
    await waitFor('the first hub to deliver some', () => es.count('kill') >= 30);
    one.child.kill('SIGKILL');
    await one.exited;
    const requestsBefore = es.requests;
    const two = hubProcess(file, env);
    try {
      await waitFor(
        'everything delivered',
        async () => es.count('kill') === envs.length && (await count('kill_findings')) === envs.length,
      );
      // Redelivered batches show as 409s at Elasticsearch (or as rows rewritten in place), never as second copies.
      assert.ok(es.requests > requestsBefore);
      const ids = new Set(envs.map(envelopeMsgId));
      assert.deepEqual(new Set(es.docs.get('kill')!.keys()), ids);
      assert.equal(await count('kill_findings'), ids.size);
    } finally {
      two.child.kill('SIGTERM');
      assert.equal(await two.exited, 0, 'SIGTERM exits 0');
      es.delayMs = 0;
    }
  });

  test('--replay-from moves only the named reader back: Elasticsearch sees every finding again (409s), PostgreSQL nothing', async () => {
    const file = join(tmp.dir, 'kill.yaml');
    const conflicts = es.conflicts;
    const hub = await startHub(file, env, { metricsPort: 0, replayFrom: { kind: 'all' }, replayReaders: ['elastic'] });
    try {
      await waitFor('the replay', () => es.conflicts - conflicts === 300);
      assert.equal(es.count('kill'), 300);
      const metrics = await (await fetch(`http://127.0.0.1:${hub.metricsPort}/metrics`)).text();
      assert.match(metrics, /imdsguard_hub_delivered_total\{reader="elastic"\} 300/);
      assert.doesNotMatch(metrics, /imdsguard_hub_delivered_total\{reader="pg"\}/);
    } finally {
      await hub.stop();
    }
  });

  test('a reload (SIGHUP) adds a sink, which starts from the oldest finding; a broken file keeps the running config', async () => {
    const cfg = (sinks: unknown[]) => ({
      nats: { servers: [nats.url] },
      hub: { host_id: 'hub-1' },
      correlator: { enabled: false },
      sinks,
    });
    const pgSink = { name: 'pg', type: 'postgres', url_env: 'PG_URL', table: 'kill_findings' };
    const file = writeConfig(tmp.dir, cfg([pgSink]), 'reload.yaml');
    const hub = await startHub(file, env);
    try {
      writeConfig(
        tmp.dir,
        cfg([pgSink, { name: 'pg2', type: 'postgres', url_env: 'PG_URL', table: 'reloaded' }]),
        'reload.yaml',
      );
      await hub.reload();
      await waitFor('the new sink to catch up', async () => (await count('reloaded')) === 300);
      writeFileSync(file, 'sinks: [');
      await hub.reload();
      await publish(nats.url, manyFindings(5, 'after-reload'));
      await waitFor('the kept config to go on delivering', async () => (await count('reloaded')) === 305);
    } finally {
      await hub.stop();
    }
  });

  test('hub findings are published back on the bus, cite their findings, and the correlator resumes from its stored state', async () => {
    const state = join(tmp.dir, 'correlator.sqlite');
    const file = writeConfig(
      tmp.dir,
      {
        nats: { servers: [nats.url] },
        hub: { host_id: 'hub-1', batch: 50 },
        correlator: { state, min_fleet_hosts: 3 },
        sinks: [{ name: 'pgc', type: 'postgres', url_env: 'PG_URL', table: 'corr' }],
      },
      'corr.yaml',
    );
    const T = (m: number) => new Date(Date.UTC(2026, 11, 2, 9, m)).toISOString();
    const firstHalf: FleetEnvelope[] = [
      envelope('web-1', 'scan', leakFinding('/var/log/a.log', 1, 'h:k1', T(0))),
      envelope(
        'web-4',
        'agent',
        callerFinding('/usr/bin/curl', ['curl'], T(1), '/latest/meta-data/iam/security-credentials/app-role'),
      ),
      envelope('web-2', 'scan', leakFinding('/var/log/b.log', 2, 'h:unrelated', T(2))),
    ];
    const hub1 = await startHub(file, env);
    await publish(nats.url, firstHalf);
    await waitFor('first half read', async () => (await count('corr')) >= 3);
    await hub1.stop();
    // After the restart, the other half of each pair arrives.
    const secondHalf: FleetEnvelope[] = [
      envelope('web-3', 'scan', leakFinding('/opt/app/c.log', 3, 'h:k1', T(3))),
      envelope('trail', 'cloudtrail', cloudtrailUse('app-role', '203.0.113.50', T(30))),
    ];
    const hub2 = await startHub(file, env);
    try {
      await publish(nats.url, secondHalf);
      const hubRows = async () =>
        pg.query<{
          finding: { rule: { id: string }; related: Array<{ finding_id: string }>; fleet: { source: string } };
        }>("SELECT finding FROM corr WHERE source = 'hub'");
      await waitFor('two hub findings', async () => (await hubRows()).length >= 2);
      const rows = await hubRows();
      const secret = rows.find((r) => r.finding.rule.id === HUB_RULES.sharedSecret.id);
      const creds = rows.find((r) => r.finding.rule.id === HUB_RULES.credentialsElsewhere.id);
      assert.ok(secret && creds, JSON.stringify(rows.map((r) => r.finding.rule.id)));
      assert.deepEqual(
        secret.finding.related.map((r) => r.finding_id),
        [firstHalf[0]!.finding.id, secondHalf[0]!.finding.id],
      );
      assert.deepEqual(
        creds.finding.related.map((r) => r.finding_id),
        [firstHalf[1]!.finding.id, secondHalf[1]!.finding.id],
      );
      // Nothing cites the unrelated leak.
      for (const r of rows) assert.ok(!r.finding.related.some((x) => x.finding_id === firstHalf[2]!.finding.id));
      // On the bus as envelopes from source 'hub', with the contract's message id.
      const onBus = (await streamMessages(nats.url)).filter((m) => JSON.parse(m.body).source === 'hub');
      assert.equal(onBus.length, rows.length);
      for (const m of onBus) assert.equal(m.msgId, envelopeMsgId(JSON.parse(m.body)));
    } finally {
      await hub2.stop();
    }
  });
});
