import type { PathClass } from '../model/hit.ts';
import type { Severity } from '../model/severity.ts';
import { ALIAS_NAMES } from './aliases.ts';
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

/**
 * Everything derived from a list of services: the lookups the classifier, guard and proxy use, and the name lists the
 * classifier, prefilter, base64 decoder and exporters search for. Built once from `catalogue.ts` (`CATALOGUE`);
 * `buildCatalogue` builds the same from any list, so nothing that names a provider is typed anywhere else.
 */
export interface Catalogue {
  services: readonly MetadataService[];
  /** Every address and hostname (lower-case), for prefilters, guards and rule exports. */
  ipv4: string[];
  ipv6: string[];
  hostnames: string[];
  /** Hostnames with a dot: found in free text by name (single-label ones only where a URL or host is expected). */
  dottedHostnames: string[];
  /**
   * The first path segment of every path the services serve, as regex fragments (`latest`, `computemetadata`,
   * `opc`, `v[234]`, `\d{4}-\d{2}-\d{2}`): what the classifier looks for after a bare host (`2852039166/latest/…`).
   */
  pathHeads: string[];
  /**
   * Strings a decoded base64 or hex payload must contain to be opened because of the catalogue: every address, its
   * first two octets or first IPv6 group, every hostname and every public alias.
   */
  payloadMarkers: string[];
  servicesAt(host: string, kind: HostKind, port: number | null): MetadataService[];
  matchEndpoint(host: string, kind: HostKind, port: number | null, path: string): EndpointMatch | null;
}

function index(services: readonly MetadataService[], field: 'ipv4' | 'ipv6' | 'hostnames') {
  const m = new Map<string, MetadataService[]>();
  for (const s of services) {
    for (const k of s[field]) {
      const key = k.toLowerCase();
      const list = m.get(key) ?? [];
      list.push(s);
      m.set(key, list);
    }
  }
  return m;
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

/** The lookups and name lists of a list of services. */
export function buildCatalogue(services: readonly MetadataService[]): Catalogue {
  const byIpv4 = index(services, 'ipv4');
  const byIpv6 = index(services, 'ipv6');
  const byHostname = index(services, 'hostnames');
  const ipv4 = [...byIpv4.keys()];
  const ipv6 = [...byIpv6.keys()];
  const hostnames = [...byHostname.keys()];
  const servicesAt = (host: string, kind: HostKind, port: number | null): MetadataService[] => {
    const map = kind === 'ipv4' ? byIpv4 : kind === 'ipv6' ? byIpv6 : byHostname;
    const list = map.get(host.toLowerCase()) ?? [];
    return list.filter((s) => !s.portBound || (port !== null && s.ports.includes(port)));
  };
  const matchEndpoint = (host: string, kind: HostKind, port: number | null, path: string): EndpointMatch | null => {
    const candidates = servicesAt(host, kind, port);
    if (candidates.length === 0) return null;
    const p = normalisePath(path);
    const chosen =
      candidates.length === 1 ? candidates[0] : candidates.find((s) => s.identifyingPaths.some((r) => r.test(p)));
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
  };
  // Loopback serves only port-bound services (Azure Arc): its spellings are not markers of a metadata payload.
  const markerV4 = ipv4.filter((a) => !a.startsWith('127.'));
  const payloadMarkers = [
    ...new Set([
      ...markerV4,
      ...markerV4.map((a) => a.split('.').slice(0, 2).join('.')),
      ...ipv6.filter((a) => a !== '::1').map((a) => a.split(':')[0]!),
      ...hostnames.filter((h) => h !== 'localhost'),
      ...ALIAS_NAMES,
    ]),
  ];
  const pathHeads = new Set<string>();
  for (const s of services)
    for (const r of [...s.identifyingPaths, ...s.paths.map((p) => p.pattern)]) {
      const m = /^\^(?:\\\/|\/)(?:\(\?:([^()]*)\)|((?:[a-z0-9_-]|\\\.|\[[^\]]*\]|\\d(?:\{\d\})?)+))/.exec(r.source);
      for (const head of (m?.[1] ?? m?.[2] ?? '').split('|')) if (head) pathHeads.add(head);
    }
  return {
    services,
    pathHeads: [...pathHeads],
    ipv4,
    ipv6,
    hostnames,
    dottedHostnames: hostnames.filter((h) => h.includes('.')),
    payloadMarkers,
    servicesAt,
    matchEndpoint,
  };
}

/** The catalogue of `catalogue.ts`, with everything derived from it. */
export const CATALOGUE: Catalogue = buildCatalogue(SERVICES);

/** Every address and hostname in the catalogue, for prefilters and rule exports. */
export const ALL_IPV4 = CATALOGUE.ipv4;
export const ALL_IPV6 = CATALOGUE.ipv6;
export const ALL_HOSTNAMES = CATALOGUE.hostnames;

/** Services that answer on this canonical host (port-bound ones only on their ports). */
export function servicesAt(host: string, kind: HostKind, port: number | null): MetadataService[] {
  return CATALOGUE.servicesAt(host, kind, port);
}

/**
 * Which metadata service, path class and sensitivity a (host, port, path) addresses, or null when the host is
 * not a metadata endpoint.
 * @example matchEndpoint('169.254.169.254', 'ipv4', null, '/latest/meta-data/iam/security-credentials/')
 */
export function matchEndpoint(host: string, kind: HostKind, port: number | null, path: string): EndpointMatch | null {
  return CATALOGUE.matchEndpoint(host, kind, port, path);
}
