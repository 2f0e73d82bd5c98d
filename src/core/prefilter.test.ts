import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { buildContextBenign, buildGrammarAttacks } from '../../test/corpus/families.ts';
import { buildBenign, buildCompositions, buildCorpus } from '../../test/corpus/ssrf-corpus.ts';
import { arbitraryMetadataPayload } from '../../test/support/arbitraries.ts';
import { classifyUnfiltered as classify } from './classify.ts';
import { mayAddressMetadata } from './prefilter.ts';

test('mayAddressMetadata() passes every corpus case the classifier finds anything in', () => {
  const cases = [
    ...buildCorpus(),
    ...buildCompositions(),
    ...buildBenign(),
    ...buildGrammarAttacks(200),
    ...buildContextBenign(200),
  ];
  const missed = cases.filter((c) => classify(c.text).length > 0 && !mayAddressMetadata(c.text)).map((c) => c.text);
  assert.deepEqual(missed, []);
});

test('mayAddressMetadata() passes every encoded metadata URL (property)', () => {
  fc.assert(
    fc.property(arbitraryMetadataPayload(), (p) => {
      const hits = classify(p.text);
      return hits.length === 0 || mayAddressMetadata(p.text);
    }),
    { numRuns: 3000 },
  );
});

test('mayAddressMetadata() passes whatever the classifier flags in arbitrary text (property)', () => {
  fc.assert(
    fc.property(fc.string({ maxLength: 80, unit: 'binary' }), (s) => classify(s).length === 0 || mayAddressMetadata(s)),
    { numRuns: 3000 },
  );
  fc.assert(
    fc.property(
      fc
        .array(
          fc.constantFrom(
            'http',
            '://',
            '/',
            '0x',
            'a9',
            'fe',
            '.',
            '169',
            '254',
            '2852039166',
            '[',
            ']',
            '::',
            'ffff',
            '@',
            '?u=',
            'latest',
            'meta-data',
            'nip.io',
            '-',
            '%2f',
            '0251',
            '10',
            '127',
            '1',
            'make-',
            '-rebind-',
            '-rr',
            '.1u.ms',
            'ip-',
            'o',
            'c',
            '687474703a2f2f',
            '3136392e323534',
            'aHR0cDovL',
            'MTY5LjI1NC4',
            '.jpg',
            '\\150',
            '\\x3a',
            'String.fromCharCode(104,116,116,112,58,47,47',
            ')',
            'meta.sub.sh.je',
          ),
          { maxLength: 14 },
        )
        .map((a) => a.join('')),
      (s) => classify(s).length === 0 || mayAddressMetadata(s),
    ),
    { numRuns: 5000 },
  );
});

test('mayAddressMetadata() rejects ordinary request targets', () => {
  for (const t of [
    '/index.html',
    '/static/js/app.min.js',
    '/search?q=shoes',
    '/login?next=/account',
    '/api/v1/orders/1234/items?page=2&sort=asc',
  ]) {
    assert.equal(mayAddressMetadata(t), false, t);
  }
});
