import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { CombinedScan, combinedScanAvailable } from '../../src/app/combined-scan-wasm.ts';
import { filterChunk, lineWanted, pickLines } from '../../src/app/scan-line-filter.ts';
import { scanRules } from '../../src/app/scan-rules.ts';
import { quickCombinedPlaces, quickCombinedSpans } from '../../src/core/parse/combined.ts';
import { NextIndex, SpanMemo } from '../../src/core/parse/spans.ts';
import { mayHoldSecret } from '../../src/core/secrets/detect.ts';
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
  it('picks exactly the lines lineWanted picks, span path or not', () => {
    const rules = scanRules().filter((r) => r.placeFilter);
    let picked = 0;
    fc.assert(
      fc.property(chunkArb, (text) => {
        const bytes = Buffer.byteLength(text);
        const fast: number[] = [];
        pickLines(text, bytes, rules, { places, spans: quickCombinedSpans }, undefined, (i) => fast.push(i));
        // The WebAssembly line stage (given the chunk's bytes) picks the same lines, with the same text.
        const wasm: Array<[number, string]> = [];
        pickLines(
          text,
          bytes,
          rules,
          { places, spans: quickCombinedSpans },
          undefined,
          (i, l) => wasm.push([i, l]),
          Buffer.from(text),
        );
        const slow: number[] = [];
        text
          .split('\n')
          .slice(0, -1)
          .forEach((raw, i) => {
            const l = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
            // The per-line reference, told nothing about the chunk (no no-breaks promise).
            if (lineWanted(l, rules, places, undefined, false)) slow.push(i);
          });
        assert.deepEqual(fast, slow, JSON.stringify(text));
        assert.deepEqual(
          wasm.map(([i]) => i),
          slow,
          `wasm: ${JSON.stringify(text)}`,
        );
        const lines = text.split('\n');
        for (const [i, l] of wasm) assert.equal(l, lines[i]!.replace(/\r$/, ''));
        picked += fast.length;
        return true;
      }),
      { numRuns: 3000, seed: 5 },
    );
    assert.ok(picked > 500, `picked ${picked}`);
  });

  it('has the WebAssembly line stage once built (CI builds it first)', (t) => {
    if (!combinedScanAvailable()) {
      assert.ok(process.env.CI !== 'true', 'dist/wasm/combined-scan.wasm must be built in CI');
      t.skip('dist/wasm/combined-scan.wasm not built (npm run build)');
      return;
    }
    // Many repeats of one line: the first ones teach the cache, the rest are settled in WebAssembly.
    const line =
      '203.0.113.9 - - [21/Nov/2026:00:00:00 +0000] "GET /p?u=http://169.254.169.254/latest/ HTTP/1.1" 200 1 "-" "x"';
    const ok = '203.0.113.9 - - [21/Nov/2026:00:00:00 +0000] "GET /ok HTTP/1.1" 200 1 "-" "x"';
    const text = `${[ok, line, ok, ok, line].join('\n')}\n`.repeat(200);
    const rules = scanRules().filter((r) => r.placeFilter);
    const seen: number[] = [];
    pickLines(
      text,
      text.length,
      rules,
      { places, spans: quickCombinedSpans },
      undefined,
      (i) => seen.push(i),
      Buffer.from(text),
    );
    assert.equal(seen.length, 400);
    assert.ok(seen.every((i) => i % 5 === 1 || i % 5 === 4));
  });

  it('finds secret markers on bytes exactly where the core prefilter finds them in text', (t) => {
    const scanner = CombinedScan.create(() => false);
    if (!scanner) {
      assert.ok(process.env.CI !== 'true', 'dist/wasm/combined-scan.wasm must be built in CI');
      t.skip('dist/wasm/combined-scan.wasm not built (npm run build)');
      return;
    }
    const bit = fc.constantFrom(
      'AKIA',
      'ASIA',
      'ABIA',
      'ACCA',
      'AKI',
      'KIA',
      'STS.',
      'STS',
      'ya29.',
      'ya29',
      'eyJ',
      'ey',
      'yJ',
      'secret',
      'SeCrEt',
      'secre',
      'ecret',
      'token',
      'TOKEN',
      'tOkEn',
      'toke',
      'oken',
      'PRIVATE KEY',
      'PRIVATE KE',
      'AQAEA',
      'AQAeA',
      'AQA',
      'IQoJ',
      'FwoG',
      'FQoG',
      'AgoJ',
      'AQoD',
      'CAIS',
      'CAI',
      'cr',
      'ok',
      'A',
      'S',
      '.',
      'é',
      '\n',
      ' ',
      'x',
      'ab',
      'Q',
      'K',
      'I',
      'J',
      'G',
      'D',
    );
    let hits = 0;
    fc.assert(
      fc.property(fc.array(bit, { maxLength: 40 }), fc.nat(20), (parts, pad) => {
        const text = 'p'.repeat(pad) + parts.join('');
        const expected = mayHoldSecret(text);
        if (expected) hits++;
        assert.equal(scanner.secretMarkers(Buffer.from(text)), expected, JSON.stringify(text));
        return true;
      }),
      { numRuns: 20_000, seed: 17 },
    );
    assert.ok(hits > 2000, `markers present in ${hits} cases`);
    const log = `${'203.0.113.9 - - [21/Nov/2026:00:00:00 +0000] "GET /ok HTTP/1.1" 200 1 "-" "Mozilla/5.0 (KHTML, like Gecko)"\n'.repeat(3000)}`;
    assert.equal(scanner.secretMarkers(Buffer.from(log)), false);
    assert.equal(scanner.secretMarkers(Buffer.from(`${log}x AKIAFAKE\n`)), true);
  });

  it('reads a chunk of lines without any needle in linear time', () => {
    // Every line lacks spaces and quotes: a search per line over the rest of the chunk would be quadratic.
    const text = `${'x'.repeat(30)}\n`.repeat(40_000);
    const rules = scanRules().filter((r) => r.placeFilter);
    let n = 0;
    const find = new NextIndex(text);
    let calls = 0;
    const t0 = process.hrtime.bigint();
    pickLines(text, text.length, rules, { places, spans: quickCombinedSpans }, undefined, () => n++);
    for (let p = 0; p < text.length; p += 31) if (find.next(0, ' ', p) === text.length) calls++;
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    assert.equal(calls, 40_000);
    // Not a timing test of speed: a quadratic scan here takes minutes, a linear one milliseconds.
    assert.ok(ms < 60_000, `${ms} ms`);
    assert.equal(n, 40_000, 'lines that fit no format are left to the rules (the SSRF rule takes them)');
  });

  it('memoises a pure test by content, and never answers for a different span', () => {
    let calls = 0;
    const memo = new SpanMemo((v) => {
      calls++;
      return v.includes('bad');
    }, 4);
    const text = 'xx/a/bad/yy/a/ok/zz/a/bad/';
    assert.equal(memo.get(text, 2, 8), true); // /a/bad
    assert.equal(memo.get(text, 19, 25), true); // /a/bad again: kept now (a value is kept on its second miss)
    assert.equal(calls, 2);
    assert.equal(memo.get(text, 2, 8), true); // and answered from the cache
    assert.equal(calls, 2);
    assert.equal(memo.get(text, 11, 16), false); // /a/ok
    // A tiny table collides often: answers stay right.
    for (let i = 0; i < 50; i++) {
      const t = `${'q'.repeat(i)}/bad${i}`;
      assert.equal(memo.get(t, i, t.length), true);
      assert.equal(memo.get(`${t}-`, 0, i), false);
    }
  });

  it('filterChunk reports bad bytes, evidence and directives', () => {
    const rules = scanRules();
    assert.equal(filterChunk(Buffer.from('a\u0000b\n'), rules, { places }).ok, false);
    assert.equal(filterChunk(Buffer.from([0x61, 0xff, 0x0a]), rules, { places }).ok, false);
    const withKey = filterChunk(Buffer.from('x\nkey AKIAFAKEFAKEFAKEFAKE\n'), rules, { places });
    assert.ok(withKey.ok);
    assert.deepEqual(
      withKey.evidence,
      rules.map((r) => r.chunkEvidence !== undefined),
    );
    assert.equal(filterChunk(Buffer.from('#Fields: a b\nx\n'), rules, { places }).directives, true);
  });
});
