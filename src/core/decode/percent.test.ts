import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { percentDecodeOnce } from './percent.ts';

/** The plain reading of one round, character by character: the reference the fast loop is held to. */
function reference(s: string): string {
  const utf8 = new TextDecoder('utf-8', { fatal: false });
  let out = '';
  let bytes: number[] = [];
  const flush = () => {
    if (bytes.length > 0) out += utf8.decode(new Uint8Array(bytes));
    bytes = [];
  };
  for (let i = 0; i < s.length; i++) {
    if (s[i] === '%') {
      const h = s.slice(i + 1, i + 3);
      if (/^[0-9a-fA-F]{2}$/.test(h)) {
        bytes.push(Number.parseInt(h, 16));
        i += 2;
        continue;
      }
      if ((s[i + 1] === 'u' || s[i + 1] === 'U') && /^[0-9a-fA-F]{4}$/.test(s.slice(i + 2, i + 6))) {
        flush();
        out += String.fromCharCode(Number.parseInt(s.slice(i + 2, i + 6), 16));
        i += 5;
        continue;
      }
    }
    flush();
    out += s[i];
  }
  flush();
  return out;
}

test('percentDecodeOnce() decodes as the plain reading does (property)', () => {
  const piece = fc.oneof(
    fc.constantFrom(
      '%',
      '%2',
      '%25',
      '%41',
      '%c3%a9',
      '%C3',
      '%A9',
      '%e2%80',
      '%ff',
      '%u0041',
      '%U00e9',
      '%u12',
      '%zz',
      'a',
      '/',
      'é',
      '%%',
      '%2F',
      '%0a',
    ),
    fc.integer({ min: 0, max: 255 }).map((b) => `%${b.toString(16).padStart(2, '0')}`),
    fc.string({ maxLength: 3 }),
  );
  fc.assert(
    fc.property(fc.array(piece, { maxLength: 30 }), (parts) => {
      const s = parts.join('');
      return percentDecodeOnce(s) === reference(s);
    }),
    { numRuns: 20000 },
  );
  const long = '%41'.repeat(5000);
  assert.equal(percentDecodeOnce(long), 'A'.repeat(5000));
});
