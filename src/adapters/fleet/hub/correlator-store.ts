/**
 * The correlator's state on disk (SQLite, one row): written in the same step as the hub findings it led to are
 * published and before the batch is acknowledged, so a hub restart resumes where it stopped. Observing is
 * idempotent, so the batch redelivered after a crash between the write and the acknowledgement changes nothing.
 * When the file is new, the hub replays the stream into it from the start (see app/hub.ts).
 */
import { dirname } from 'node:path';
import { ImdsguardError } from '../../../core/errors.ts';
import { type CorrelatorState, newCorrelatorState } from '../../../core/fleet/correlate.ts';
import { makeDirsSync } from '../../files/make-dirs.ts';
import { openSqlite, type SqliteDatabase } from '../../sqlite/sqlite-database.ts';

export interface CorrelatorStore {
  /** True when the file held no state: the correlator must be rebuilt by replay. */
  readonly fresh: boolean;
  load(): CorrelatorState;
  save(state: CorrelatorState): void;
  close(): void;
}

export async function openCorrelatorStore(path: string): Promise<CorrelatorStore> {
  let db: SqliteDatabase;
  try {
    if (path !== ':memory:') makeDirsSync(dirname(path));
    db = openSqlite(path);
    db.exec(`
      PRAGMA journal_mode = WAL;
      CREATE TABLE IF NOT EXISTS correlator_state (k TEXT PRIMARY KEY, v TEXT NOT NULL);
    `);
  } catch (e) {
    throw new ImdsguardError('E_CONFIG', `Cannot open correlator state "${path}": ${(e as Error).message}`, {
      cause: e,
    });
  }
  const get = db.prepare<{ v: string }>("SELECT v FROM correlator_state WHERE k = 'state'");
  const put = db.prepare(
    "INSERT INTO correlator_state (k, v) VALUES ('state', ?) ON CONFLICT (k) DO UPDATE SET v = excluded.v",
  );
  const fresh = get.get() === undefined;
  return {
    fresh,
    load() {
      const row = get.get();
      if (!row) return newCorrelatorState();
      const s = JSON.parse(row.v) as CorrelatorState;
      return s.v === 1 ? s : newCorrelatorState();
    },
    save(state) {
      put.run(JSON.stringify(state));
    },
    close() {
      db.close();
    },
  };
}
