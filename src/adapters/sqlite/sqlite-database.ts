/**
 * One SQLite interface for the fleet's local files (the outbox, the findings store, the correlator state), over
 * whichever driver this runtime can load: better-sqlite3 (an optional native dependency, built by `npm ci` for the
 * Node.js that ran it) when it loads, else Node's own `node:sqlite` (Node >= 22.13). better-sqlite3 comes first
 * because it is what an install on any supported Node provides and `node:sqlite` still prints an experimental
 * warning on Node 22; `node:sqlite` serves a runtime the native module was not built for (the suite's Node 24 pass,
 * an install whose native build failed). Both give the same results through this interface, and the same tests run
 * on both (see scripts/run-tests.mjs).
 */
import { createRequire } from 'node:module';

export type SqliteValue = string | number | bigint | null | Uint8Array;
/** Positional values (`?`), or one object of named values (`@name`, keys without the `@`). */
export type SqliteParams = SqliteValue[] | [Record<string, SqliteValue>];

export interface SqliteStatement<Row = Record<string, SqliteValue>> {
  /** Rows changed by the statement. */
  run(...params: SqliteParams): { changes: number };
  /** The first row, or undefined. */
  get(...params: SqliteParams): Row | undefined;
  all(...params: SqliteParams): Row[];
}

export type SqliteDriverName = 'better-sqlite3' | 'node:sqlite';

export interface SqliteDatabase {
  readonly driver: SqliteDriverName;
  readonly isOpen: boolean;
  /** Runs SQL without results (DDL, pragmas; several statements allowed). */
  exec(sql: string): void;
  prepare<Row = Record<string, SqliteValue>>(sql: string): SqliteStatement<Row>;
  /** Runs `fn` in a transaction (a savepoint when nested): committed when it returns, rolled back when it throws. */
  transaction<T>(fn: () => T): T;
  close(): void;
}

export interface SqliteOpenOptions {
  /** Open an existing file for reading only (an absent file is an error). */
  readonly?: boolean;
}

/** How long a statement waits for another connection's lock before failing (better-sqlite3's default). */
const BUSY_TIMEOUT_MS = 5000;

/** The parts of better-sqlite3 used here. */
interface BetterSqliteStatement {
  run(...p: unknown[]): { changes: number };
  get(...p: unknown[]): unknown;
  all(...p: unknown[]): unknown[];
}
interface BetterSqliteDb {
  readonly open: boolean;
  exec(sql: string): unknown;
  prepare(sql: string): BetterSqliteStatement;
  transaction<F extends () => unknown>(fn: F): F;
  close(): void;
}
type BetterSqliteCtor = new (
  path: string,
  o?: { readonly?: boolean; fileMustExist?: boolean; timeout?: number },
) => BetterSqliteDb;

/** The parts of `node:sqlite` used here (not in the Node 20 type definitions the project builds against). */
interface NodeSqliteStatement {
  run(...p: unknown[]): { changes: number | bigint };
  get(...p: unknown[]): unknown;
  all(...p: unknown[]): unknown[];
}
interface NodeSqliteDb {
  exec(sql: string): void;
  prepare(sql: string): NodeSqliteStatement;
  close(): void;
}
interface NodeSqliteModule {
  DatabaseSync: new (path: string, o?: { readOnly?: boolean; timeout?: number }) => NodeSqliteDb;
}

type Opener = (path: string, o: SqliteOpenOptions) => SqliteDatabase;

class BetterSqliteDatabase implements SqliteDatabase {
  readonly driver = 'better-sqlite3';
  private readonly db: BetterSqliteDb;
  constructor(db: BetterSqliteDb) {
    this.db = db;
  }
  get isOpen(): boolean {
    return this.db.open;
  }
  exec(sql: string): void {
    this.db.exec(sql);
  }
  prepare<Row>(sql: string): SqliteStatement<Row> {
    return this.db.prepare(sql) as SqliteStatement<Row>;
  }
  transaction<T>(fn: () => T): T {
    return this.db.transaction(fn)() as T;
  }
  close(): void {
    if (this.db.open) this.db.close();
  }
}

