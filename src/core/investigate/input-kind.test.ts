import assert from 'node:assert/strict';
import { test } from 'node:test';
import { inputKindOf } from './input-kind.ts';

const kind = (text: string, whole = true) => inputKindOf(Buffer.from(text), 'x', whole);

const trailRecord = {
  eventVersion: '1.09',
  userIdentity: {
    type: 'AssumedRole',
    arn: 'arn:aws:sts::111122223333:assumed-role/web/i-0123456789abcdef0',
    accountId: '111122223333',
    accessKeyId: 'ASIAEXAMPLEEXAMPLE00',
    sessionContext: { sessionIssuer: { type: 'Role', userName: 'web' } },
  },
  eventTime: '2026-11-21T09:00:00Z',
  eventSource: 'sts.amazonaws.com',
  eventName: 'GetCallerIdentity',
  sourceIPAddress: '198.18.0.1',
  eventID: 'e1',
};

test('findings, audit records, inventory, logs, stores and empty inputs are told apart by content', () => {
  const finding = { type: 'finding', id: 'f1', rule: { id: 'ssrf-metadata' }, severity: 'high' };
  assert.equal(kind(`${JSON.stringify(finding)}\n${JSON.stringify(finding)}\n`), 'findings');
  assert.equal(kind(JSON.stringify([finding, finding])), 'findings');
  assert.equal(kind(`${JSON.stringify({ type: 'event', kind: 'connect' })}\n`), 'findings');
  assert.equal(kind(JSON.stringify({ Records: [trailRecord, trailRecord] })), 'audit');
  assert.equal(kind(`${JSON.stringify(trailRecord)}\n`), 'audit');
  const reservation = {
    Instances: [{ InstanceId: 'i-0123456789abcdef0', MetadataOptions: { HttpTokens: 'optional' } }],
  };
  assert.equal(kind(JSON.stringify({ Reservations: [reservation] })), 'inventory');
  assert.equal(kind('{"time":"2026-11-21T09:00:00Z","msg":"GET /x 200"}\n{"msg":"ok"}\n'), 'log');
  assert.equal(kind('192.0.2.1 - - [21/Nov/2026:09:00:00 +0000] "GET / HTTP/1.1" 200 1 "-" "curl"\n'), 'log');
  assert.equal(kind('SQLite format 3\u0000\u0010\u0000'), 'store');
  assert.equal(kind(''), 'empty');
  assert.equal(kind('  \n\n'), 'empty');
});

test('the majority of the first records decides; a first record longer than the bytes looked at falls back on the wrapper key', () => {
  const finding = JSON.stringify({ type: 'finding', id: 'f1', rule: { id: 'r' }, severity: 'low' });
  assert.equal(kind(`{"msg":"a stray log line"}\n${finding}\n${finding}\n`), 'findings');
  assert.equal(kind(`${finding}\n{"msg":"a"}\n{"msg":"b"}\n{"msg":"c"}\n`), 'log');
  // Cut inside the first record: nothing whole to look at.
  assert.equal(kind(`{"Records":[{"eventVersion":"1.09","requestParameters":"${'x'.repeat(100)}`, false), 'audit');
  assert.equal(
    kind(`{"Reservations":[{"Instances":[{"InstanceId":"i-0123456789abcdef0","Tags":"${'x'.repeat(100)}`, false),
    'inventory',
  );
  // A finding says what it is first: however long the record, its type decides.
  assert.equal(kind(`{"type":"finding","id":"f1","evidence":{"note":"${'x'.repeat(100)}`, false), 'findings');
  // Nothing says it: undefined, the caller reads more of the input; the whole input is a log.
  assert.equal(kind(`{"message":"${'x'.repeat(100)}`, false), undefined);
  assert.equal(kind(`{"message":"${'x'.repeat(100)}`, true), 'log');
});
