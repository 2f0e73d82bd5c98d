import ipaddr from 'ipaddr.js';
import type { Transform } from '../model/hit.ts';

export interface ParsedIp {
  kind: 'ipv4' | 'ipv6';
  /** Canonical text: dotted quad, or RFC 5952 IPv6. For IPv6 that embeds IPv4, the IPv4 address. */
  canonical: string;
  transforms: Transform[];
  disagreements: string[];
}

const IPV4_CHARS = /^[0-9a-fxoq.]+$/i;
const TWO32 = 2n ** 32n;

function parsePart(p: string): { value: bigint; radix: 8 | 10 | 16; prefixed?: boolean } | null {
  if (p.length === 0) return null;
  if (/^0x[0-9a-f]*$/i.test(p)) return { value: p.length === 2 ? 0n : BigInt(p), radix: 16 };
  if (/^0[0-7]+$/.test(p)) return { value: BigInt(`0o${p.slice(1)}`), radix: 8 };
  // `0o177`, `o177`, `q177`: octal prefixes some language-level parsers accept (and WHATWG does not).
  if (/^(?:0o|o|q)[0-7]+$/i.test(p))
    return { value: BigInt(`0o${p.replace(/^(?:0o|o|q)/i, '')}`), radix: 8, prefixed: true };
  if (/^(?:0|[1-9][0-9]*)$/.test(p)) return { value: BigInt(p), radix: 10 };
  return null;
}

function quad(n: bigint): string {
  const v = Number(n);
  return [(v >>> 24) & 255, (v >>> 16) & 255, (v >>> 8) & 255, v & 255].join('.');
}

/**
 * Parse an IPv4 address in every form inet_aton or the WHATWG URL host parser accepts: 1–4 parts, each decimal,
 * octal (leading 0) or hex (0x), the last part filling the remaining bytes. Values too large for their place are
 * rejected by WHATWG but truncated by some parsers; we take the truncated reading and record the disagreement.
 * @example parseIPv4Loose('0xA9FEA9FE')?.canonical // '169.254.169.254'
 */
export function parseIPv4Loose(input: string): ParsedIp | null {
  let s = input;
  if (s.endsWith('.')) s = s.slice(0, -1);
  if (s.length === 0 || s.length > 64 || !IPV4_CHARS.test(s) || !/[0-9]/.test(s)) return null;
  const parts = s.split('.');
  if (parts.length > 4) return null;
  const nums: Array<{ value: bigint; radix: 8 | 10 | 16; prefixed?: boolean }> = [];
  for (const p of parts) {
    const n = parsePart(p);
    if (!n) return null;
    nums.push(n);
  }
  const transforms: Transform[] = [];
  const disagreements: string[] = [];
  let overflow = false;
  let value = 0n;
  const last = nums[nums.length - 1]!;
  for (let i = 0; i < nums.length - 1; i++) {
    let v = nums[i]!.value;
    if (v > 255n) {
      overflow = true;
      v &= 255n;
    }
    value = value * 256n + v;
  }
  const remainingBytes = BigInt(5 - nums.length);
  const limit = 256n ** remainingBytes;
  let lv = last.value;
  if (lv >= limit) {
    overflow = true;
    lv %= limit;
  }
  value = value * limit + lv;
  value %= TWO32;
  if (nums.some((n) => n.radix === 16)) transforms.push('ipv4-hex');
  if (nums.some((n) => n.radix === 8)) transforms.push('ipv4-octal');
  if (nums.length === 1 && last.radix === 10) transforms.push('ipv4-decimal');
  else if (nums.length === 1) transforms.push('ipv4-integer');
  else if (nums.length < 4) transforms.push('ipv4-short');
  if (nums.some((n) => n.prefixed)) {
    transforms.push('ipv4-octal-prefix');
    disagreements.push(
      'WHATWG URL and inet_aton reject "0o"/"o"/"q" octal prefixes; some language-level IP parsers accept them',
    );
  }
  if (overflow) {
    transforms.push('ipv4-overflow');
    disagreements.push(
      'WHATWG URL rejects the out-of-range IPv4 part; inet_aton-style and some language parsers truncate it',
    );
  }
  if (input.endsWith('.')) transforms.push('trailing-dot');
  return { kind: 'ipv4', canonical: quad(value), transforms, disagreements };
}

