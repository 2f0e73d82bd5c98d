/**
 * The sensor's outbox: every finding is written here before it is published, and deleted only when the server's
 * acknowledgement arrives. What a broker outage or a sensor restart leaves behind is published again from here,
 * under the same message id, so the stream's duplicate window drops what had in fact arrived.
 */
import { dirname } from 'node:path';
import { ImdsguardError } from '../../core/errors.ts';
import { makeDirsSync } from '../files/make-dirs.ts';
import { openSqlite, type SqliteDatabase, type SqliteStatement } from '../sqlite/sqlite-database.ts';

export interface OutboxRow {
  seq: number;
  msgId: string;
  subject: string;
  body: string;
}

export interface OutboxOptions {
  /** Rows kept at most; past it the oldest are dropped (and counted). */
  maxRows: number;
}

export class Outbox {
  readonly path: string;
  private readonly db: SqliteDatabase;
  private readonly maxRows: number;
  private rows: number;
  /** Rows dropped by the bound, over the outbox's whole life (kept in the file). */
  private droppedTotal: number;
  private readonly insert: SqliteStatement;
  private readonly remove: SqliteStatement;
  private readonly after: SqliteStatement<OutboxRow>;
  private readonly dropOldest: SqliteStatement;
  private readonly saveDropped: SqliteStatement;

  constructor(path: string, o: OutboxOptions) {
    this.path = path;
    this.maxRows = o.maxRows;
    try {
      if (path !== ':memory:') makeDirsSync(dirname(path), 0o700);
      this.db = openSqlite(path);
      // WAL without a sync per commit: a finding costs one small write, and a power cut loses at most the last
      // moments (an application crash loses nothing).
      this.db.exec(`
        PRAGMA journal_mode = WAL;
        PRAGMA synchronous = NORMAL;
        CREATE TABLE IF NOT EXISTS outbox (
          seq INTEGER PRIMARY KEY AUTOINCREMENT,
          msg_id TEXT NOT NULL UNIQUE,
          subject TEXT NOT NULL,
          body TEXT NOT NULL,
          queued_ms INTEGER NOT NULL
        );
        CREATE TABLE IF NOT EXISTS outbox_meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
      `);
    } catch (e) {
      throw new ImdsguardError('E_CONFIG', `Cannot open the outbox "${path}": ${(e as Error).message}`, { cause: e });
    }
    this.insert = this.db.prepare(
      'INSERT OR IGNORE INTO outbox (msg_id, subject, body, queued_ms) VALUES (?, ?, ?, ?)',
    );
    this.remove = this.db.prepare('DELETE FROM outbox WHERE seq = ?');
    this.after = this.db.prepare<OutboxRow>(
      'SELECT seq, msg_id AS msgId, subject, body FROM outbox WHERE seq > ? ORDER BY seq LIMIT ?',
    );
    this.dropOldest = this.db.prepare('DELETE FROM outbox WHERE seq IN (SELECT seq FROM outbox ORDER BY seq LIMIT ?)');
    this.saveDropped = this.db.prepare(
      "INSERT INTO outbox_meta (key, value) VALUES ('dropped', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
    );
    this.rows = this.db.prepare<{ n: number }>('SELECT count(*) AS n FROM outbox').get()?.n ?? 0;
    this.droppedTotal =
      this.db.prepare<{ value: number }>("SELECT value FROM outbox_meta WHERE key = 'dropped'").get()?.value ?? 0;
  }

  /**
   * Keep a message until it is acknowledged. Returns how many old rows the bound dropped to make room (0 mostly).
   * A message id already waiting is not stored twice.
   */
  put(msgId: string, subject: string, body: string, nowMs: number): number {
    return this.putMany([{ msgId, subject, body }], nowMs);
  }

  /** Keep several messages, in one transaction (one write to the file for a burst of findings). */
  putMany(messages: ReadonlyArray<Omit<OutboxRow, 'seq'>>, nowMs: number): number {
    return this.db.transaction(() => {
      for (const m of messages) if (this.insert.run(m.msgId, m.subject, m.body, nowMs).changes === 1) this.rows++;
      return this.enforceBound();
    });
  }

  private enforceBound(): number {
    if (this.rows <= this.maxRows) return 0;
    const dropped = this.dropOldest.run(this.rows - this.maxRows).changes;
    this.droppedTotal += dropped;
    this.saveDropped.run(this.droppedTotal);
    this.rows -= dropped;
    return dropped;
  }

  /** The oldest rows after `seq`, in order. */
  next(afterSeq: number, limit: number): OutboxRow[] {
    return this.after.all(afterSeq, limit);
  }

  /** The server acknowledged these rows: forget them. */
  ack(seqs: readonly number[]): void {
    this.db.transaction(() => {
      for (const seq of seqs) if (this.remove.run(seq).changes === 1) this.rows--;
    });
  }

  /** Rows waiting for an acknowledgement. */
  get size(): number {
    return this.rows;
  }

  /** Rows the bound has dropped since the outbox file was created. */
  get dropped(): number {
    return this.droppedTotal;
  }

  close(): void {
    this.db.close();
  }
}
