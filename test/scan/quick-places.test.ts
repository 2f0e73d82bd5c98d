import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { parseCombined, quickCombinedPlaces, quickCombinedSpans } from '../../src/core/parse/combined.ts';
import { NextIndex, spanBuffer } from '../../src/core/parse/spans.ts';
import { placesOf } from '../../src/core/rules/ssrf-http.ts';
import { lineArb } from './combined-lines.ts';

/** What the SSRF rule reads from a fully parsed line. */
function fullPlaces(line: string): string[] | undefined {
  const ev = parseCombined(line, 'combined', { file: 'f', line: 1 });
  return ev
    ? placesOf(ev)
        .map((p) => p.value)
        .sort()
    : undefined;
}

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

describe('combined span fast path', () => {
  it('gives the same fields as quickCombinedPlaces for a line inside a chunk, or declines', () => {
    let taken = 0;
    fc.assert(
      fc.property(fc.array(lineArb, { minLength: 1, maxLength: 4 }), fc.nat(3), (lines, pick) => {
        const clean = lines.map((l) => l.replace(/[\r\n\u2028\u2029]/g, ' '));
        const text = `${clean.join('\n')}\n`;
        const find = new NextIndex(text);
        const out = spanBuffer();
        let start = 0;
        for (const [i, line] of clean.entries()) {
          const end = start + line.length;
          // Lines are visited in order, as the scanner does; `pick` varies which ones are skipped.
          if (i % 4 !== pick) {
            const n = quickCombinedSpans(text, start, end, true, find, out);
            const quick = quickCombinedPlaces(line, true);
            if (n >= 0) {
              taken++;
              const spans = Array.from({ length: n }, (_, k) => text.slice(out[k * 2]!, out[k * 2 + 1]!));
              assert.deepEqual(spans, quick, JSON.stringify(line));
            }
          }
          start = end + 1;
        }
        return true;
      }),
      { numRuns: 10_000, seed: 9 },
    );
    assert.ok(taken > 1500, `span path taken on ${taken} lines`);
  });

  it('takes the span path on ordinary lines and declines without the no-breaks promise', () => {
    const line =
      '203.0.113.10 - - [21/Nov/2026:09:12:01 +0000] "GET /a?b=1 HTTP/1.1" 200 5120 "https://x.example/" "Mozilla/5.0" "198.51.100.1"';
    const text = `x\n${line}\n`;
    const out = spanBuffer();
    const n = quickCombinedSpans(text, 2, 2 + line.length, true, new NextIndex(text), out);
    assert.equal(n, 3);
    assert.deepEqual(
      [0, 1, 2].map((k) => text.slice(out[k * 2]!, out[k * 2 + 1]!)),
      ['/a?b=1', 'https://x.example/', '"198.51.100.1"'],
    );
    assert.equal(quickCombinedSpans(text, 2, 2 + line.length, false, new NextIndex(text), out), -1);
  });
});
