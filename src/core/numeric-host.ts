import ipaddr from 'ipaddr.js';
import { internalKindOf } from './decode/host.ts';
import { ALL_IPV4 } from './endpoints/lookup.ts';

/**
 * The prefilter's value check for digit runs: a run of letters, digits and dots is read as an IPv4 host exactly as
 * `parseIPv4Loose` reads one (1–4 parts, decimal, octal `0…`, `0o`/`o`/`q` octal, hex `0x…`, out-of-range parts
 * truncated, one trailing dot), and it can matter only when its address is a metadata address of the catalogue or
 * an internal one (`internalKindOf`). A 10-digit timestamp or an order id then costs one pass over its characters.
 */

const TWO32 = 4294967296;
const parts = new Float64Array(4);

const isOctal = (c: number) => c >= 48 && c <= 55;
function hexDigit(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  const l = c | 32;
  return l >= 97 && l <= 102 ? l - 87 : -1;
}

/** One part `text[a, b)` modulo 2^32, or -1 when `parseIPv4Loose` rejects it. */
function partValue(text: string, a: number, b: number): number {
  if (a >= b) return -1;
  const c0 = text.charCodeAt(a);
  let v = 0;
  if (c0 === 48 && b - a >= 2 && (text.charCodeAt(a + 1) | 32) === 120) {
    // 0x…, digits optional
    for (let i = a + 2; i < b; i++) {
      const d = hexDigit(text.charCodeAt(i));
      if (d < 0) return -1;
      v = (v * 16 + d) % TWO32;
    }
    return v;
  }
  let from = -1;
  if (c0 === 48 && b - a >= 2) {
    // 0[0-7]+, or 0o[0-7]+
    from = (text.charCodeAt(a + 1) | 32) === 111 ? a + 2 : a + 1;
  } else if ((c0 | 32) === 111 || (c0 | 32) === 113) from = a + 1; // o[0-7]+, q[0-7]+
  if (from >= 0) {
    if (from >= b) return -1;
    for (let i = from; i < b; i++) {
      const c = text.charCodeAt(i);
      if (!isOctal(c)) return -1;
      v = (v * 8 + c - 48) % TWO32;
    }
    return v;
  }
  if (c0 === 48) return 0; // a lone 0
  if (c0 < 49 || c0 > 57) return -1;
  for (let i = a; i < b; i++) {
    const c = text.charCodeAt(i);
    if (c < 48 || c > 57) return -1;
    v = (v * 10 + c - 48) % TWO32;
  }
  return v;
}

/** The address `parseIPv4Loose(text.slice(a, b))` reads, as a 32-bit number, or -1 when it reads none. */
export function ipv4Value(text: string, a: number, b: number): number {
  if (b > a && text.charCodeAt(b - 1) === 46) b--;
  if (b <= a || b - a > 64) return -1;
  let n = 0;
  let start = a;
  for (let i = a; i <= b; i++) {
    if (i < b && text.charCodeAt(i) !== 46) continue;
    if (n === 4) return -1;
    const v = partValue(text, start, i);
    if (v < 0) return -1;
    parts[n++] = v;
    start = i + 1;
  }
  let value = 0;
  for (let k = 0; k < n - 1; k++) value = value * 256 + (parts[k]! % 256);
  const limit = 256 ** (5 - n);
  return value * limit + (parts[n - 1]! % limit);
}

function quad(v: number): string {
  return `${Math.floor(v / 16777216)}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}`;
}

const METADATA = new Set(
  ALL_IPV4.map((a) =>
    ipaddr.IPv4.parse(a)
      .toByteArray()
      .reduce((n, x) => n * 256 + x, 0),
  ),
);

type Range = [ipaddr.IPv4, number];
/** How `internalKindOf` treats one of ipaddr.js's special ranges: internal throughout, at its first address only, or mixed. */
type Shape = 'whole' | 'first' | 'mixed';
const internal = (v: number) => internalKindOf({ kind: 'ipv4', canonical: quad(v) }) !== null;

/**
 * Address intervals outside which `internalKindOf` is null: the ipaddr.js special ranges whose network address it
 * calls internal (it decides by range; of 0.0.0.0/8 only 0.0.0.0 counts). The shape of each is read off its ends and
 * the addresses next to them; a property test holds `addressMatters` to `internalKindOf` on random addresses.
 */
const INTERNAL: Array<[number, number, Shape]> = (() => {
  const special = (ipaddr.IPv4.prototype as unknown as { SpecialRanges: Record<string, Range | Range[]> })
    .SpecialRanges;
  const out: Array<[number, number, Shape]> = [];
  for (const entry of Object.values(special)) {
    const list = (Array.isArray(entry[0]) ? entry : [entry]) as Range[];
    for (const [addr, bits] of list) {
      const lo = addr.toByteArray().reduce((n, x) => n * 256 + x, 0);
      if (!internal(lo)) continue;
      const hi = lo + 2 ** (32 - bits) - 1;
      const rest = [lo + 1, hi - 1, hi].map(internal);
      out.push([lo, hi, rest.every(Boolean) ? 'whole' : rest.some(Boolean) ? 'mixed' : 'first']);
    }
  }
  return out;
})();

/** Whether an address (a 32-bit number) is one classify can report: a metadata or an internal address. */
export function addressMatters(v: number): boolean {
  if (METADATA.has(v)) return true;
  for (let k = 0; k < INTERNAL.length; k++) {
    const [lo, hi, shape] = INTERNAL[k]!;
    if (v < lo || v > hi) continue;
    return shape === 'whole' || (shape === 'first' ? v === lo : internal(v));
  }
  return false;
}

/**
 * The smallest nonzero address `addressMatters` may be true for, read off the metadata addresses and the internal
 * intervals (an interval that matters at its first address only bounds nothing but that address). A plain decimal
 * below it cannot matter, which lets the prefilter pass over short numbers without reading them.
 */
export const LEAST_NONZERO_MATTERING: number = Math.min(
  ...[...METADATA].filter((v) => v > 0),
  ...INTERNAL.map(([lo, , shape]) => (lo > 0 ? lo : shape === 'first' ? Number.POSITIVE_INFINITY : 1)),
);
