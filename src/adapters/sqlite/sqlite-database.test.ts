import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { openSqlite, type SqliteDatabase } from './sqlite-database.ts';

// The suite runs once per runtime (scripts/run-tests.mjs), and says which driver each run must be using, so that a
// run meant for node:sqlite cannot quietly test better-sqlite3 again.
const EXPECTED = process.env.IMDSGUARD_TEST_SQLITE_DRIVER;

describe('openSqlite', () => {
  let dir: string;
  const open: SqliteDatabase[] = [];
  const db = (name: string, o: { readonly?: boolean } = {}): SqliteDatabase => {
    const d = openSqlite(join(dir, name), o);
    open.push(d);
    return d;
  };
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'imdsguard-sqlite-'));
  });
  after(() => {
    for (const d of open) d.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('uses the driver this runtime is meant to use', () => {
    const d = db('driver.sqlite');
    if (EXPECTED) assert.equal(d.driver, EXPECTED);
    // Node 20 has no node:sqlite: better-sqlite3 is the only way there.
    if (process.getBuiltinModule('node:sqlite') === undefined) assert.equal(d.driver, 'better-sqlite3');
  });

  it('binds positional and named values and returns plain rows', () => {
    const d = db('rows.sqlite');
    d.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT NOT NULL, ms INTEGER, note TEXT)');
    const byPosition = d.prepare('INSERT INTO t (name, ms, note) VALUES (?, ?, ?)');
    assert.equal(byPosition.run('a', 1_733_390_000_123, null).changes, 1);
    const byName = d.prepare('INSERT INTO t (name, ms, note) VALUES (@name, @ms, @note)');
    assert.equal(byName.run({ name: 'b', ms: 2, note: 'x' }).changes, 1);
    assert.deepEqual(d.prepare('SELECT id, name, ms, note FROM t ORDER BY id').all(), [
      { id: 1, name: 'a', ms: 1_733_390_000_123, note: null },
      { id: 2, name: 'b', ms: 2, note: 'x' },
    ]);
    assert.deepEqual(d.prepare<{ n: number }>('SELECT count(*) AS n FROM t WHERE ms > ?').get(1), { n: 2 });
    assert.equal(d.prepare('SELECT * FROM t WHERE name = ?').get('absent'), undefined);
    assert.equal(d.prepare('DELETE FROM t WHERE name = ?').run('absent').changes, 0);
  });

  it('commits a transaction that returns, rolls back one that throws, and nests as savepoints', () => {
    const d = db('tx.sqlite');
    d.exec('CREATE TABLE t (v TEXT PRIMARY KEY)');
    const put = d.prepare('INSERT INTO t (v) VALUES (?)');
    const rows = () =>
      d
        .prepare<{ v: string }>('SELECT v FROM t ORDER BY v')
        .all()
        .map((r) => r.v);
    assert.equal(
      d.transaction(() => {
        put.run('a');
        return 7;
      }),
      7,
    );
    assert.throws(
      () =>
        d.transaction(() => {
          put.run('b');
          put.run('a'); // a duplicate key: the whole transaction goes
        }),
      /UNIQUE/,
    );
    assert.deepEqual(rows(), ['a']);
    d.transaction(() => {
      put.run('c');
      assert.throws(() =>
        d.transaction(() => {
          put.run('d');
          throw new Error('inner');
        }),
      );
      put.run('e');
    });
    assert.deepEqual(rows(), ['a', 'c', 'e']);
    // The connection is usable after all of that (no transaction left open).
    put.run('f');
    assert.deepEqual(rows(), ['a', 'c', 'e', 'f']);
  });

  it('opens read-only: an absent file is an error, writes are refused, another connection sees committed rows', () => {
    assert.throws(() => db('absent.sqlite', { readonly: true }), /unable to open/i);
    const w = db('shared.sqlite');
    w.exec('PRAGMA journal_mode = WAL; CREATE TABLE t (v INTEGER)');
    w.prepare('INSERT INTO t (v) VALUES (?)').run(1);
    const r = db('shared.sqlite', { readonly: true });
    assert.deepEqual(r.prepare('SELECT v FROM t').all(), [{ v: 1 }]);
    assert.throws(() => r.prepare('INSERT INTO t (v) VALUES (2)').run(), /readonly/i);
    w.prepare('INSERT INTO t (v) VALUES (?)').run(3);
    assert.deepEqual(r.prepare('SELECT v FROM t ORDER BY v').all(), [{ v: 1 }, { v: 3 }]);
  });

  it('reports whether it is open, and closing twice is harmless', () => {
    const d = openSqlite(':memory:');
    assert.equal(d.isOpen, true);
    d.close();
    assert.equal(d.isOpen, false);
    d.close();
  });
});
