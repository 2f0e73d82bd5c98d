import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { requestTargetSpan, splitRequestLine } from '../../src/core/parse/fields.ts';

// The hot path's target extraction must agree with the general request-line split on every input.
const piece = fc.constantFrom(
  'GET',
  'get',
  'POST',
  'M-SEARCH',
  'X_Y',
  'G3T',
  ' ',
  '  ',
  '\t',
  '\u00a0',
  '\u2003',
  '-',
  '/a',
  '/latest/meta-data/',
  'http://169.254.169.254/',
  'HTTP/1.1',
  'http/2',
  'HTTPS/1',
  'HTTPS/',
  'RTSP/1.0',
  'HTTP\u000f1',
  'HTTP/',
  'HTTP/x',
  '1',
  '"',
  '?',
  'é',
  'ABCDEFGHIJKLMNOPQRSTUVWXYZ',
);
const requestArb = fc.array(piece, { maxLength: 8 }).map((a) => a.join(''));

/** The target `requestTargetSpan` finds in `s[a, b)`: the string, undefined for none, or 'defer'. */
function requestTargetOf(s: string, a: number, b: number): string | undefined | 'defer' {
  const out = new Int32Array(2);
  const r = requestTargetSpan(s, a, b, out, 0);
  return r < 0 ? 'defer' : r === 0 ? undefined : s.slice(out[0]!, out[1]!);
}

const wsLike = (c: number | undefined) => c !== undefined && (c <= 32 || c >= 128);

describe('requestTargetSpan', () => {
  it('gives the target splitRequestLine gives, on any slice, or defers on surrounding whitespace', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 3 }), requestArb, fc.string({ maxLength: 3 }), (pre, req, post) => {
        const s = pre + req + post;
        const got = requestTargetOf(s, pre.length, pre.length + req.length);
        const want = splitRequestLine(req).target;
        if (got === 'defer') assert.ok(wsLike(req.charCodeAt(0)) || wsLike(req.charCodeAt(req.length - 1)), req);
        else assert.equal(got, want || undefined, JSON.stringify(req));
      }),
      { numRuns: 20_000, seed: 11 },
    );
  });

  it('handles the ordinary cases', () => {
    assert.equal(requestTargetOf('"GET /a?b=1 HTTP/1.1"', 1, 20), '/a?b=1');
    assert.equal(requestTargetOf('x-', 1, 2), undefined);
    assert.equal(requestTargetOf('GET /a HTTPX/1', 0, 14), '/a HTTPX/1');
    assert.equal(requestTargetOf('/only', 0, 5), '/only');
    assert.equal(requestTargetOf(' GET /a', 0, 7), 'defer');
  });
});