/** node:sqlite rows have a null prototype; callers (and deepEqual) get plain objects, as from better-sqlite3. */
const plain = <Row>(r: unknown): Row => ({ ...(r as object) }) as Row;

class NodeSqliteDatabase implements SqliteDatabase {
  readonly driver = 'node:sqlite';
  private open = true;
  private depth = 0;
  private readonly db: NodeSqliteDb;
  constructor(db: NodeSqliteDb) {
    this.db = db;
  }
  get isOpen(): boolean {
    return this.open;
  }
  exec(sql: string): void {
    this.db.exec(sql);
  }
  prepare<Row>(sql: string): SqliteStatement<Row> {
    const s = this.db.prepare(sql);
    return {
      run: (...p) => ({ changes: Number(s.run(...p).changes) }),
      get: (...p) => {
        const r = s.get(...p);
        return r === undefined ? undefined : plain<Row>(r);
      },
      all: (...p) => s.all(...p).map((r) => plain<Row>(r)),
    };
  }
  /** The same semantics as better-sqlite3's `transaction()`: BEGIN at the outside, savepoints within. */
  transaction<T>(fn: () => T): T {
    const sp = `imdsguard_tx_${this.depth}`;
    this.db.exec(this.depth === 0 ? 'BEGIN' : `SAVEPOINT ${sp}`);
    this.depth++;
    let result: T;
    try {
      result = fn();
    } catch (e) {
      this.depth--;
      this.db.exec(this.depth === 0 ? 'ROLLBACK' : `ROLLBACK TO ${sp}; RELEASE ${sp}`);
      throw e;
    }
    this.depth--;
    this.db.exec(this.depth === 0 ? 'COMMIT' : `RELEASE ${sp}`);
    return result;
  }
  close(): void {
    if (!this.open) return;
    this.open = false;
    this.db.close();
  }
}

function betterSqlite(): Opener {
  const Database = createRequire(import.meta.url)('better-sqlite3') as BetterSqliteCtor;
  // The native addon loads on the first open: a build for another Node fails here, not at the first real file.
  new Database(':memory:').close();
  return (path, o) =>
    new BetterSqliteDatabase(
      o.readonly
        ? new Database(path, { readonly: true, fileMustExist: true, timeout: BUSY_TIMEOUT_MS })
        : new Database(path, { timeout: BUSY_TIMEOUT_MS }),
    );
}

function nodeSqlite(): Opener | undefined {
  const m = process.getBuiltinModule('node:sqlite') as NodeSqliteModule | undefined;
  if (!m) return undefined;
  return (path, o) => {
    const db = new m.DatabaseSync(path, o.readonly ? { readOnly: true } : {});
    // The `timeout` option is newer than node:sqlite itself; the pragma works on every version.
    db.exec(`PRAGMA busy_timeout = ${BUSY_TIMEOUT_MS}`);
    return new NodeSqliteDatabase(db);
  };
}

let opener: Opener | undefined;

function chooseDriver(): Opener {
  let why: string;
  try {
    return betterSqlite();
  } catch (e) {
    why = (e as Error).message.split('\n')[0] ?? String(e);
  }
  const fallback = nodeSqlite();
  if (fallback) return fallback;
  throw new Error(
    `no SQLite driver: better-sqlite3 did not load (${why}) and node:sqlite needs Node >= 22.13 (this is ${process.version}); run npm ci with a C++ compiler, or use a newer Node`,
  );
}

/** Opens (creating it unless `readonly`) a SQLite file, or `:memory:`. */
export function openSqlite(path: string, o: SqliteOpenOptions = {}): SqliteDatabase {
  opener ??= chooseDriver();
  return opener(path, o);
}