/** The IPv4 address that a well-known IPv6 embedding carries, with the embedding's name. */
function embeddedIPv4(addr: ipaddr.IPv6): { v4: string; how: Transform } | null {
  const parts = addr.parts;
  const v4From = (hi: number, lo: number) => `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
  const zeros = (from: number, to: number) => parts.slice(from, to).every((x) => x === 0);
  if (zeros(0, 5) && parts[5] === 0xffff) return { v4: v4From(parts[6]!, parts[7]!), how: 'ipv6-mapped' };
  if (zeros(0, 6) && (parts[6]! !== 0 || parts[7]! > 1))
    return { v4: v4From(parts[6]!, parts[7]!), how: 'ipv6-compatible' };
  // SIIT ::ffff:0:a.b.c.d
  if (zeros(0, 4) && parts[4] === 0xffff && parts[5] === 0)
    return { v4: v4From(parts[6]!, parts[7]!), how: 'ipv6-siit' };
  // NAT64 well-known prefix 64:ff9b::/96 and local-use 64:ff9b:1::/48
  if (parts[0] === 0x64 && parts[1] === 0xff9b && (zeros(2, 6) || parts[2] === 1))
    return { v4: v4From(parts[6]!, parts[7]!), how: 'ipv6-nat64' };
  // 6to4 2002:AABB:CCDD::/48
  if (parts[0] === 0x2002) return { v4: v4From(parts[1]!, parts[2]!), how: 'ipv6-6to4' };
  return null;
}

/**
 * `::ffff:0251.0376.0251.0376`: a mapped (or compatible) address whose IPv4 part is written in another notation.
 * No client we know of resolves it: WHATWG URL (Node's URL), curl 7.88 (its inet_pton) and wget refuse the URL, and
 * glibc's getaddrinfo refuses the literal, since an IPv4 part inside IPv6 must be dotted decimal without leading
 * zeros. It is read as its sender wrote it, with the loose IPv4 grammar, because it is sent only as a disguised
 * metadata address (a probe of the filter); the disagreement says it reaches nothing.
 */
function looseEmbeddedIPv4(s: string, transforms: Transform[]): ParsedIp | null {
  const m = /^(?:::(ffff:)?|(?:0{1,4}:){5}(ffff):)([0-9a-fx.]*\.[0-9a-fx.]*)$/i.exec(s);
  if (!m) return null;
  const v4 = parseIPv4Loose(m[3]!);
  if (!v4 || v4.transforms.length === 0) return null;
  return {
    kind: 'ipv4',
    canonical: v4.canonical,
    transforms: [...transforms, m[1] || m[2] ? 'ipv6-mapped' : 'ipv6-compatible', ...v4.transforms],
    disagreements: [
      ...v4.disagreements,
      'an IPv4 part inside IPv6 must be dotted decimal: WHATWG URL, curl and getaddrinfo refuse this form, so it reaches nothing; read as the address its sender meant',
    ],
  };
}

/**
 * Parse an IPv6 literal (brackets and zone id optional). Addresses that embed IPv4 (mapped, compatible, SIIT,
 * NAT64, 6to4) are unwrapped to the IPv4 address.
 * @example parseIPv6('[::ffff:a9fe:a9fe]')?.canonical // '169.254.169.254'
 */
export function parseIPv6(input: string): ParsedIp | null {
  let s = input.trim();
  const transforms: Transform[] = [];
  if (s.startsWith('[') && s.endsWith(']')) s = s.slice(1, -1);
  if (!s.includes(':') || s.length > 100) return null;
  const zone = s.search(/%(?:25)?/);
  if (zone >= 0) {
    s = s.slice(0, zone);
    transforms.push('ipv6-zone-id');
  }
  if (!/^[0-9a-f:.]+$/i.test(s)) return /^[0-9a-fx:.]+$/i.test(s) ? looseEmbeddedIPv4(s, transforms) : null;
  // ipaddr.js reads `0251` in a dotted tail as decimal; a leading zero there is the octal notation's mark.
  const tail = s.slice(s.lastIndexOf(':') + 1);
  if (!ipaddr.IPv6.isValid(s) || (tail.includes('.') && /(?:^|\.)0\d/.test(tail)))
    return looseEmbeddedIPv4(s, transforms);
  let addr: ipaddr.IPv6;
  try {
    addr = ipaddr.IPv6.parse(s);
  } catch {
    return null;
  }
  const emb = embeddedIPv4(addr);
  // ipaddr.js reads `::a.b.c.d` (IPv4-compatible) as mapped; the written form tells them apart.
  if (emb?.how === 'ipv6-mapped' && s.includes('.') && !/ffff/i.test(s)) emb.how = 'ipv6-compatible';
  if (emb) {
    transforms.push(emb.how);
    return { kind: 'ipv4', canonical: emb.v4, transforms, disagreements: [] };
  }
  const canonical = addr.toRFC5952String();
  if (canonical !== s.toLowerCase()) transforms.push('ipv6-noncanonical');
  return { kind: 'ipv6', canonical, transforms, disagreements: [] };
}
