/**
 * Is a connection destination a cloud metadata service? Checked on the address the socket is about to use
 * (after DNS), so names that resolve to a metadata address (wildcard DNS, rebinding, hosts entries) are caught.
 * The catalogue is the core's; this file only makes the lookup cheap for the hot path.
 */
import { isIP } from 'node:net';
import { parseIPv6 } from '../core/decode/ip.ts';
import { ALL_HOSTNAMES, ALL_IPV4, ALL_IPV6, matchEndpoint, servicesAt } from '../core/endpoints/lookup.ts';
import type { PathClass } from '../core/model/hit.ts';
import type { Severity } from '../core/model/severity.ts';

export interface MetadataDestination {
  /** Canonical address (or catalogue hostname when no address is known yet). */
  canonical: string;
  kind: 'ipv4' | 'ipv6' | 'hostname';
  port: number | null;
  provider: string;
  /** Every provider that answers at this address and port (several share 169.254.169.254). */
  providers: string[];
  service: string | null;
  pathClass: PathClass;
  sensitivity: Severity;
  doc?: string;
}

const V4 = new Set(ALL_IPV4);
const V6 = new Set(ALL_IPV6);
const NAMES = new Set(ALL_HOSTNAMES);

function describe(
  canonical: string,
  kind: 'ipv4' | 'ipv6' | 'hostname',
  port: number | null,
  path: string | undefined,
): MetadataDestination | null {
  const services = servicesAt(canonical, kind, port);
  if (services.length === 0) return null;
  const m = matchEndpoint(canonical, kind, port, path ?? '/');
  if (!m) return null;
  const out: MetadataDestination = {
    canonical,
    kind,
    port,
    provider: m.provider,
    providers: [...new Set(services.map((s) => s.provider))],
    service: m.service,
    // Without a path (a raw socket, or fetch before the request line) the class is unknown: say so, not "index".
    pathClass: path === undefined ? 'other' : m.pathClass,
    sensitivity: path === undefined ? 'high' : m.sensitivity,
  };
  if (m.doc) out.doc = m.doc;
  return out;
}

/**
 * The metadata service at a resolved address, or null. Accepts what sockets carry: dotted quads and any IPv6
 * spelling, including IPv4-mapped forms (`::ffff:169.254.169.254`).
 * @example metadataAtAddress('169.254.169.254', 80, '/latest/meta-data/')?.provider // 'aws'
 */
export function metadataAtAddress(address: string, port: number | null, path?: string): MetadataDestination | null {
  const family = isIP(address);
  if (family === 4) return V4.has(address) ? describe(address, 'ipv4', port, path) : null;
  if (family !== 6) return null;
  const lower = address.toLowerCase();
  if (V6.has(lower)) return describe(lower, 'ipv6', port, path);
  // Only unusual spellings pay for the full parse (mapped, zero-padded, zone ids).
  const p = parseIPv6(lower);
  if (!p) return null;
  if (p.kind === 'ipv4') return V4.has(p.canonical) ? describe(p.canonical, 'ipv4', port, path) : null;
  return V6.has(p.canonical) ? describe(p.canonical, 'ipv6', port, path) : null;
}

/**
 * The metadata service a hostname names by itself (`metadata.google.internal`), before any DNS answer.
 * @example metadataAtHostname('metadata.google.internal.', 80)?.provider // 'gcp'
 */
export function metadataAtHostname(host: string, port: number | null, path?: string): MetadataDestination | null {
  let h = host.toLowerCase();
  if (h.endsWith('.')) h = h.slice(0, -1);
  return NAMES.has(h) ? describe(h, 'hostname', port, path) : null;
}
