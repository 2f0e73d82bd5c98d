/**
 * Findings through publish → JetStream → hub → PostgreSQL sink, on loopback with Debian's nats-server and
 * PostgreSQL 15 started here:
 *  - throughput: N findings published as fast as the client pipelines them; findings/s from the first publish to
 *    the last row written, against the named peer "direct": the same rows written straight into PostgreSQL by one
 *    client in the hub's batch size, with no bus (the ratio is what the bus and the hub cost);
 *  - latency: findings published at a fixed rate; end-to-end = the row's received_at (the database clock) minus the
 *    envelope's sent_at (the publisher's, same machine); p50/p99.
 * The correlator runs, as in a deployment. Batch size 200.
 *
 *   npm run bench -- --only hub [--count 20000] [--rate 500] [--seconds 6] [--json]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { postgresSink } from '../src/adapters/fleet/hub/sinks/postgres.ts';
import { encodeEnvelope, envelopeMsgId, type FleetEnvelope, findingSubject } from '../src/core/fleet/contract.ts';
import { manyFindings, startHub, waitFor, writeConfig } from '../test/fleet/hub/harness.ts';
import { PostgresServer } from '../test/fleet/hub/postgres-server.ts';
import { createFindingsStream, NatsServer } from '../test/fleet/nats-server.ts';

const { values } = parseArgs({
  options: {
    count: { type: 'string', default: '20000' },
    rate: { type: 'string', default: '500' },
    seconds: { type: 'string', default: '6' },
    json: { type: 'boolean', default: false },
    only: { type: 'string' },
  },
  strict: false,
});
const COUNT = Number(values.count);
const RATE = Number(values.rate);
const SECONDS = Number(values.seconds);

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? Number.NaN;
};

const nats = await NatsServer.create();
const pg = await PostgresServer.create();
const dir = mkdtempSync(join(tmpdir(), 'imdsguard-hub-bench-'));
const { connect } = await import('@nats-io/transport-node');
const { jetstream } = await import('@nats-io/jetstream');
try {
  await createFindingsStream(nats.url);
  const env = { PG_URL: pg.url };
  const count = async (table: string) =>
    Number((await pg.query<{ n: string }>(`SELECT count(*) AS n FROM ${table}`))[0]!.n);

  // Peer: the same rows straight into PostgreSQL.
  const direct = await postgresSink({ name: 'direct', connectionString: pg.url, table: 'direct', timeoutMs: 30_000 });
  const peerEnvs = manyFindings(COUNT, 'peer');
  const t0 = performance.now();
  for (let i = 0; i < peerEnvs.length; i += 200)
    await direct.deliver(peerEnvs.slice(i, i + 200).map((e) => ({ id: envelopeMsgId(e), envelope: e })));
  const directPerS = COUNT / ((performance.now() - t0) / 1000);
  await direct.close();

  const file = writeConfig(dir, {
    nats: { servers: [nats.url] },
    hub: { host_id: 'bench-hub', batch: 200 },
    correlator: { state: join(dir, 'c.sqlite') },
    sinks: [{ name: 'pg', type: 'postgres', url_env: 'PG_URL', table: 'bench' }],
  });
  const hub = await startHub(file, env);
  const nc = await connect({ servers: nats.url });
  const js = jetstream(nc);
  const send = (e: FleetEnvelope) =>
    js.publish(findingSubject({ ...e, severity: e.finding.severity }), encodeEnvelope(e), { msgID: envelopeMsgId(e) });

  // Throughput.
  const envs = manyFindings(COUNT, 'tp');
  const t1 = performance.now();
  for (let i = 0; i < envs.length; i += 500) await Promise.all(envs.slice(i, i + 500).map(send));
  const publishedS = (performance.now() - t1) / 1000;
  await waitFor('all rows', async () => (await count('bench')) >= COUNT, 600_000);
  const hubPerS = COUNT / ((performance.now() - t1) / 1000);

  // Latency at a fixed rate.
  const paced = manyFindings(Math.round(RATE * SECONDS), 'lat');
  const start = performance.now();
  const pending: Array<Promise<unknown>> = [];
  for (let i = 0; i < paced.length; i++) {
    const due = start + (i * 1000) / RATE;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    const e = paced[i]!;
    e.sent_at = new Date().toISOString();
    pending.push(send(e));
  }
  await Promise.all(pending);
  await waitFor('paced rows', async () => (await count('bench')) >= COUNT + paced.length, 120_000);
  const lat = (
    await pg.query<{ ms: number }>(
      "SELECT extract(epoch FROM (received_at - (finding->'fleet'->>'sent_at')::timestamptz)) * 1000 AS ms FROM bench WHERE rule_id LIKE 'rule-lat-%'",
    )
  ).map((r) => Number(r.ms));
  await nc.close();
  await hub.stop();

  const result = {
    findings: COUNT,
    publish_s: Number(publishedS.toFixed(2)),
    hub_findings_per_s: Math.round(hubPerS),
    direct_findings_per_s: Math.round(directPerS),
    ratio_hub_to_direct: Number((hubPerS / directPerS).toFixed(3)),
    latency_rate_per_s: RATE,
    latency_ms: { p50: Number(pct(lat, 50).toFixed(1)), p99: Number(pct(lat, 99).toFixed(1)), n: lat.length },
  };
  if (values.json) console.log(JSON.stringify(result));
  else {
    console.log(`publish → hub → PostgreSQL: ${result.hub_findings_per_s} findings/s (${COUNT} findings)`);
    console.log(
      `direct PostgreSQL writes (peer): ${result.direct_findings_per_s} findings/s; ratio ${result.ratio_hub_to_direct}`,
    );
    console.log(
      `end-to-end latency at ${RATE}/s: p50 ${result.latency_ms.p50} ms, p99 ${result.latency_ms.p99} ms (n=${lat.length})`,
    );
  }
} finally {
  await nats.dispose();
  pg.dispose();
  rmSync(dir, { recursive: true, force: true });
}
