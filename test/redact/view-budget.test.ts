/**
 * A line can have more decoded views than the engine looks at (`MAX_VIEWS`): decoys in several encodings, each
 * layer giving a new combination of them. Past the budget the engine fails safe: every token holding encoded text is
 * masked whole, so decoys never hide a secret behind them. Benign lines stay far from the budget.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { decodedViews, MAX_VIEWS } from '../../src/core/secrets/layers.ts';
import { Masker } from '../../src/core/secrets/masker.ts';
import { encode, generatedCredentials, holdsPiece, undo } from '../support/secret-docs.ts';
import { ROOT } from './helpers.ts';

const c = generatedCredentials(1401);
const DOC = JSON.stringify({ AccessKeyId: c.awsKeyId, SecretAccessKey: c.awsSecret, Token: c.awsToken });
const SECRETS = [c.awsKeyId, c.awsSecret, c.awsToken.slice(16)];
const DECOY_CHAINS = [
  ['base64', 'hex-escape', 'percent'],
  ['html-decimal', 'base64', 'hex'],
  ['percent', 'base64', 'html-decimal'],
  ['base64', 'html-decimal', 'hex'],
  ['hex', 'hex-escape', 'base64'],
  ['json-string', 'percent', 'base64'],
];

/** Decoys (harmless documents, each under three encodings) in front of a document under three layers of base64. */
function line(decoys: number): string {
  const parts = Array.from(
    { length: decoys },
    (_, i) => `d${i}=${encode(`{"id":${i},"note":"hello world ${i}"}`, DECOY_CHAINS[i % DECOY_CHAINS.length]!)}`,
  );
  return [...parts, `data=${encode(DOC, ['base64', 'base64', 'base64'])}`].join(' ');
}

describe('more decoded views than the budget', () => {
  it('a line of decoys uses the budget up; the secret behind them is masked all the same', () => {
    for (const n of [5, 10, 20]) {
      const text = line(n);
      assert.ok(decodedViews(text).truncated, `${n} decoys go past ${MAX_VIEWS} views`);
      const out = new Masker().line(text);
      const data = / data=(\S*)/.exec(out)![1]!;
      for (const s of SECRETS) {
        assert.equal(holdsPiece(out, s), null);
        assert.equal(holdsPiece(undo(data, ['base64', 'base64', 'base64']), s), null, `${n} decoys`);
      }
      // Keys in front of the tokens are kept; only the encoded values are masked.
      assert.match(out, /^d0=\S*\*\*\*\*\S* d1=/);
    }
  });

  it('the line the review found: nothing of the secret is left', () => {
    const text = readFileSync(`${ROOT}/test/fixtures/masking/view-budget.log`, 'latin1').trimEnd();
    assert.ok(decodedViews(text).truncated);
    const out = new Masker().line(text);
    const data = / data=(\S*)/.exec(out)![1]!;
    assert.ok(data.includes('****'), data);
    assert.ok(!/[A-Za-z0-9+/]{24,}/.test(data), 'no encoded run is left to decode');
  });

  it('within the budget nothing extra is masked (a document under three layers, no decoys)', () => {
    const text = line(0);
    assert.ok(!decodedViews(text).truncated);
    const out = new Masker().line(text);
    for (const s of SECRETS) assert.equal(holdsPiece(undo(out.slice(5), ['base64', 'base64', 'base64']), s), null);
  });
});
