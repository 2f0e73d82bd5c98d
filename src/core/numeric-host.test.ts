import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { classifyUnfiltered } from './classify.ts';
import { internalKindOf } from './decode/host.ts';
import { parseIPv4Loose } from './decode/ip.ts';
import { ALL_IPV4 } from './endpoints/lookup.ts';
import { addressMatters, ipv4Value } from './numeric-host.ts';
import { mayAddressMetadata } from './prefilter.ts';

const quad = (v: number) => `${Math.floor(v / 16777216)}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}`;

/** One IPv4 part in any spelling the loose parser knows, or a near miss. */
const part = fc.oneof(
  fc.bigInt({ min: 0n, max: 2n ** 40n }).map((n) => n.toString()),
  fc.bigInt({ min: 0n, max: 2n ** 36n }).map((n) => `0x${n.toString(16)}`),
  fc.bigInt({ min: 0n, max: 2n ** 36n }).map((n) => `0X${n.toString(16).toUpperCase()}`),
  fc.bigInt({ min: 0n, max: 2n ** 36n }).map((n) => `0${n.toString(8)}`),
  fc
    .bigInt({ min: 0n, max: 2n ** 36n })
    .map((n) => `${fc.sample(fc.constantFrom('o', 'O', 'q', 'Q', '0o'), 1)[0]}${n.toString(8)}`),
  fc.constantFrom('', '0', '00', '08', '0x', 'x1', 'o', 'q', '0o', 'ff', '1a', '09', '0xg'),
);
const spelling = fc
  .tuple(fc.array(part, { minLength: 1, maxLength: 5 }), fc.boolean())
  .map(([ps, dot]) => ps.join('.') + (dot ? '.' : ''));

test('ipv4Value() reads every spelling as parseIPv4Loose does (property)', () => {
  fc.assert(
    fc.property(spelling, (s) => {
      const v = ipv4Value(s, 0, s.length);
      const p = parseIPv4Loose(s);
      return p === null ? v === -1 : v >= 0 && quad(v) === p.canonical;
    }),
    { numRuns: 20000 },
  );
  for (const s of ['2852039166', '7146996462', '0xA9FEA9FE', '0251.0376.0251.0376', '169.254.43518', 'q177.1', '0x'])
    assert.equal(quad(ipv4Value(s, 0, s.length)), parseIPv4Loose(s)!.canonical, s);
});

test('addressMatters() is true exactly for catalogue metadata and internal addresses (property)', () => {
  const meta = new Set(ALL_IPV4);
  const expected = (v: number) => meta.has(quad(v)) || internalKindOf({ kind: 'ipv4', canonical: quad(v) }) !== null;
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 2 ** 32 - 1 }), (v) => addressMatters(v) === expected(v)),
    { numRuns: 20000 },
  );
  // Range edges, where a table would go wrong first.
  for (const base of ['0.0.0.0', '10.0.0.0', '100.64.0.0', '127.0.0.0', '169.254.0.0', '172.16.0.0', '192.168.0.0'])
    for (const d of [-1, 0, 1, 65535, 65536, 2 ** 22, 2 ** 24 - 1, 2 ** 24]) {
      const v = ipv4Value(base, 0, base.length) + d;
      if (v >= 0 && v < 2 ** 32) assert.equal(addressMatters(v), expected(v), quad(v));
    }
});

/** An address, mostly near the ones that matter, written in a numeric form classify opens. */
const numericHost = fc
  .tuple(
    fc.oneof(
      fc.constantFrom(...ALL_IPV4, '10.1.2.3', '127.0.0.1', '192.168.1.10', '172.20.0.5', '0.0.0.0', '100.64.1.1'),
      fc.integer({ min: 0, max: 2 ** 32 - 1 }).map(quad),
    ),
    fc.integer({ min: 0, max: 6 }),
    fc.integer({ min: 0, max: 3 }),
  )
  .map(([q, form, k]) => {
    const b = q.split('.').map(Number) as [number, number, number, number];
    const v = ((b[0] * 256 + b[1]) * 256 + b[2]) * 256 + b[3];
    const big = BigInt(v) + BigInt(k) * 2n ** 32n; // overflow forms
    switch (form) {
      case 0:
        return big.toString();
      case 1:
        return `0x${big.toString(16)}`;
      case 2:
        return `0${big.toString(8)}`;
      case 3:
        return b.map((x) => `0x${x.toString(16)}`).join('.');
      case 4:
        return `${b[0]}.${b[1]}.${b[2] * 256 + b[3]}`;
      case 5:
        return `${b[0]}.${(b[1] * 256 + b[2]) * 256 + b[3]}`;
      default:
        return b.map((x) => `0${x.toString(8)}`).join('.');
    }
  });

test('mayAddressMetadata() passes every numeric host classify flags, in URLs, parameters and hosts (property)', () => {
  const wrap = fc.constantFrom(
    (h: string) => `/fetch?url=http://${h}/latest/meta-data/`,
    (h: string) => `/p?u=${h}/computeMetadata/v1/`,
    (h: string) => `/p?url=${h}`,
    (h: string) => `/p?id=${h}&next=http%3A%2F%2F${h}%2Flatest%2F`,
    (h: string) => `http://user@${h}:80/`,
    (h: string) => h,
    (h: string) => `x,${h}/latest/meta-data`,
  );
  const ctx = fc.constantFrom({}, { kind: 'host' as const }, { kind: 'url' as const }, { field: 'url' });
  fc.assert(
    fc.property(numericHost, wrap, ctx, (h, w, c) => {
      const text = w(h);
      return classifyUnfiltered(text, c).length === 0 || mayAddressMetadata(text);
    }),
    { numRuns: 4000 },
  );
});

test('mayAddressMetadata() rejects values that only look numeric: timestamps, ids, percent-encoded search terms', () => {
  for (const t of [
    '/products/4252928111?ref=home&ts=1795219201',
    '/track?uid=7696794257&t=1795219200016&e=scroll',
    '/search?q=hat%20na%C3%AFve&page=1&sid=0ea4f2fef216c8878abbb864f81df461',
    '/redirect?url=https%3A%2F%2Fshop.example.com%2Fcart%3Fid%3D3479503063',
    'https://shop.example.com/products/7344976?utm_source=mail&gclid=WII6UMoVCr6j0p6Hhp59',
  ])
    assert.equal(mayAddressMetadata(t), false, t);
  // …while the same shapes with an address that matters pass.
  for (const t of [
    '/products/2852039166',
    '/p?next=http%3A%2F%2F2130706433%2F',
    '/p?u=%EF%BC%91%EF%BC%96%EF%BC%99.254.169.254',
  ])
    assert.equal(mayAddressMetadata(t), true, t);
});
