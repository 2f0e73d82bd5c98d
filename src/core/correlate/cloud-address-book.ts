import ipaddr from 'ipaddr.js';
import type { InventoryFacts } from '../posture/posture-inventory.ts';

const DOTTED = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

/** Class of a plain dotted IPv4 address without a parser: the common case in audit logs, and the hot path. */
function v4Class(a: number, b: number): 'public' | 'private' {
  if (a === 10 || a === 127 || a === 0 || a >= 224) return 'private';
  if (a === 172 && b >= 16 && b <= 31) return 'private';
  if (a === 192 && b === 168) return 'private';
  if (a === 169 && b === 254) return 'private';
  if (a === 100 && b >= 64 && b <= 127) return 'private';
  return 'public';
}

interface IpInfo {
  canonical: string;
  cls: 'public' | 'private' | 'not-ip';
}

/** Addresses repeat heavily in audit logs: remember the last few thousand readings. */
const memo = new Map<string, IpInfo>();
const MEMO_MAX = 65_536;

function info(ip: string): IpInfo {
  const hit = memo.get(ip);
  if (hit) return hit;
  let out: IpInfo;
  const m = DOTTED.exec(ip);
  if (
    m &&
    Number(m[1]) <= 255 &&
    Number(m[2]) <= 255 &&
    Number(m[3]) <= 255 &&
    Number(m[4]) <= 255 &&
    !/(^|\.)0\d/.test(ip)
  ) {
    out = { canonical: ip, cls: v4Class(Number(m[1]), Number(m[2])) };
  } else if (ipaddr.isValid(ip)) {
    const a = ipaddr.process(ip);
    out = { canonical: a.toString(), cls: a.range() === 'unicast' ? 'public' : 'private' };
  } else {
    out = { canonical: ip, cls: 'not-ip' };
  }
  if (memo.size >= MEMO_MAX) memo.clear();
  memo.set(ip, out);
  return out;
}

/** Is the text an IP address, and is it a public one? Hostnames and service names are neither. */
export function addressClass(ip: string | undefined): 'public' | 'private' | 'not-ip' {
  return ip ? info(ip).cls : 'not-ip';
}

/** Canonical text of an address (IPv4-mapped IPv6 unwrapped, IPv6 compressed), or the input when not an IP. */
export function canonicalIp(ip: string): string {
  return info(ip).canonical;
}

function v4ToInt(ip: string): number {
  const p = ip.split('.');
  return ((Number(p[0]) << 24) >>> 0) + (Number(p[1]) << 16) + (Number(p[2]) << 8) + Number(p[3]);
}

/**
 * AWS's published address ranges (`ip-ranges.json`), read offline. IPv4 prefixes become merged sorted intervals
 * searched in O(log n) per record; IPv6 prefixes (rare in CloudTrail sources) are matched with ipaddr.js.
 */
export class AwsRanges {
  private readonly starts: number[] = [];
  private readonly ends: number[] = [];
  private readonly v6: Array<[ipaddr.IPv6, number]> = [];
  readonly prefixCount: number;

  constructor(doc: unknown) {
    const o = (doc ?? {}) as {
      prefixes?: Array<{ ip_prefix?: string }>;
      ipv6_prefixes?: Array<{ ipv6_prefix?: string }>;
    };
    if (!Array.isArray(o.prefixes)) throw new TypeError('Not an AWS ip-ranges.json document (no "prefixes" array)');
    const iv: Array<[number, number]> = [];
    for (const p of o.prefixes) {
      if (!p.ip_prefix) continue;
      const [a, len] = ipaddr.parseCIDR(p.ip_prefix);
      const start = v4ToInt(a.toString());
      const size = 2 ** (32 - len);
      const base = start - (start % size);
      iv.push([base, base + size - 1]);
    }
    iv.sort((x, y) => x[0] - y[0]);
    for (const [s, e] of iv) {
      const last = this.ends.length - 1;
      if (last >= 0 && s <= (this.ends[last] as number) + 1) this.ends[last] = Math.max(this.ends[last] as number, e);
      else {
        this.starts.push(s);
        this.ends.push(e);
      }
    }
    for (const p of o.ipv6_prefixes ?? []) {
      if (!p.ipv6_prefix) continue;
      const [a, len] = ipaddr.parseCIDR(p.ipv6_prefix);
      if (a.kind() === 'ipv6') this.v6.push([a as ipaddr.IPv6, len]);
    }
    this.prefixCount = o.prefixes.length + (o.ipv6_prefixes?.length ?? 0);
  }

  /** True when `ip` lies in a published AWS range. */
  contains(ip: string): boolean {
    if (!ipaddr.isValid(ip)) return false;
    const a = ipaddr.process(ip);
    if (a.kind() === 'ipv4') {
      const n = v4ToInt(a.toString());
      let lo = 0;
      let hi = this.starts.length - 1;
      while (lo <= hi) {
        const mid = (lo + hi) >> 1;
        if ((this.starts[mid] as number) > n) hi = mid - 1;
        else if ((this.ends[mid] as number) < n) lo = mid + 1;
        else return true;
      }
      return false;
    }
    return this.v6.some(([p, len]) => (a as ipaddr.IPv6).match(p, len));
  }
}

/** Who owns which address, from inventory: an instance's own, Elastic and NAT gateway addresses. */
export class AddressBook {
  /** provider:instanceKey → addresses (canonical). */
  private readonly byInstance = new Map<string, Set<string>>();
  /** GCP service-account email → addresses of every VM that runs as it. */
  private readonly bySa = new Map<string, Set<string>>();
  /** Every address the inventory names, for any instance. */
  private readonly all = new Set<string>();
  instanceCount = 0;

  constructor(facts?: InventoryFacts) {
    if (facts) this.add(facts);
  }

  add(facts: InventoryFacts): void {
    for (const r of facts.resources) {
      let key: string;
      if (r.kind === 'ec2-instance') key = `aws:${r.id.toLowerCase()}`;
      else if (r.kind === 'gce-instance') key = `gcp:${r.id.toLowerCase()}`;
      else if (r.kind === 'azure-vm') key = `azure:${(r.fullId ?? r.id).toLowerCase()}`;
      else continue;
      const set = this.byInstance.get(key) ?? new Set<string>();
      if (!this.byInstance.has(key)) this.instanceCount++;
      for (const a of r.addresses) set.add(canonicalIp(a));
      if (r.vpcId) for (const a of facts.natByVpc.get(r.vpcId) ?? []) set.add(canonicalIp(a));
      for (const a of facts.eipByInstance.get(r.id.toLowerCase()) ?? []) set.add(canonicalIp(a));
      this.byInstance.set(key, set);
      for (const a of set) this.all.add(a);
      for (const sa of r.serviceAccounts) {
        if (!sa.email) continue;
        const s = this.bySa.get(sa.email.toLowerCase()) ?? new Set<string>();
        for (const a of set) s.add(a);
        this.bySa.set(sa.email.toLowerCase(), s);
      }
    }
  }

  /** The instance's addresses, or undefined when the inventory does not know it. */
  instance(provider: string, instanceKey: string): ReadonlySet<string> | undefined {
    return this.byInstance.get(`${provider}:${instanceKey}`);
  }

  /** Addresses of the VMs that run as this service account, or undefined when none is known. */
  serviceAccount(email: string): ReadonlySet<string> | undefined {
    return this.bySa.get(email.toLowerCase());
  }

  /** Does any inventoried instance own the address? */
  known(ip: string): boolean {
    return this.all.has(ip);
  }
}
