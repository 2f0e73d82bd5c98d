import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { arbitraryMetadataPayload } from '../../test/support/arbitraries.ts';
import { classify, verdictOf } from './classify.ts';
import { decodeEntities } from './decode/entities.ts';
import { decodeBackslashEscapes } from './decode/escapes.ts';
import { canonicalHostReadings } from './decode/host.ts';
import { parseIPv4Loose, parseIPv6 } from './decode/ip.ts';
import { percentDecodeFixpoint } from './decode/percent.ts';
import { foldUnicode } from './decode/unicode.ts';
import { decodeViews } from './decode/views.ts';

const anyText = fc.oneof(
  fc.string({ maxLength: 200, unit: 'binary' }),
  fc.string({ maxLength: 200, unit: 'grapheme' }),
);

test('decoders and classify() never throw, whatever the input (property)', () => {
  fc.assert(
    fc.property(anyText, (s) => {
      percentDecodeFixpoint(s);
      decodeEntities(s);
      decodeBackslashEscapes(s);
      foldUnicode(s);
      parseIPv4Loose(s);
      parseIPv6(s);
      canonicalHostReadings(s);
      decodeViews(s);
      classify(s);
      classify(s, { kind: 'host' });
      classify(s, { field: 'url' });
    }),
    { numRuns: 2000 },
  );
});

test('canonicalisation is idempotent: a canonical host reads back as itself (property)', () => {
  const hosts = fc.oneof(
    fc.ipV4(),
    fc.ipV4Extended(),
    fc.ipV6().map((h) => `[${h}]`),
    fc.domain(),
    fc.constantFrom('169-254-169-254.nip.io', 'METADATA.google.internal.', '①⑥⑨.②⑤④.①⑥⑨.②⑤④', '0x41414141a9fea9fe'),
  );
  fc.assert(
    fc.property(hosts, (h) => {
      for (const r of canonicalHostReadings(h)) {
        const again = canonicalHostReadings(r.kind === 'ipv6' ? `[${r.canonical}]` : r.canonical);
        if (!again.some((x) => x.canonical === r.canonical && x.kind === r.kind)) return false;
      }
      return true;
    }),
    { numRuns: 3000 },
  );
  fc.assert(
    fc.property(anyText, (s) => {
      const once = percentDecodeFixpoint(s, 50).text;
      return percentDecodeFixpoint(once, 50).text === once;
    }),
    { numRuns: 2000 },
  );
});

test('every IPv4 spelling fast-check knows reads as the same address WHATWG URL gives (property)', () => {
  fc.assert(
    fc.property(fc.ipV4Extended(), (h) => {
      const ours = parseIPv4Loose(h)?.canonical;
      let whatwg: string | undefined;
      try {
        whatwg = new URL(`http://${h}/`).hostname;
      } catch {
        return true; // WHATWG rejects it; we may still read it (overflow forms)
      }
      return ours === whatwg;
    }),
    { numRuns: 3000 },
  );
});

test('a metadata URL under any composition of the supported encodings still classifies as metadata (property)', () => {
  fc.assert(
    fc.property(arbitraryMetadataPayload(), (p) => verdictOf(classify(p.text)) === 'metadata'),
    { numRuns: 3000 },
  );
});

test('adding text around a metadata URL never removes the hit (property)', () => {
  fc.assert(
    fc.property(
      fc.string({ maxLength: 40 }).filter((s) => !/[%\\&\w]$/.test(s)),
      fc.string({ maxLength: 40 }).filter((s) => /^(?:[\s&"'<>]|$)/.test(s)),
      (pre, post) => {
        const hits = classify(`${pre} http://169.254.169.254/latest/meta-data/iam/security-credentials/${post}`);
        return hits.some((h) => h.verdict === 'metadata' && h.pathClass === 'credentials');
      },
    ),
    { numRuns: 1500 },
  );
  assert.ok(true);
});
