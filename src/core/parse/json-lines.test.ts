import assert from 'node:assert/strict';
import { test } from 'node:test';
import { jsonFormat, quickJsonPlaces } from './json-lines.ts';

const URL = 'http://169.254.169.254/latest/meta-data/';

test('quickJsonPlaces() reads from the text a URL the record walk does not reach or keep', () => {
  // Deeper than the walk goes, with no key given twice.
  let deep = JSON.stringify({ u: URL });
  for (let i = 0; i < 20; i++) deep = `{"k${i}":${deep}}`;
  assert.ok(quickJsonPlaces(deep, {})?.includes(URL), 'deep value');
  // A key given twice: the first value is gone from the parsed record.
  assert.ok(quickJsonPlaces(`{"a":"${URL}","a":"x"}`, {})?.includes(URL), 'repeated key');
  // Under a path the walk skips (a key that is also an inherited name).
  assert.ok(quickJsonPlaces(`{"toString":"${URL}"}`, {})?.includes(URL), 'inherited name');
  // Escaped slashes, short once decoded.
  assert.ok(quickJsonPlaces(`{"a":{"b":"${URL.replace(/\//g, '\\/')}"}}`, {})?.includes(URL), 'escaped');
});

test('ECS records: the request target, method, status and client under nested objects', () => {
  const target = '/thumb/300x300/687474703a2f2f3136392e3235342e3136392e3235342f6c61746573742f.jpg';
  const line = JSON.stringify({
    '@timestamp': '2026-11-21T10:00:08Z',
    url: { original: target, domain: 'images.example.com' },
    http: { request: { method: 'GET', referrer: 'https://example.com/p' }, response: { status_code: 200 } },
    client: { ip: '203.0.113.12' },
  });
  const parsed = jsonFormat.create({}).parse(line, { file: 'ecs.jsonl', line: 1 });
  assert.ok(parsed.kind === 'event', JSON.stringify(parsed));
  // The object under `url` does not hide the string under `url.original`.
  assert.equal(parsed.event.target, target);
  assert.equal(parsed.event.method, 'GET');
  assert.equal(parsed.event.status, 200);
  assert.equal(parsed.event.clientIp, '203.0.113.12');
});
