/**
 * The findings store on SQLite: one row per envelope, keyed by its message id (so a replayed or redelivered
 * envelope updates its row instead of adding one), with the columns queries filter on and the whole envelope as
 * JSON. The hub writes it for a single machine; `imdsguard findings` reads it.
 */
import { dirname } from 'node:path';
import { ImdsguardError } from '../../core/errors.ts';
import { envelopeMsgId, type FleetEnvelope } from '../../core/fleet/contract.ts';
import type { Finding } from '../../core/model/finding.ts';
import { type Severity, severityRank } from '../../core/model/severity.ts';
import { Masker, maskRecord } from '../../core/secrets/masker.ts';
import { makeDirsSync } from '../files/make-dirs.ts';
import { openSqlite, type SqliteDatabase, type SqliteStatement } from '../sqlite/sqlite-database.ts';

export interface FindingQuery {
  /** Finding time at or after (ms since the epoch). */
  sinceMs?: number;
  /** Finding time before (ms since the epoch). */
  untilMs?: number;
  /** At least this severity. */
  severity?: Severity;
  /** Rule ids; a trailing `*` matches a prefix (`credential-exposure*`). */
  rules?: string[];
  /** Host ids or names. */
  hosts?: string[];
  /** Sources (scan, cloudtrail, agent, proxy, hub…). */
  sources?: string[];
  /** Case-insensitive substring of the title, description, target, origin, process, principal or resource. */
  text?: string;
  /** The newest this many matches (returned oldest first). */
  limit?: number;
}

export interface StoredFinding {
  msgId: string;
  timeMs: number;
  receivedMs: number;
  envelope: FleetEnvelope;
}

/** The text `--text` searches: what a person looking for a finding would type a piece of. */
function searchText(f: Finding, e: FleetEnvelope): string {
  const parts = [
    f.title,
    f.description,
    f.rule.id,
    f.rule.name,
    f.target?.raw,
    f.target?.decoded,
    f.target?.host,
    f.origin.file,
    f.origin.sensor,
    ...(f.origin.event_ids ?? []),
    f.process?.exe,
    f.process?.user,
    f.process?.container,
    f.principal,
    f.resource?.id,
    f.client?.ip,
    f.http?.path,
    f.secret?.kind,
    f.secret?.owner,
    e.host.id,
    e.host.name,
  ];
  return parts
    .filter((p): p is string => typeof p === 'string' && p !== '')
    .join('\n')
    .toLowerCase();
}

/** The finding's own time, else when it was sent, else when it arrived. */
function findingTimeMs(e: FleetEnvelope, receivedMs: number): number {
  for (const t of [e.finding.time, e.sent_at]) {
    if (!t) continue;
    const ms = Date.parse(t);
    if (Number.isFinite(ms)) return ms;
  }
  return receivedMs;
}

