import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import pino from 'pino';
import { envelopeMsgId } from '../../../src/core/fleet/contract.ts';
import { createFindingsStream, NatsServer, natsUnavailable } from '../nats-server.ts';
import { FakeElasticsearch } from './fake-elasticsearch.ts';
import { FakeSplunkHec } from './fake-splunk-hec.ts';
import { manyFindings, publish, startHub, tempDir, waitFor, writeConfig } from './harness.ts';
import { PostgresServer, postgresUnavailable } from './postgres-server.ts';
import { RsyslogServer, rsyslogUnavailable } from './rsyslog-server.ts';

const skip = natsUnavailable() || postgresUnavailable() || rsyslogUnavailable();

describe('hub delivery to every sink', { skip, timeout: 120_000 }, () => {
  let nats: NatsServer;
  let pg: PostgresServer;
  let rsyslog: RsyslogServer;
  let hec: FakeSplunkHec;
  let es: FakeElasticsearch;
  const hooks: Array<{ headers: IncomingHttpHeaders; body: string }> = [];
  let webhookPort = 0;
  const webhook = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      hooks.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      res.writeHead(hooks.length === 1 ? 503 : 204);
      res.end();
    });
  });
  const tmp = tempDir();
  const env = {
    HEC_TOKEN: 'hec-token-1',
    PG_URL: '',
    HOOK_SECRET: 'hook-secret-1',
  } as NodeJS.ProcessEnv;

  before(async () => {
    [nats, pg, rsyslog] = await Promise.all([NatsServer.create(), PostgresServer.create(), RsyslogServer.create()]);
    env.PG_URL = pg.url;
    hec = new FakeSplunkHec('hec-token-1');
    es = new FakeElasticsearch();
    await Promise.all([hec.start(), es.start()]);
    await new Promise<void>((r) => webhook.listen(0, '127.0.0.1', r));
    webhookPort = (webhook.address() as AddressInfo).port;
    await createFindingsStream(nats.url);
  });
  after(async () => {
    await Promise.all([nats?.dispose(), rsyslog?.dispose(), hec?.close(), es?.close()]);
    pg?.dispose();
    await new Promise((r) => webhook.close(r));
    tmp.dispose();
  });

  const config = (extra: Record<string, unknown> = {}) => ({
    nats: { servers: [nats.url] },
    hub: { host_id: 'hub-1', batch: 20, max_deliver: 5, backoff_ms: [50, 100], ack_wait_ms: 1000 },
    correlator: { enabled: false },
    sinks: [
      { name: 'splunk', type: 'splunk-hec', url: hec.url, token_env: 'HEC_TOKEN' },
      { name: 'elastic', type: 'elasticsearch', url: es.url, index: 'imds' },
      { name: 'pg', type: 'postgres', url_env: 'PG_URL', table: 'findings' },
      { name: 'syslog', type: 'syslog', host: '127.0.0.1', port: rsyslog.port, format: 'rfc5424' },
      { name: 'cef', type: 'syslog', host: '127.0.0.1', port: rsyslog.port, format: 'cef' },
      {
        name: 'hook',
        type: 'webhook',
        url: `http://127.0.0.1:${webhookPort}/in`,
        secret_env: 'HOOK_SECRET',
        payload: 'ocsf',
      },
    ],
    ...extra,
  });

  test('each sink gets every finding once, through 503/429, partial HEC and _bulk failures, and a broker restart', async () => {
    const first = manyFindings(60, 'a');
    const second = manyFindings(60, 'b');
    const all = [...first, ...second];
    const refused = first[7]!;
    hec.failNext = [503, 429];
    hec.refuse = (e) => (e.event as { id?: string }).id === refused.finding.id;
    hec.delayMs = 30;
    es.failNext = [429];
    es.busyItems.set(envelopeMsgId(first[3]!), 2);
    es.reject = (d) => (d as { imdsguard?: { id?: string } }).imdsguard?.id === refused.finding.id;
    await publish(nats.url, first);
    const file = writeConfig(tmp.dir, config());
    // The hub's log, for a failure's message.
    const hubLog: string[] = [];
    const log = pino({ level: 'info' }, { write: (l: string) => hubLog.push(l.trim()) });
    const hub = await startHub(file, env, { metricsPort: 0, log });
    try {
      await waitFor('some deliveries', () => hec.indexed.length >= 10);
      // The broker dies mid-stream and comes back on the same store; more findings arrive after.
      await nats.kill();
      await new Promise((r) => setTimeout(r, 500));
      await nats.start();
      await publish(nats.url, second);
      const pgCount = async () =>
        Number((await pg.query<{ n: string }>('SELECT count(*) AS n FROM findings'))[0]?.n ?? 0);
      await waitFor(
        'every sink',
        async () =>
          (await pgCount()) === all.length &&
          es.count('imds') === all.length - 1 &&
          hec.indexed.length === all.length - 1 &&
          rsyslog.lines().length === all.length * 2,
        // After the broker's restart the sinks' consumers reconnect with back-off: a loaded machine needs longer.
        90_000,
        async () =>
          `pg ${await pgCount()}, es ${es.count('imds')}, hec ${hec.indexed.length}, syslog lines ${rsyslog.lines().length} of ${all.length}, ${all.length - 1}, ${all.length - 1}, ${all.length * 2}`,
      );
      // Nothing doubled: one row, one document, one event, one syslog line of each format per finding.
      const hecIds = hec.indexed.map((e) => (e.event as { id: string }).id);
      assert.equal(new Set(hecIds).size, hecIds.length, 'no HEC event twice');
      assert.ok(!hecIds.includes(refused.finding.id), 'the event HEC refused went to the dead letters');
      const rows = await pg.query<{ id: string; finding: { id: string; fleet: { host: { id: string } } } }>(
        'SELECT id, finding FROM findings',
      );
      assert.deepEqual(new Set(rows.map((r) => r.id)), new Set(all.map(envelopeMsgId)));
      assert.equal(rows.find((r) => r.finding.id === first[0]!.finding.id)?.finding.fleet.host.id, 'host-0');
      const ids = new Set(all.map(envelopeMsgId));
      for (const id of es.docs.get('imds')!.keys()) assert.ok(ids.has(id));
      const doc = es.docs.get('imds')!.get(envelopeMsgId(first[0]!))!;
      assert.equal((doc.event as { kind: string }).kind, 'alert');
      assert.equal((doc.host as { id: string }).id, 'host-0');
      assert.ok(typeof doc['@timestamp'] === 'string');
      const lines = rsyslog.lines();
      const rfc = lines.filter((l) => !l.includes('CEF:0|'));
      const cef = lines.filter((l) => l.includes('CEF:0|'));
      assert.equal(new Set(rfc).size, all.length);
      assert.equal(new Set(cef).size, all.length);
      const one = rfc.find((l) => l.includes(first[0]!.finding.id))!;
      const [pri, host, app, msgid, sd] = one.split('|');
      assert.equal(pri, String(16 * 8 + 4)); // local0, warning (medium)
      assert.equal(host, 'host-0');
      assert.equal(app, 'imdsguard');
      assert.equal(msgid, first[0]!.finding.rule.id);
      assert.match(sd!, /^\[imdsguard@32473 id="[0-9a-f]{32}" rule="rule-a-0"/);
      assert.match(
        cef.find((l) => l.includes(first[0]!.finding.id))!,
        /CEF:0\|imdsguard\|imdsguard\|[^|]+\|rule-a-0\|/,
      );
      // The webhook: first answer 503, then every batch signed over timestamp + body.
      await waitFor('webhook', () => {
        const got = new Set(
          hooks
            .slice(1)
            .flatMap((h) =>
              JSON.parse(h.body).findings.map((f: { finding_info: { uid: string } }) => f.finding_info.uid),
            ),
        );
        return got.size === all.length;
      });
      for (const h of hooks) {
        const ts = String(h.headers['x-imdsguard-timestamp']);
        const want = `sha256=${createHmac('sha256', 'hook-secret-1').update(`${ts}.${h.body}`).digest('hex')}`;
        assert.equal(h.headers['x-imdsguard-signature'], want);
        assert.equal(JSON.parse(h.body).findings[0].class_uid, 2004);
      }
      const metricsText = async () => (await fetch(`http://127.0.0.1:${hub.metricsPort}/metrics`)).text();
      // A dead letter the broker's restart kept from being published is tried again: wait for it to land.
      await waitFor(
        'the refused document dead-lettered',
        async () =>
          /imdsguard_hub_failed_total\{reader="elastic",outcome="dead_letter"\} 1\n/.test(await metricsText()),
        30_000,
        async () =>
          `${(await metricsText())
            .split('\n')
            .filter((l) => /reader="elastic"/.test(l))
            .join('; ')}; hub log: ${hubLog
            .filter((l) => /dead letter|giving up/.test(l))
            .slice(-5)
            .join(' | ')}`,
      );
      const metrics = await metricsText();
      assert.match(metrics, /imdsguard_hub_delivered_total\{reader="pg"\} 120/);
      assert.match(metrics, /imdsguard_hub_failed_total\{reader="splunk",outcome="retry"\} \d+/);
      assert.match(metrics, /imdsguard_hub_failed_total\{reader="elastic",outcome="dead_letter"\} 1/);
      // The lag is read from the server once a batch's acknowledgements are confirmed, just after its delivered count.
      await waitFor('pg lag back to 0', async () =>
        /imdsguard_hub_lag_messages\{reader="pg"\} 0\n/.test(await metricsText()),
      );
      const health = await fetch(`http://127.0.0.1:${hub.metricsPort}/healthz`);
      assert.equal(health.status, 200);
    } finally {
      await hub.stop();
    }
  });

  test('a slow sink does not hold back the others', async () => {
    const envs = manyFindings(40, 'slow');
    hec.delayMs = 1500;
    hec.refuse = () => false;
    const before = hec.indexed.length;
    const file = writeConfig(
      tmp.dir,
      { ...config(), hub: { host_id: 'hub-1', batch: 5, ack_wait_ms: 30_000 } },
      'slow.yaml',
    );
    const hub = await startHub(file, env);
    try {
      await publish(nats.url, envs);
      const ids = envs.map(envelopeMsgId);
      await waitFor(
        'postgres has the new findings',
        async () =>
          Number(
            (await pg.query<{ n: string }>('SELECT count(*) AS n FROM findings WHERE id = ANY($1)', [ids]))[0]!.n,
          ) === envs.length,
      );
      await waitFor('elasticsearch has them', () => ids.every((id) => es.docs.get('imds')?.has(id)));
      // Splunk takes 1.5 s per batch of 5: it is far from done while the others are.
      assert.ok(hec.indexed.length - before < envs.length, `HEC indexed ${hec.indexed.length - before}`);
    } finally {
      hec.delayMs = 0;
      await hub.stop();
    }
  });
});
