import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { jsonEvent, quickJsonPlaces } from '../../src/core/parse/json-lines.ts';
import { placesOf } from '../../src/core/rules/ssrf-http.ts';

// Keys the JSON reader maps (some nested), URL-ish names, and others; values of every JSON kind.
const key = fc.constantFrom(
  'url',
  'uri',
  'path',
  'request',
  'request_line',
  'host',
  'http_host',
  'referer',
  'referrer',
  'body',
  'time',
  'status',
  'bytes',
  'remote_addr',
  'user_agent',
  'method',
  'next',
  'redirect_uri',
  'callback',
  'webhook',
  'msg',
  'id',
  'httpRequest',
  'requestUrl',
  'req',
  'headers',
  'Referer',
  'url.original',
  'http',
  'request.url',
  'x',
);
const scalar = fc.oneof(
  fc.constantFrom(
    '',
    '-',
    'GET /a?u=http://169.254.169.254/ HTTP/1.1',
    'http://0xa9fea9fe/latest/',
    '/ok',
    'metadata.google.internal',
    '21/Nov/2026:00:00:00 +0000',
    'Mozilla/5.0',
    '127.0.0.1',
    'x',
    'POST',
    'a\\u002fb',
  ),
  fc.integer(),
  fc.constant(2852039166),
  fc.boolean(),
  fc.constant(null),
);
const value: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  v: fc.oneof({ depthSize: 'small', withCrossShrink: true }, scalar, tie('o'), fc.array(tie('v'), { maxLength: 3 })),
  o: fc.dictionary(key, tie('v'), { maxKeys: 5 }),
})).v;
const record = fc.dictionary(key, value, { maxKeys: 8 });
const fieldMap = fc.oneof(
  fc.constant({}),
  fc.dictionary(fc.constantFrom('url', 'host', 'referer', 'body', 'custom', 'other'), key, { maxKeys: 3 }),
);

describe('JSON lines fast path', () => {
  it('lists every value the full read puts in a field a rule reads', () => {
    let nonEmpty = 0;
    fc.assert(
      fc.property(record, fieldMap, (o, map) => {
        const line = JSON.stringify(o);
        const quick = quickJsonPlaces(line, { fieldMap: map });
        assert.ok(quick, 'a JSON object line is always listed');
        const ev = jsonEvent(JSON.parse(line) as Record<string, unknown>, { fieldMap: map }, { file: 'f', line: 1 });
        const full = placesOf(ev).map((p) => p.value);
        if (full.length > 0) nonEmpty++;
        for (const v of full) assert.ok(quick.includes(v), `${JSON.stringify(v)} missing for ${line}`);
        return true;
      }),
      { numRuns: 5000, seed: 21 },
    );
    assert.ok(nonEmpty > 1000, `records with places: ${nonEmpty}`);
  });

  it('declines what is not a JSON object', () => {
    assert.equal(quickJsonPlaces('not json', {}), null);
    assert.equal(quickJsonPlaces('[1,2]', {}), null);
    assert.deepEqual(quickJsonPlaces('{"url":"/a","time":"t","referer":"-"}', {}), ['/a']);
  });
});