function likePrefix(s: string): string {
  return `${s.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

export class FindingStore {
  readonly path: string;
  private readonly db: SqliteDatabase;
  private upsertStmt: SqliteStatement | undefined;
  private existsStmt: SqliteStatement | undefined;
  private readonly masker = new Masker();

  /** Open (creating it unless `readonly`). */
  constructor(path: string, o: { readonly?: boolean } = {}) {
    this.path = path;
    try {
      if (o.readonly) {
        this.db = openSqlite(path, { readonly: true });
      } else {
        makeDirsSync(dirname(path), 0o700);
        this.db = openSqlite(path);
        this.db.exec(`
          PRAGMA journal_mode = WAL;
          PRAGMA synchronous = NORMAL;
          CREATE TABLE IF NOT EXISTS findings (
            msg_id TEXT PRIMARY KEY,
            finding_id TEXT NOT NULL,
            time_ms INTEGER NOT NULL,
            received_ms INTEGER NOT NULL,
            severity TEXT NOT NULL,
            severity_rank INTEGER NOT NULL,
            rule_id TEXT NOT NULL,
            host_id TEXT NOT NULL,
            host_name TEXT,
            source TEXT NOT NULL,
            account TEXT NOT NULL,
            region TEXT NOT NULL,
            title TEXT NOT NULL,
            text TEXT NOT NULL,
            envelope TEXT NOT NULL
          );
          CREATE INDEX IF NOT EXISTS findings_time ON findings (time_ms);
          CREATE INDEX IF NOT EXISTS findings_rule ON findings (rule_id, time_ms);
          CREATE INDEX IF NOT EXISTS findings_host ON findings (host_id, time_ms);
        `);
      }
    } catch (e) {
      const msg = (e as Error).message;
      throw new ImdsguardError(
        'E_CONFIG',
        o.readonly && /unable to open|does not exist/i.test(msg)
          ? `No findings store at "${path}" (the hub writes it; name another with --store)`
          : `Cannot open the findings store "${path}": ${msg}`,
        { cause: e },
      );
    }
  }

  /** Insert or replace the row of this envelope (by its message id); true when it was new. */
  upsert(input: FleetEnvelope, receivedMs: number): boolean {
    this.upsertStmt ??= this.db.prepare(`
      INSERT INTO findings (msg_id, finding_id, time_ms, received_ms, severity, severity_rank, rule_id, host_id,
                            host_name, source, account, region, title, text, envelope)
      VALUES (@msgId, @findingId, @timeMs, @receivedMs, @severity, @rank, @ruleId, @hostId, @hostName, @source,
              @account, @region, @title, @text, @envelope)
      ON CONFLICT (msg_id) DO UPDATE SET
        time_ms = excluded.time_ms, severity = excluded.severity, severity_rank = excluded.severity_rank,
        rule_id = excluded.rule_id, host_name = excluded.host_name, source = excluded.source,
        account = excluded.account, region = excluded.region, title = excluded.title, text = excluded.text,
        envelope = excluded.envelope
    `);
    this.existsStmt ??= this.db.prepare('SELECT 1 FROM findings WHERE msg_id = ?');
    // What reaches the store was masked by the sensor that published it; masked again here, as every writer does,
    // so that no path into the file depends on another process having done it.
    const e = maskRecord(input, this.masker);
    const f = e.finding;
    const msgId = envelopeMsgId(e);
    const fresh = this.existsStmt.get(msgId) === undefined;
    this.upsertStmt.run({
      msgId,
      findingId: f.id,
      timeMs: findingTimeMs(e, receivedMs),
      receivedMs,
      severity: f.severity,
      rank: severityRank(f.severity),
      ruleId: f.rule.id,
      hostId: e.host.id,
      hostName: e.host.name ?? null,
      source: e.source,
      account: e.account,
      region: e.region,
      title: f.title,
      text: searchText(f, e),
      envelope: JSON.stringify(e),
    });
    return fresh;
  }

  /** Several envelopes in one transaction (a consumer's batch); returns how many were new. */
  upsertMany(envelopes: readonly FleetEnvelope[], receivedMs: number): number {
    return this.db.transaction(() => envelopes.reduce((n, e) => n + (this.upsert(e, receivedMs) ? 1 : 0), 0));
  }

  /** The findings matching `q`, oldest first, and how many matched in all (before the limit). */
  query(q: FindingQuery): { rows: StoredFinding[]; total: number } {
    try {
      return this.select(q);
    } catch (e) {
      throw new ImdsguardError('E_CONFIG', `Cannot query the findings store "${this.path}": ${(e as Error).message}`, {
        cause: e,
      });
    }
  }

  private select(q: FindingQuery): { rows: StoredFinding[]; total: number } {
    const where: string[] = [];
    const args: Array<string | number> = [];
    if (q.sinceMs !== undefined) {
      where.push('time_ms >= ?');
      args.push(q.sinceMs);
    }
    if (q.untilMs !== undefined) {
      where.push('time_ms < ?');
      args.push(q.untilMs);
    }
    if (q.severity) {
      where.push('severity_rank >= ?');
      args.push(severityRank(q.severity));
    }
    if (q.rules?.length) {
      where.push(
        `(${q.rules.map((r) => (r.endsWith('*') ? "rule_id LIKE ? ESCAPE '\\'" : 'rule_id = ?')).join(' OR ')})`,
      );
      for (const r of q.rules) args.push(r.endsWith('*') ? likePrefix(r.slice(0, -1)) : r);
    }
    if (q.hosts?.length) {
      where.push(
        `(host_id IN (${q.hosts.map(() => '?').join(', ')}) OR host_name IN (${q.hosts.map(() => '?').join(', ')}))`,
      );
      args.push(...q.hosts, ...q.hosts);
    }
    if (q.sources?.length) {
      where.push(`source IN (${q.sources.map(() => '?').join(', ')})`);
      args.push(...q.sources);
    }
    if (q.text) {
      where.push('instr(text, ?) > 0');
      args.push(q.text.toLowerCase());
    }
    const cond = where.length > 0 ? `WHERE ${where.join(' AND ')}` : '';
    const total = this.db.prepare<{ n: number }>(`SELECT count(*) AS n FROM findings ${cond}`).get(...args)?.n ?? 0;
    const limit = q.limit ?? -1;
    const rows = this.db
      .prepare<{ msg_id: string; time_ms: number; received_ms: number; envelope: string }>(
        `SELECT msg_id, time_ms, received_ms, envelope FROM findings ${cond} ORDER BY time_ms DESC, msg_id DESC LIMIT ?`,
      )
      .all(...args, limit);
    return {
      total,
      rows: rows.reverse().map((r) => ({
        msgId: r.msg_id,
        timeMs: r.time_ms,
        receivedMs: r.received_ms,
        envelope: JSON.parse(r.envelope) as FleetEnvelope,
      })),
    };
  }

  count(): number {
    return this.db.prepare<{ n: number }>('SELECT count(*) AS n FROM findings').get()?.n ?? 0;
  }

  close(): void {
    this.db.close();
  }
}
