import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseRfc3339 } from './rfc3339.ts';

test('RFC 3339 times are read with their offset; a date alone is midnight UTC', () => {
  assert.equal(parseRfc3339('2026-11-21T09:00:00Z'), Date.UTC(2026, 10, 21, 9));
  assert.equal(parseRfc3339('2026-11-21t10:30:00.25+01:30'), Date.UTC(2026, 10, 21, 9, 0, 0, 250));
  assert.equal(parseRfc3339('2026-11-21 09:00:00-02:00'), Date.UTC(2026, 10, 21, 11));
  assert.equal(parseRfc3339('2026-11-21'), Date.UTC(2026, 10, 21));
  assert.equal(parseRfc3339('2028-02-29T00:00:00Z'), Date.UTC(2028, 1, 29));
});

test('what Date.parse would read as another time, or at all, is refused', () => {
  for (const bad of [
    '2026-02-30T00:00:00Z',
    '2027-02-29',
    '2026-13-01T00:00:00Z',
    '2026-11-21T24:00:00Z',
    '2026-11-21T09:00Z',
    '2026-11-21T09:00:00',
    '2026-11-21T09:00:00+25:00',
    '1',
    'Dec 5 2026',
    'yesterday',
    '',
  ])
    assert.equal(parseRfc3339(bad), undefined, bad);
});
