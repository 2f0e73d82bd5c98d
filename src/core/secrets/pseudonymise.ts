import { createHmac } from 'node:crypto';
import ipaddr from 'ipaddr.js';
import { ALL_IPV4, ALL_IPV6 } from '../endpoints/lookup.ts';

/**
 * Client addresses replaced by keyed pseudonyms, for logs that must be shared: the same address always gets the
 * same pseudonym under one key (so "which client did what" survives), and without the key the mapping cannot be
 * reversed by hashing the 2^32 IPv4 addresses. Pseudonyms stay valid addresses so log parsers still read the line:
 * IPv4 maps into 240.0.0.0/4 (reserved, never routed) and IPv6 into 2001:db8::/32 (documentation).
 *
 * Kept as written: metadata service addresses, loopback, unspecified and link-local addresses (they are targets and
 * infrastructure, and the evidence of an SSRF), and addresses inside URLs (after `/` or `@`), which are targets too.
 */
// Both patterns start with a character class (no look-behind), so the engine scans quickly; the boundary on the
// left (not inside a URL, a version string or a longer number) is checked by `leftOk`.
const IPV4_RE = /(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?:\.(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}(?![\w.]|\.\d)/g;
/**
 * IPv6 candidates: a compressed form (with `::`) or all eight groups, validated by ipaddr.js before use. Clock
 * times (`2026:05:10:01`) have neither, which keeps the common log line off this path.
 */
const IPV6_RE =
  /(?:[0-9A-Fa-f]{1,4}:)*[0-9A-Fa-f]{0,4}::[0-9A-Fa-f:.]*|[0-9A-Fa-f]{1,4}(?::[0-9A-Fa-f]{1,4}){7}(?![\w:])/g;
/** Cheap gate for the IPv6 pass: a `::`, or at least seven colons on the line. */
function mayHoldIpv6(text: string): boolean {
  if (text.includes('::')) return true;
  let n = 0;
  for (let i = text.indexOf(':'); i !== -1; i = text.indexOf(':', i + 1)) if (++n >= 7) return true;
  return false;
}
const QUICK = /\d\.\d|:[0-9A-Fa-f]*:/;

/** The character before an address: not part of a word, a dotted or coloned sequence, or a URL (`/`, `@`). */
function leftOk(text: string, i: number): boolean {
  if (i === 0) return true;
  const c = text.charCodeAt(i - 1);
  // 0-9 A-Z a-z _ . : / @ -
  return !(
    (c >= 48 && c <= 58) ||
    (c >= 64 && c <= 90) ||
    (c >= 97 && c <= 122) ||
    c === 95 ||
    c === 46 ||
    c === 47 ||
    c === 45
  );
}

const KEEP_V4 = new Set(ALL_IPV4);
const KEEP_V6 = new Set(ALL_IPV6.map((a) => a.toLowerCase()));

function keepV4(a: string): boolean {
  return KEEP_V4.has(a) || a.startsWith('127.') || a.startsWith('169.254.') || a === '0.0.0.0' || a.startsWith('240.');
}

export class IpPseudonymiser {
  private readonly key: Uint8Array;
  private readonly cache = new Map<string, string>();
  /** Distinct addresses replaced so far. */
  get distinct(): number {
    return this.cache.size;
  }
  /** Occurrences replaced so far. */
  replaced = 0;

  constructor(key: Uint8Array) {
    this.key = key;
  }

  private digest(a: string): Buffer {
    return createHmac('sha256', this.key).update(a).digest();
  }

  /** The pseudonym for one address (already validated). */
  pseudonym(addr: string, kind: 'ipv4' | 'ipv6'): string {
    const k = `${kind}:${addr.toLowerCase()}`;
    let p = this.cache.get(k);
    if (p === undefined) {
      const d = this.digest(k);
      if (kind === 'ipv4') p = `${240 + (d[0]! & 15)}.${d[1]}.${d[2]}.${d[3]}`;
      else {
        const g: string[] = [];
        for (let i = 0; i < 6; i++) g.push(((d[2 * i]! << 8) | d[2 * i + 1]!).toString(16));
        p = `2001:db8:${g.join(':')}`;
      }
      if (this.cache.size > 1_000_000) this.cache.clear();
      this.cache.set(k, p);
    }
    return p;
  }

  /** The line with every client address replaced. */
  line(text: string): string {
    if (!QUICK.test(text)) return text;
    let out = text.replace(IPV4_RE, (a: string, at: number, all: string) => {
      if (!leftOk(all, at) || keepV4(a)) return a;
      this.replaced++;
      return this.pseudonym(a, 'ipv4');
    });
    if (mayHoldIpv6(out)) {
      out = out.replace(IPV6_RE, (a: string, at: number, all: string) => {
        if (a.length < 3 || !leftOk(all, at) || /[\w:]/.test(all[at + a.length] ?? '') || !ipaddr.IPv6.isValid(a))
          return a;
        const parsed = ipaddr.IPv6.parse(a);
        const range = parsed.range();
        if (range === 'loopback' || range === 'unspecified' || range === 'linkLocal' || range === 'ipv4Mapped')
          return a;
        if (KEEP_V6.has(parsed.toRFC5952String()) || a.toLowerCase().startsWith('2001:db8:')) return a;
        this.replaced++;
        return this.pseudonym(parsed.toRFC5952String(), 'ipv6');
      });
    }
    return out;
  }
}
