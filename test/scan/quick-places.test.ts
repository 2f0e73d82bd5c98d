import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { parseCombined, quickCombinedPlaces } from '../../src/core/parse/combined.ts';
import { placesOf } from '../../src/core/rules/ssrf-http.ts';

/** What the SSRF rule reads from a fully parsed line. */
function fullPlaces(line: string): string[] | undefined {
  const ev = parseCombined(line, 'combined', { file: 'f', line: 1 });
  return ev
    ? placesOf(ev)
        .map((p) => p.value)
        .sort()
    : undefined;
}

const piece = fc.constantFrom(
  ' ',
  '"',
  '\\',
  '\\"',
  '[',
  ']',
  ' [',
  '] "',
  '-',
  '200',
  '5120',
  'GET',
  '/a?u=http://169.254.169.254/',
  'HTTP/1.1',
  '\t',
  '\u2028',
  '\r',
  'x',
  '%41',
  '" "',
  '::1',
  '192.0.2.1',
  '10/Oct/2026:13:55:36 +0000',
  '\u00a0',
  'é',
);
const clean = fc.constantFrom('', 'x', '/p?q=1', 'GET /a HTTP/1.1', 'https://r.example/', 'Mozilla/5.0', '-', 'a b');
const fragment = fc.oneof(
  { weight: 3, arbitrary: clean },
  { weight: 2, arbitrary: fc.array(piece, { maxLength: 6 }).map((a) => a.join('')) },
);

/** Lines shaped like combined/common with random fragments in every field, plus fully random ones. */
const lineArb = fc.oneof(
  {
    weight: 4,
    arbitrary: fc
      .tuple(
        fc.oneof(fc.constantFrom('203.0.113.9', '::1', 'x'), fragment),
        fc.oneof(fc.constant('-'), fragment),
        fc.oneof(fc.constantFrom('-', 'frank', 'a b'), fragment),
        fc.oneof(fc.constantFrom('10/Oct/2026:13:55:36 +0000', 't'), fragment),
        fragment,
        fc.constantFrom('200', '-', '404', '302', '20', '2000'),
        fc.constantFrom('512', '-', '0', '1234', '', '12a'),
        fragment,
        fragment,
        fragment,
        fc.boolean(),
      )
      .map(
        ([ip, id, user, time, req, st, by, ref, ua, tail, pair]) =>
          `${ip || '1.2.3.4'} ${id || '-'} ${user || '-'} [${time || 't'}] "${req}" ${st} ${by}${pair ? ` "${ref}" "${ua}"` : ''}${tail}`,
      ),
  },
  { weight: 1, arbitrary: fc.array(piece, { maxLength: 25 }).map((a) => a.join('')) },
);

describe('combined fast path', () => {
  it('gives exactly the fields the full parse gives, or declines', () => {
    let taken = 0;
    fc.assert(
      fc.property(lineArb, (line) => {
        const quick = quickCombinedPlaces(line);
        if (quick === null) return true;
        taken++;
        assert.deepEqual([...quick].sort(), fullPlaces(line), JSON.stringify(line));
        return true;
      }),
      { numRuns: 20_000, seed: 7 },
    );
    // The property must be exercised, not vacuously true.
    assert.ok(taken > 1500, `fast path taken on ${taken} lines`);
  });

  it('takes the fast path on ordinary lines', () => {
    const line =
      '203.0.113.10 - - [21/Nov/2026:09:12:01 +0000] "GET /a?b=1 HTTP/1.1" 200 5120 "https://x.example/" "Mozilla/5.0" "198.51.100.1"';
    assert.deepEqual(quickCombinedPlaces(line), ['/a?b=1', 'https://x.example/', '"198.51.100.1"']);
    assert.deepEqual(quickCombinedPlaces(line)!.sort(), fullPlaces(line));
    const common = '10.1.2.3 - frank [10/Oct/2026:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326';
    assert.deepEqual(quickCombinedPlaces(common), ['/apache_pb.gif']);
  });
});
