import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { lineWanted, pickLines } from '../../src/app/scan-line-filter.ts';
import { scanRules } from '../../src/app/scan-rules.ts';
import { quickCombinedPlaces } from '../../src/core/parse/combined.ts';
import { lineArb } from './combined-lines.ts';

const places = (t: string, nb: boolean) => quickCombinedPlaces(t, nb);
const attack = fc.constantFrom(
  '203.0.113.9 - - [21/Nov/2026:00:00:00 +0000] "GET /p?u=http://169.254.169.254/latest/meta-data/ HTTP/1.1" 200 1 "-" "x"',
  '203.0.113.9 - - [21/Nov/2026:00:00:00 +0000] "GET /p HTTP/1.1" 200 1 "http://0xa9fea9fe/" "x"',
  '203.0.113.9 - - [21/Nov/2026:00:00:00 +0000] "GET /ok HTTP/1.1" 200 1 "-" "x" "metadata.google.internal"',
  '203.0.113.9 - - [21/Nov/2026:00:00:00 +0000] "GET /ok HTTP/1.1" 200 1 "-" "x"',
);
const chunkArb = fc
  .array(fc.oneof(lineArb, attack), { minLength: 1, maxLength: 12 })
  .chain((lines) => fc.constantFrom('\n', '\r\n').map((eol) => `${lines.join(eol)}${eol}`));

describe('scan line filter', () => {
  it('picks in a chunk exactly the lines lineWanted picks on each line alone', () => {
    const rules = scanRules().filter((r) => r.placeFilter);
    let picked = 0;
    fc.assert(
      fc.property(chunkArb, (text) => {
        const got: Array<[number, string]> = [];
        pickLines(text, Buffer.byteLength(text), rules, places, undefined, (i, l) => got.push([i, l]));
        const expected: Array<[number, string]> = [];
        text
          .split('\n')
          .slice(0, -1)
          .forEach((raw, i) => {
            const l = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
            // The per-line reference, told nothing about the chunk (no no-breaks promise).
            if (lineWanted(l, rules, places, undefined, false)) expected.push([i, l]);
          });
        assert.deepEqual(got, expected, JSON.stringify(text));
        picked += got.length;
        return true;
      }),
      { numRuns: 3000, seed: 5 },
    );
    assert.ok(picked > 500, `picked ${picked}`);
  });

  it('reads a chunk of lines without any needle in linear time', () => {
    // Every line lacks spaces and quotes: a search per line over the rest of the chunk would be quadratic.
    const text = `${'x'.repeat(30)}\n`.repeat(40_000);
    const rules = scanRules().filter((r) => r.placeFilter);
    let n = 0;
    const t0 = process.hrtime.bigint();
    pickLines(text, text.length, rules, places, undefined, () => n++);
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    // Not a timing test of speed: a quadratic scan here takes minutes, a linear one milliseconds.
    assert.ok(ms < 60_000, `${ms} ms`);
    assert.equal(n, 40_000, 'lines that fit no format are left to the rules (the SSRF rule takes them)');
  });
});
