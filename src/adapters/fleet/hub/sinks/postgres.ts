/**
 * A PostgreSQL table, one row per finding and host, upserted by message id: a redelivered finding rewrites its
 * own row and never adds one. The table is created when absent.
 */

import { ImdsguardError } from '../../../../core/errors.ts';
import type { FleetEnvelope } from '../../../../core/fleet/contract.ts';
import { eventMs, findingDocument } from '../documents.ts';
import type { Delivery, DeliveryResult, HubSink } from '../sink.ts';
import { OK, refused } from '../sink.ts';

export interface PostgresConfig {
  name: string;
  /** postgres://user:pass@host:port/db, from the environment. */
  connectionString: string;
  table: string;
  timeoutMs: number;
}

const TABLE_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,62}(?:\.[A-Za-z_][A-Za-z0-9_]{0,62})?$/;

function row(d: Delivery, now: number): unknown[] {
  const e: FleetEnvelope = d.envelope;
  const f = e.finding;
  return [
    d.id,
    f.id,
    e.host.id,
    e.account,
    e.region,
    e.source,
    f.severity,
    f.rule.id,
    new Date(eventMs(e, now)).toISOString(),
    JSON.stringify(findingDocument(e)),
  ];
}

export async function postgresSink(c: PostgresConfig, nowMs: () => number = Date.now): Promise<HubSink> {
  if (!TABLE_NAME.test(c.table))
    throw new ImdsguardError('E_CONFIG', `PostgreSQL table name "${c.table}" is not a plain [schema.]name`);
  const { default: pg } = await import('pg');
  const pool = new pg.Pool({
    connectionString: c.connectionString,
    max: 2,
    connectionTimeoutMillis: c.timeoutMs,
    statement_timeout: c.timeoutMs,
  });
  // A broken idle connection must not crash the hub; the next query opens another.
  pool.on('error', () => {});
  let ready = false;
  const ensureTable = async () => {
    if (ready) return;
    await pool.query(
      `CREATE TABLE IF NOT EXISTS ${c.table} (
         id text PRIMARY KEY,
         finding_id text NOT NULL,
         host_id text NOT NULL,
         account text NOT NULL,
         region text NOT NULL,
         source text NOT NULL,
         severity text NOT NULL,
         rule_id text NOT NULL,
         time timestamptz NOT NULL,
         received_at timestamptz NOT NULL DEFAULT now(),
         finding jsonb NOT NULL)`,
    );
    ready = true;
  };
  return {
    name: c.name,
    type: 'postgres',
    async deliver(batch: readonly Delivery[]): Promise<DeliveryResult[]> {
      await ensureTable();
      const now = nowMs();
      const values: unknown[] = [];
      const tuples: string[] = [];
      // One id may come twice in a batch (the same finding republished): ON CONFLICT cannot touch a row twice.
      const seen = new Set<string>();
      for (const d of batch) {
        if (seen.has(d.id)) continue;
        seen.add(d.id);
        const r = row(d, now);
        const base = values.length;
        tuples.push(`(${r.map((_, i) => `$${base + i + 1}`).join(',')})`);
        values.push(...r);
      }
      try {
        await pool.query(
          `INSERT INTO ${c.table} (id, finding_id, host_id, account, region, source, severity, rule_id, time, finding)
           VALUES ${tuples.join(',')}
           ON CONFLICT (id) DO UPDATE SET finding = EXCLUDED.finding, severity = EXCLUDED.severity, time = EXCLUDED.time`,
          values,
        );
      } catch (e) {
        // A data exception (SQLSTATE class 22) or a constraint the rows break (class 23: a CHECK, NOT NULL, a foreign
        // key) fails the same way at every try: refused, so the reader sends the batch one finding at a time and only
        // the rows the table refuses become dead letters. Anything else (connection, timeout, locks) is retried.
        const code = (e as { code?: unknown }).code;
        if (typeof code === 'string' && /^2[23]/.test(code))
          return batch.map(() => refused(`PostgreSQL refused the rows (${code}): ${(e as Error).message}`));
        throw e;
      }
      return batch.map(() => OK);
    },
    async close() {
      await pool.end();
    },
  };
}
