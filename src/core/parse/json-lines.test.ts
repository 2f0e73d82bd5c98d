import assert from 'node:assert/strict';
import { test } from 'node:test';
import { quickJsonPlaces } from './json-lines.ts';

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
