import type { Transform } from '../model/hit.ts';
import { parseIPv4Loose, parseIPv6 } from './ip.ts';

/**
 * The record grammar of 1u.ms-style names, as its server reads them (https://github.com/neex/1u.ms, processors.go):
 * the text after the last `make-` up to the first `rr` or `rebind` is the first answer, the text after `rebind-` up to
 * the next `rr` the second; either may hold several records joined by `-and-`, and a trailing `-` is dropped. Each
 * record is
 * - `ip-<address>` with letter separators: `o` for every dot, `c` for every colon (`ip-169o254o169o254`), optionally
 *   `ip-v6-…` to force an AAAA answer;
 * - an address with dashes for dots (`169-254-169-254`) or for colons (`fd00-ec2--254`, the doubled dash being `::`);
 * - `hex-<hex bytes>` of a record (`hex-3136392e…`), never a CNAME;
 * - `cname-<name>`, or any text that is no address: a CNAME to that name.
 */
export interface RecordReading {
  kind: 'ipv4' | 'ipv6' | 'hostname';
  value: string;
  how: Transform;
}

const MAKE = /^.*make-(.*?)(?:rr|rebind)/;
const REBIND = /rebind-(.*?)rr/;

/** Go's net.ParseIP: dotted decimal IPv4 (no leading zeros) or IPv6; mapped IPv6 reads as its IPv4 address. */
function parseGoIp(s: string): { kind: 'ipv4' | 'ipv6'; canonical: string } | null {
  if (/^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/.test(s)) {
    const p = parseIPv4Loose(s);
    return p ? { kind: 'ipv4', canonical: p.canonical } : null;
  }
  if (!s.includes(':')) return null;
  const p = parseIPv6(s);
  return p ? { kind: p.kind, canonical: p.canonical } : null;
}

function readRecord(raw: string, depth: number): RecordReading[] {
  const rec = raw.endsWith('-') ? raw.slice(0, -1) : raw;
  if (rec.length === 0 || depth > 2) return [];
  if (rec.startsWith('cname-')) return cname(rec.slice(6));
  if (rec.startsWith('ip-')) {
    let ip = rec.slice(3).replace(/o/g, '.').replace(/c/g, ':');
    if (ip.startsWith('v6-')) ip = ip.slice(3);
    const p = parseGoIp(ip);
    return p ? [{ kind: p.kind, value: p.canonical, how: 'ip-letter-separators' }] : [];
  }
  const dots = parseGoIp(rec.replace(/-/g, '.'));
  if (dots) return [{ kind: dots.kind, value: dots.canonical, how: rec.includes('-') ? 'ip-dashed' : 'dotted' }];
  const colons = parseGoIp(rec.replace(/-/g, ':'));
  if (colons) return [{ kind: colons.kind, value: colons.canonical, how: 'ipv6-dashed' }];
  const direct = parseGoIp(rec);
  if (direct) return [{ kind: direct.kind, value: direct.canonical, how: 'dotted' }];
  const hex = /^hex-((?:[0-9a-f]{2})+)$/.exec(rec);
  if (hex) {
    const text = Buffer.from(hex[1]!, 'hex').toString('latin1');
    const p = parseGoIp(text.toLowerCase());
    return p ? [{ kind: p.kind, value: p.canonical, how: 'hex-record' }] : [];
  }
  return cname(rec);
}

/** A CNAME target; names without a dot are sub-names of the server's own zone, so they name nothing of interest. */
function cname(name: string): RecordReading[] {
  const n = name.replace(/^\./, '').replace(/\.$/, '');
  return n.includes('.') && /^[a-z0-9.-]+$/.test(n) ? [{ kind: 'hostname', value: n, how: 'cname' }] : [];
}

/** Every record a name in the 1u.ms grammar (the name without its zone) answers with, first and rebound answers. */
export function readMakeRecords(label: string): RecordReading[] {
  const out: RecordReading[] = [];
  for (const re of [MAKE, REBIND]) {
    const m = re.exec(label);
    if (!m) continue;
    for (const rec of m[1]!.split('-and-')) out.push(...readRecord(rec, 0));
  }
  return out;
}
