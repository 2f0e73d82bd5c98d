import type { PathClass } from '../model/hit.ts';
import type { Severity } from '../model/severity.ts';
import { type MetadataService, SERVICES } from './catalogue.ts';

export const PATH_SENSITIVITY: Record<PathClass, Severity> = {
  credentials: 'critical',
  token: 'high',
  'user-data': 'high',
  identity: 'medium',
  index: 'low',
  other: 'low',
};

export interface EndpointMatch {
  provider: string;
  service: string | null;
  pathClass: PathClass;
  sensitivity: Severity;
  doc?: string;
}

type HostKind = 'ipv4' | 'ipv6' | 'hostname';

function index(field: 'ipv4' | 'ipv6' | 'hostnames'): Map<string, MetadataService[]> {
  const m = new Map<string, MetadataService[]>();
  for (const s of SERVICES) {
    for (const k of s[field]) {
      const key = k.toLowerCase();
      const list = m.get(key) ?? [];
      list.push(s);
      m.set(key, list);
    }
  }
  return m;
}

const BY_IPV4 = index('ipv4');
const BY_IPV6 = index('ipv6');
const BY_HOSTNAME = index('hostnames');

/** Every address and hostname in the catalogue, for prefilters and rule exports. */
export const ALL_IPV4 = [...BY_IPV4.keys()];
export const ALL_IPV6 = [...BY_IPV6.keys()];
export const ALL_HOSTNAMES = [...BY_HOSTNAME.keys()];

/** Services that answer on this canonical host (port-bound ones only on their ports). */
export function servicesAt(host: string, kind: HostKind, port: number | null): MetadataService[] {
  const map = kind === 'ipv4' ? BY_IPV4 : kind === 'ipv6' ? BY_IPV6 : BY_HOSTNAME;
  const list = map.get(host.toLowerCase()) ?? [];
  return list.filter((s) => !s.portBound || (port !== null && s.ports.includes(port)));
}

function classifyPath(service: MetadataService, lowerPath: string): PathClass {
  for (const rule of service.paths) if (rule.pattern.test(lowerPath)) return rule.pathClass;
  return 'other';
}

/** Normalise a path for matching: lower-case, query and fragment removed, duplicate slashes collapsed. */
export function normalisePath(path: string): string {
  let p = path;
  const cut = p.search(/[?#]/);
  if (cut >= 0) p = p.slice(0, cut);
  p = p.replace(/\/{2,}/g, '/').toLowerCase();
  if (!p.startsWith('/')) p = `/${p}`;
  return p;
}

/**
 * Which metadata service, path class and sensitivity a (host, port, path) addresses, or null when the host is
 * not a metadata endpoint.
 * @example matchEndpoint('169.254.169.254', 'ipv4', null, '/latest/meta-data/iam/security-credentials/')
 */
export function matchEndpoint(host: string, kind: HostKind, port: number | null, path: string): EndpointMatch | null {
  const candidates = servicesAt(host, kind, port);
  if (candidates.length === 0) return null;
  const p = normalisePath(path);
  let chosen: MetadataService | undefined;
  if (candidates.length === 1) chosen = candidates[0];
  else {
    chosen = candidates.find((s) => s.identifyingPaths.some((r) => r.test(p)));
  }
  if (!chosen) {
    // Shared address and a path that names no provider: still a metadata service.
    const cls: PathClass = p === '/' ? 'index' : 'other';
    return { provider: 'multi', service: null, pathClass: cls, sensitivity: PATH_SENSITIVITY[cls] };
  }
  const pathClass = classifyPath(chosen, p);
  return {
    provider: chosen.provider,
    service: chosen.service,
    pathClass,
    sensitivity: PATH_SENSITIVITY[pathClass],
    doc: chosen.doc,
  };
}
