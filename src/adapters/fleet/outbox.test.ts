import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Outbox } from './outbox.ts';

const msg = (i: number) => ({ msgId: `id-${i}`, subject: `imds.v1.finding.a.r.scan.high`, body: `{"n":${i}}` });

describe('Outbox (SQLite file)', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'imdsguard-outbox-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('keeps messages in order until acknowledged, once per message id, across a reopen', () => {
    const path = join(dir, 'sub', 'order.sqlite');
    const a = new Outbox(path, { maxRows: 100 });
    assert.equal(a.put('id-1', 's', 'b1', 1000), 0);
    assert.equal(a.putMany([msg(2), msg(3), { ...msg(1), body: 'again' }], 2000), 0);
    assert.equal(a.size, 3);
    const rows = a.next(0, 10);
    assert.deepEqual(
      rows.map((r) => [r.msgId, r.body]),
      [
        ['id-1', 'b1'],
        ['id-2', '{"n":2}'],
        ['id-3', '{"n":3}'],
      ],
    );
    const [first, second, third] = rows;
    assert.ok(first && second && third);
    assert.deepEqual(a.next(first.seq, 1), [second]);
    a.ack([second.seq, second.seq]);
    assert.equal(a.size, 2);
    a.close();

    const b = new Outbox(path, { maxRows: 100 });
    assert.equal(b.size, 2);
    assert.deepEqual(
      b.next(0, 10).map((r) => r.msgId),
      ['id-1', 'id-3'],
    );
    b.ack([first.seq, third.seq]);
    assert.equal(b.size, 0);
    assert.deepEqual(b.next(0, 10), []);
    b.close();
  });

  it('drops the oldest past its bound and remembers how many it dropped', () => {
    const path = join(dir, 'bound.sqlite');
    const a = new Outbox(path, { maxRows: 3 });
    assert.equal(a.putMany([msg(1), msg(2)], 1), 0);
    assert.equal(a.putMany([msg(3), msg(4), msg(5)], 2), 2);
    assert.equal(a.size, 3);
    assert.equal(a.dropped, 2);
    assert.deepEqual(
      a.next(0, 10).map((r) => r.msgId),
      ['id-3', 'id-4', 'id-5'],
    );
    a.close();
    const b = new Outbox(path, { maxRows: 3 });
    assert.equal(b.dropped, 2);
    assert.equal(b.put('id-6', 's', 'b', 3), 1);
    assert.equal(b.dropped, 3);
    b.close();
  });

  it('names the file it cannot open', () => {
    assert.throws(
      () => new Outbox(dir, { maxRows: 10 }),
      (e: Error & { code?: string }) => e.code === 'E_CONFIG' && e.message.includes(`Cannot open the outbox "${dir}"`),
    );
  });
});
