import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { requestTargetOf, splitRequestLine } from '../../src/core/parse/fields.ts';

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

describe('requestTargetOf', () => {
  it('gives the target splitRequestLine gives, on any slice', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 3 }), requestArb, fc.string({ maxLength: 3 }), (pre, req, post) => {
        const s = pre + req + post;
        assert.equal(requestTargetOf(s, pre.length, pre.length + req.length), splitRequestLine(req).target);
      }),
      { numRuns: 20_000, seed: 11 },
    );
  });

  it('handles the ordinary cases', () => {
    assert.equal(requestTargetOf('"GET /a?b=1 HTTP/1.1"', 1, 20), '/a?b=1');
    assert.equal(requestTargetOf('x-', 1, 2), undefined);
    assert.equal(requestTargetOf('GET /a HTTPX/1', 0, 14), '/a HTTPX/1');
    assert.equal(requestTargetOf('/only', 0, 5), '/only');
  });
});
