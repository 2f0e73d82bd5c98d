import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeScanJob, encodeScanJob, type ScanJob, scanJobMsgId } from './contract.ts';

const job: ScanJob = {
  v: 1,
  path: '/mnt/archive/web-1/access.log.3.gz',
  sha256: 'a'.repeat(64),
  size: 1234,
  host: { id: 'web-1', name: 'web-1.example' },
  account: '123456789012',
  region: 'eu-west-1',
  queued_at: '2026-12-05T10:00:00.000Z',
};

describe('scan jobs on the bus', () => {
  it('round-trips, and the message id follows path and content only', () => {
    assert.deepEqual(decodeScanJob(encodeScanJob(job)), job);
    const id = scanJobMsgId(job);
    assert.match(id, /^[0-9a-f]{32}$/);
    assert.equal(scanJobMsgId({ ...job, queued_at: 'later', host: { id: 'other' } } as ScanJob), id);
    assert.notEqual(scanJobMsgId({ ...job, sha256: 'b'.repeat(64) }), id);
    assert.notEqual(scanJobMsgId({ ...job, path: `${job.path}x` }), id);
  });

  it('refuses what is not a job, saying why', () => {
    const bad: Array<[string, RegExp]> = [
      ['[1]', /no absolute path|version/],
      [JSON.stringify({ ...job, v: 2 }), /job version 2 is not 1/],
      [JSON.stringify({ ...job, path: 'relative/access.log' }), /no absolute path/],
      [JSON.stringify({ ...job, sha256: 'xyz' }), /no sha256/],
      [JSON.stringify({ ...job, host: {} }), /no host\.id/],
      ['null', /not a JSON object/],
    ];
    for (const [text, reason] of bad) assert.throws(() => decodeScanJob(text), reason, text);
    assert.throws(() => decodeScanJob('{'), SyntaxError);
  });
});
