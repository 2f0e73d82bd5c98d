import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { buildContextBenign, buildGrammarAttacks } from './families.ts';
import { buildBenign, buildBenignTraffic, buildCompositions, buildCorpus, scoreByFamily } from './ssrf-corpus.ts';

describe('own SSRF corpus', () => {
  const attacks = [...buildCorpus(), ...buildCompositions(), ...buildGrammarAttacks()];
  const benign = [...buildBenign(), ...buildBenignTraffic(), ...buildContextBenign()];

  test('the corpus is large and covers every decoding family', () => {
    assert.ok(attacks.length > 2000, `${attacks.length} attack cases`);
    assert.ok(benign.length > 3000, `${benign.length} benign cases`);
    const families = new Set(attacks.map((c) => c.family));
    for (const f of [
      'percent×3',
      'html-entity',
      'backslash-escape',
      'base64',
      'hex-slug',
      'ipv4-overflow',
      'ipv6-nat64',
      'wildcard-dns',
      'rebinding-dns',
      'host-enclosed',
      'userinfo',
      'scheme-gopher',
      'crlf-injection',
      'nested-redirect',
      'rebinding-grammar',
      'dns-alias',
      'hex-url',
      'base64-path',
      'script-escape',
    ]) {
      assert.ok(families.has(f), `family ${f} present`);
    }
  });

  test('recall is at least 99.5% overall and 95% in every family', () => {
    const scores = scoreByFamily(attacks);
    const total = scores.reduce((a, s) => a + s.total, 0);
    const correct = scores.reduce((a, s) => a + s.correct, 0);
    assert.ok(
      correct / total >= 0.995,
      `recall ${((100 * correct) / total).toFixed(2)}%: ${JSON.stringify(scores.filter((s) => s.wrong.length).map((s) => [s.family, s.wrong.slice(0, 3)]))}`,
    );
    for (const s of scores)
      assert.ok(s.correct / s.total >= 0.95, `${s.family}: ${s.correct}/${s.total} ${s.wrong.slice(0, 3).join(' | ')}`);
  });

  test('false alarms stay at or under 0.5% of hard benign requests', () => {
    const scores = scoreByFamily(benign);
    const total = scores.reduce((a, s) => a + s.total, 0);
    const wrong = scores.flatMap((s) => s.wrong);
    assert.ok(
      wrong.length / total <= 0.005,
      `false alarms ${wrong.length}/${total}: ${wrong.slice(0, 10).join(' | ')}`,
    );
  });
});
