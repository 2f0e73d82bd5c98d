/**
 * A row PostgreSQL refuses for good (a CHECK the table holds) is a refusal, not a failure to retry: the reader then
 * sends its batch one finding at a time, and only that row becomes a dead letter.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { postgresSink } from '../../../src/adapters/fleet/hub/sinks/postgres.ts';
import { envelopeMsgId } from '../../../src/core/fleet/contract.ts';
import { manyFindings } from './harness.ts';
import { PostgresServer, postgresUnavailable } from './postgres-server.ts';

describe('postgres sink: refused rows', { skip: postgresUnavailable(), timeout: 60_000 }, () => {
  let pg: PostgresServer;
  before(async () => {
    pg = await PostgresServer.create();
  });
  after(() => pg?.dispose());

  test('a batch breaking a CHECK is refused (not retried); each row alone is judged on its own', async () => {
    const envs = manyFindings(4, 'pgcheck');
    const bad = envs[2]!.finding.rule.id;
    await pg.query(
      `CREATE TABLE checked (id text PRIMARY KEY, finding_id text NOT NULL, host_id text NOT NULL, account text NOT NULL,
       region text NOT NULL, source text NOT NULL, severity text NOT NULL,
       rule_id text NOT NULL CHECK (rule_id <> '${bad}'), time timestamptz NOT NULL,
       received_at timestamptz NOT NULL DEFAULT now(), finding jsonb NOT NULL)`,
    );
    const sink = await postgresSink({ name: 'pg', connectionString: pg.url, table: 'checked', timeoutMs: 5000 });
    try {
      const batch = envs.map((envelope) => ({ id: envelopeMsgId(envelope), envelope }));
      const all = await sink.deliver(batch);
      assert.equal(all.length, 4);
      for (const r of all) {
        assert.equal(r.ok, false);
        assert.ok(!r.ok && r.retry === false && /23514/.test(r.reason), JSON.stringify(r));
      }
      const alone = await Promise.all(batch.map((d) => sink.deliver([d])));
      assert.deepEqual(
        alone.map(([r]) => r?.ok),
        [true, true, false, true],
      );
      const n = await pg.query<{ n: string }>('SELECT count(*) AS n FROM checked');
      assert.equal(Number(n[0]?.n), 3);
    } finally {
      await sink.close();
    }
  });
});
