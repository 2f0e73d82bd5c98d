import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { buildContextBenign, buildGrammarAttacks } from '../../test/corpus/families.ts';
import { buildBenign, buildCompositions, buildCorpus } from '../../test/corpus/ssrf-corpus.ts';
import { arbitraryMetadataPayload } from '../../test/support/arbitraries.ts';
import { classifyUnfiltered as classify } from './classify.ts';
import { addressMarkLines, hasAddressMark, mayAddressMetadata } from './prefilter.ts';

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
            "'+'",
            '"+"',
            "'",
          ),
          { maxLength: 14 },
        )
        .map((a) => a.join('')),
      (s) => classify(s).length === 0 || mayAddressMetadata(s),
    ),
    { numRuns: 5000 },
  );
});

test('mayAddressMetadata() passes whatever the classifier flags among numbers in every IPv4 spelling (property)', () => {
  // Host runs of digits, dots and the octal/hex prefixes, short and long, in URLs and bare: the needles that let the
  // structural test skip its loop must leave every number that can matter to it.
  const part = fc.oneof(
    fc.integer({ min: 0, max: 2 ** 32 + 5 }).map(String),
    fc.integer({ min: 0, max: 255 }).map(String),
    fc.constantFrom(
      '0',
      '00',
      '0x',
      '0x7f',
      '0xa9',
      '0xA9FEA9FE',
      'o7',
      'q1',
      '0o17',
      '0251',
      '0376',
      '012',
      '169',
      '254',
    ),
    fc.integer({ min: 0, max: 2 ** 32 - 1 }).map((v) => `0x${v.toString(16)}`),
    fc.integer({ min: 0, max: 2 ** 32 - 1 }).map((v) => `0${v.toString(8)}`),
  );
  const host = fc.array(part, { minLength: 1, maxLength: 4 }).map((a) => a.join('.'));
  const text = fc
    .tuple(
      fc.constantFrom('', 'http://', '/go?u=http://', 'x=', '//', '@'),
      host,
      fc.constantFrom('', '/', '.', ':80/a', '&n=1', 'a'),
    )
    .map(([a, h, b]) => `${a}${h}${b}`);
  fc.assert(
    fc.property(text, (s) => classify(s).length === 0 || mayAddressMetadata(s)),
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

test('addressMarkLines() gives exactly the lines hasAddressMark() holds true, and a value with a mark marks its line', () => {
  const piece = fc.oneof(
    fc.string({ maxLength: 12 }),
    fc.constantFrom('metadata', 'METADATA.Google.Internal', '169-254-169-254', 'a9FEa9fe', 'aHR0', 'a//H/R/0', '&#58;'),
    fc.constantFrom('&Amp;', 'nip.IO', '68747470', 'JTJG', '1u.ms', '0x7f000001', ' ', '"', '\r', 'é', '①'),
  );
  const line = fc.array(piece, { maxLength: 8 }).map((a) => a.join('').replace(/\n/g, ''));
  fc.assert(
    fc.property(fc.array(line, { minLength: 1, maxLength: 6 }), (lines) => {
      const text = lines.join('\n');
      const marks = addressMarkLines(text);
      const starts: number[] = [];
      let at = 0;
      for (const l of lines) {
        starts.push(at);
        at += l.length + 1;
      }
      const marked = lines.map((_, k) => marks.some((m) => m >= starts[k]! && m < starts[k]! + lines[k]!.length));
      assert.equal(marks.length, marked.filter(Boolean).length, 'one offset per marked line');
      assert.deepEqual(marked, lines.map(hasAddressMark), JSON.stringify(text));
      // Any piece of a line that holds a mark makes the whole line hold one.
      lines.forEach((l, k) => {
        for (let a = 0; a < l.length; a += 3) if (hasAddressMark(l.slice(a, a + 9))) assert.ok(marked[k], l);
      });
      return true;
    }),
    { numRuns: 3000, seed: 23 },
  );
});

test('mayAddressMetadata() reads script strings joined by + as the decoder does: an address cut in pieces passes', () => {
  for (const t of [
    "u='http://169.'+'254.169.254/latest/'",
    'js=var+u%3D%27http%3A%2F%2F169.%27+%2B+%27254.169.254%2Flatest%2F%27',
    'x="http://[fd00:"+"ec2::254]/latest/"',
  ]) {
    assert.ok(classify(t).length > 0, t);
    assert.ok(mayAddressMetadata(t), t);
  }
});
