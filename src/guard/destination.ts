/**
 * Is a connection destination a cloud metadata service? Checked on the address the socket is about to use
 * (after DNS), so names that resolve to a metadata address (wildcard DNS, rebinding, hosts entries) are caught.
 *
 * The catalogue is the core's (`src/core/endpoints`); this file holds the guard's own copy of it, made when the
 * guard loads, and reads it with the guard's own built-ins (intrinsics.ts): the core's lookups call the
 * methods of the moment (`Map.prototype.get`, `Array.prototype.filter`, `RegExp.prototype.test`, …), which
 * application code can replace so that no address is a metadata address. Tables are objects without a prototype,
 * frozen; the IPv6 parser reads characters. test/guard/destination.test.ts holds the two to the same answers.
 */
import { CATALOGUE, PATH_SENSITIVITY } from '../core/endpoints/lookup.ts';
import type { PathClass } from '../core/model/hit.ts';
import type { Severity } from '../core/model/severity.ts';
import {
  ArrayPrototypePush,
  arrayHas,
  bare,
  ObjectFreeze,
  RegExpPrototypeExec,
  StringPrototypeCharCodeAt,
  StringPrototypeIndexOf,
  StringPrototypeSlice,
  StringPrototypeToLowerCase,
} from './intrinsics.ts';

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

/**
 * 4 for a dotted quad as Node and libuv take one (four decimal octets, no leading zeros), 6 for an IPv6 address
 * (zone id allowed), 0 otherwise. Read by character: Node's own `net.isIP` tests a regular expression, and
 * `RegExp.prototype.test` calls whatever `RegExp.prototype.exec` is at that moment.
 */
export function ipFamily(address: string): 0 | 4 | 6 {
  if (StringPrototypeIndexOf(address, ':') >= 0) return ipv6Groups(address) === null ? 0 : 6;
  let octets = 0;
  let digits = 0;
  let v = 0;
  for (let i = 0; i <= address.length; i++) {
    const c = i < address.length ? StringPrototypeCharCodeAt(address, i) : 46;
    if (c === 46) {
      if (digits === 0 || v > 255 || ++octets > 4) return 0;
      digits = 0;
      v = 0;
    } else if (c >= 48 && c <= 57) {
      if (digits === 1 && v === 0) return 0;
      v = v * 10 + (c - 48);
      digits++;
    } else return 0;
  }
  return octets === 4 ? 4 : 0;
}

interface Service {
  readonly provider: string;
  readonly service: string;
  readonly doc: string;
  readonly portBound: boolean;
  readonly ports: Readonly<Record<string, true>>;
  readonly identifyingPaths: readonly RegExp[];
  readonly paths: readonly { readonly pattern: RegExp; readonly pathClass: PathClass }[];
}

const copyRegExp = (r: RegExp): RegExp => new RegExp(r.source, r.flags);

function serviceCopy(s: (typeof CATALOGUE.services)[number]): Service {
  const ports = bare<true>();
  for (let i = 0; i < s.ports.length; i++) ports[s.ports[i]!] = true;
  const identifyingPaths: RegExp[] = [];
  for (let i = 0; i < s.identifyingPaths.length; i++) identifyingPaths[i] = copyRegExp(s.identifyingPaths[i]!);
  const paths: { pattern: RegExp; pathClass: PathClass }[] = [];
  for (let i = 0; i < s.paths.length; i++)
    paths[i] = ObjectFreeze({ pattern: copyRegExp(s.paths[i]!.pattern), pathClass: s.paths[i]!.pathClass });
  return ObjectFreeze({
    provider: s.provider,
    service: s.service,
    doc: s.doc,
    portBound: s.portBound === true,
    ports: ObjectFreeze(ports),
    identifyingPaths: ObjectFreeze(identifyingPaths),
    paths: ObjectFreeze(paths),
  });
}

type Table = Readonly<Record<string, readonly Service[]>>;

function table(field: 'ipv4' | 'ipv6' | 'hostnames', services: readonly Service[]): Table {
  const t = bare<Service[]>();
  for (let i = 0; i < CATALOGUE.services.length; i++) {
    const keys = CATALOGUE.services[i]![field];
    for (let j = 0; j < keys.length; j++) {
      const k = keys[j]!.toLowerCase();
      t[k] ??= [];
      t[k].push(services[i]!);
    }
  }
  for (const k of Object.keys(t)) ObjectFreeze(t[k]);
  return ObjectFreeze(t);
}

const SERVICES: readonly Service[] = ObjectFreeze(CATALOGUE.services.map(serviceCopy));
const V4 = table('ipv4', SERVICES);
const V6 = table('ipv6', SERVICES);
const NAMES = table('hostnames', SERVICES);
const SENSITIVITY: Readonly<Record<string, Severity>> = ObjectFreeze(Object.assign(bare<Severity>(), PATH_SENSITIVITY));

/** The services answering at a canonical host and port (port-bound ones only on their ports). */
function servicesAt(t: Table, host: string, port: number | null): Service[] {
  const list = t[host];
  const out: Service[] = [];
  if (list === undefined) return out;
  for (let i = 0; i < list.length; i++) {
    const s = list[i]!;
    if (!s.portBound || (port !== null && s.ports[port] === true)) ArrayPrototypePush(out, s);
  }
  return out;
}

/** As the core's normalisePath: query and fragment cut, slashes collapsed, lower-case, a leading `/`. */
export function normalisedPath(path: string): string {
  let out = '';
  let prevSlash = false;
  for (let i = 0; i < path.length; i++) {
    const c = StringPrototypeCharCodeAt(path, i);
    if (c === 63 || c === 35) break;
    if (c === 47) {
      if (prevSlash) continue;
      prevSlash = true;
    } else prevSlash = false;
    out += StringPrototypeSlice(path, i, i + 1);
  }
  out = StringPrototypeToLowerCase(out);
  return StringPrototypeCharCodeAt(out, 0) === 47 ? out : `/${out}`;
}

const matches = (r: RegExp, s: string): boolean => RegExpPrototypeExec(r, s) !== null;

function describe(
  t: Table,
  canonical: string,
  kind: 'ipv4' | 'ipv6' | 'hostname',
  port: number | null,
  path: string | undefined,
  key: string = canonical,
): MetadataDestination | null {
  const candidates = servicesAt(t, key, port);
  if (candidates.length === 0) return null;
  const providers: string[] = [];
  for (let i = 0; i < candidates.length; i++)
    if (!arrayHas(providers, candidates[i]!.provider)) ArrayPrototypePush(providers, candidates[i]!.provider);
  const p = normalisedPath(path ?? '/');
  let chosen: Service | undefined = candidates.length === 1 ? candidates[0] : undefined;
  for (let i = 0; chosen === undefined && i < candidates.length; i++) {
    const ids = candidates[i]!.identifyingPaths;
    for (let j = 0; j < ids.length; j++)
      if (matches(ids[j]!, p)) {
        chosen = candidates[i];
        break;
      }
  }
  let pathClass: PathClass = 'other';
  if (chosen === undefined) pathClass = p === '/' ? 'index' : 'other';
  else
    for (let i = 0; i < chosen.paths.length; i++)
      if (matches(chosen.paths[i]!.pattern, p)) {
        pathClass = chosen.paths[i]!.pathClass;
        break;
      }
  const out: MetadataDestination = {
    canonical,
    kind,
    port,
    // A shared address and a path that names no provider: still a metadata service.
    provider: chosen === undefined ? 'multi' : chosen.provider,
    providers,
    service: chosen === undefined ? null : chosen.service,
    // Without a path (a raw socket, or fetch before the request line) the class is unknown: say so, not "index".
    pathClass: path === undefined ? 'other' : pathClass,
    sensitivity: path === undefined ? 'high' : (SENSITIVITY[pathClass] as Severity),
  };
  if (chosen !== undefined) out.doc = chosen.doc;
  return out;
}

/** Hex digit value, or -1. */
function hexValue(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

/** A dotted quad at `s[from…)` as two 16-bit groups, or null. */
function dottedGroups(s: string, from: number): [number, number] | null {
  const octets: number[] = [];
  let v = -1;
  for (let i = from; i <= s.length; i++) {
    const c = i < s.length ? StringPrototypeCharCodeAt(s, i) : 46;
    if (c === 46) {
      if (v < 0 || v > 255 || octets.length === 4) return null;
      ArrayPrototypePush(octets, v);
      v = -1;
    } else if (c >= 48 && c <= 57) {
      v = (v < 0 ? 0 : v * 10) + (c - 48);
      if (v > 255) return null;
    } else return null;
  }
  if (octets.length !== 4) return null;
  return [octets[0]! * 256 + octets[1]!, octets[2]! * 256 + octets[3]!];
}

/** The eight groups of an IPv6 address (zone id cut off, a dotted tail allowed), or null. */
export function ipv6Groups(address: string): number[] | null {
  let s = address;
  const zone = StringPrototypeIndexOf(s, '%');
  if (zone >= 0) s = StringPrototypeSlice(s, 0, zone);
  const head: number[] = [];
  const tail: number[] = [];
  let cur = head;
  let compressed = false;
  let i = 0;
  const n = s.length;
  if (n < 2) return null;
  if (StringPrototypeCharCodeAt(s, 0) === 58) {
    if (StringPrototypeCharCodeAt(s, 1) !== 58) return null;
    compressed = true;
    cur = tail;
    i = 2;
    if (i === n) return [0, 0, 0, 0, 0, 0, 0, 0];
  }
  for (;;) {
    // One group (or a dotted quad at the end).
    let v = 0;
    let digits = 0;
    const start = i;
    while (i < n) {
      const h = hexValue(StringPrototypeCharCodeAt(s, i));
      if (h < 0) break;
      v = v * 16 + h;
      digits++;
      i++;
    }
    if (i < n && StringPrototypeCharCodeAt(s, i) === 46) {
      const quad = dottedGroups(s, start);
      if (quad === null) return null;
      ArrayPrototypePush(cur, quad[0]);
      ArrayPrototypePush(cur, quad[1]);
      break;
    }
    if (digits === 0 || digits > 4) return null;
    ArrayPrototypePush(cur, v);
    if (i === n) break;
    if (StringPrototypeCharCodeAt(s, i) !== 58) return null;
    i++;
    if (i < n && StringPrototypeCharCodeAt(s, i) === 58) {
      if (compressed) return null;
      compressed = true;
      cur = tail;
      i++;
      if (i === n) break;
    } else if (i === n) return null;
  }
  const total = head.length + tail.length;
  if (compressed ? total > 7 : total !== 8) return null;
  const out: number[] = [];
  for (let k = 0; k < head.length; k++) ArrayPrototypePush(out, head[k]!);
  for (let k = total; k < 8; k++) ArrayPrototypePush(out, 0);
  for (let k = 0; k < tail.length; k++) ArrayPrototypePush(out, tail[k]!);
  return out;
}

const v4Of = (hi: number, lo: number): string => `${(hi >> 8) & 255}.${hi & 255}.${(lo >> 8) & 255}.${lo & 255}`;

function zeros(g: readonly number[], from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (g[i] !== 0) return false;
  return true;
}

const HEX = '0123456789abcdef';

/** A group as lower-case hex without leading zeros. */
function hex(v: number): string {
  let out = '';
  let x = v;
  do {
    out = StringPrototypeSlice(HEX, x & 15, (x & 15) + 1) + out;
    x >>= 4;
  } while (x > 0);
  return out;
}

/** RFC 5952 text of eight groups (lower-case hex, the longest run of two or more zero groups as `::`). */
function rfc5952(g: readonly number[]): string {
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  let out = '';
  for (let i = 0; i < 8; i++) {
    if (i === best) {
      out += '::';
      i += bestLen - 1;
      continue;
    }
    if (out !== '' && StringPrototypeCharCodeAt(out, out.length - 1) !== 58) out += ':';
    out += hex(g[i] as number);
  }
  return out;
}

/**
 * The canonical form of an IPv6 address for the catalogue: an IPv4 address where one is embedded the ways the
 * core's parser unwraps (mapped, compatible, SIIT, NAT64, 6to4), else the RFC 5952 text.
 */
export function canonicalIPv6(address: string): { kind: 'ipv4' | 'ipv6'; canonical: string } | null {
  const g = ipv6Groups(address);
  if (g === null) return null;
  if (zeros(g, 0, 5) && g[5] === 0xffff) return { kind: 'ipv4', canonical: v4Of(g[6]!, g[7]!) };
  if (zeros(g, 0, 6) && (g[6] !== 0 || g[7]! > 1)) return { kind: 'ipv4', canonical: v4Of(g[6]!, g[7]!) };
  if (zeros(g, 0, 4) && g[4] === 0xffff && g[5] === 0) return { kind: 'ipv4', canonical: v4Of(g[6]!, g[7]!) };
  if (g[0] === 0x64 && g[1] === 0xff9b && (zeros(g, 2, 6) || g[2] === 1))
    return { kind: 'ipv4', canonical: v4Of(g[6]!, g[7]!) };
  if (g[0] === 0x2002) return { kind: 'ipv4', canonical: v4Of(g[1]!, g[2]!) };
  return { kind: 'ipv6', canonical: rfc5952(g) };
}

/** The catalogue's loopback addresses, where the services that live on the host itself are listed (Azure Arc). */
const LOOPBACK_V4 = '127.0.0.1';
const LOOPBACK_V6 = '::1';

/**
 * A dotted quad (canonical) as the catalogue knows it. Every address that reaches this host's loopback is the
 * catalogue's loopback address: `0.0.0.0` (Linux connects the unspecified address to the local host, so
 * `http://0.0.0.0:40342/` is Azure Arc's endpoint, and `0`, `0x0`, `0.0` resolve to it), with the rest of
 * 0.0.0.0/8 ("this network", which no router forwards; kernels that route it answer it locally), and the whole of
 * 127.0.0.0/8 (a service listening on the wildcard address answers on every one of them). The destination keeps the
 * address connected to as its canonical form: a grant made for one covers that one.
 */
function atIPv4(address: string, port: number | null, path: string | undefined): MetadataDestination | null {
  if (V4[address] !== undefined) return describe(V4, address, 'ipv4', port, path);
  const local = StringPrototypeIndexOf(address, '0.') === 0 || StringPrototypeIndexOf(address, '127.') === 0;
  return local ? describe(V4, address, 'ipv4', port, path, LOOPBACK_V4) : null;
}

/**
 * The metadata service at a resolved address, or null. Accepts what sockets carry: dotted quads and any IPv6
 * spelling, including IPv4-mapped forms (`::ffff:169.254.169.254`). The unspecified addresses (`0.0.0.0` and the
 * rest of 0.0.0.0/8, `::`) and 127.0.0.0/8 are the host itself: they match the services catalogued on loopback.
 * @example metadataAtAddress('169.254.169.254', 80, '/latest/meta-data/')?.provider // 'aws'
 */
export function metadataAtAddress(address: string, port: number | null, path?: string): MetadataDestination | null {
  if (typeof address !== 'string') return null;
  const family = ipFamily(address);
  if (family === 4) return atIPv4(address, port, path);
  if (family !== 6) return null;
  const lower = StringPrototypeToLowerCase(address);
  if (V6[lower] !== undefined) return describe(V6, lower, 'ipv6', port, path);
  // Only unusual spellings pay for the full parse (mapped, zero-padded, zone ids).
  const p = canonicalIPv6(lower);
  if (p === null) return null;
  if (p.kind === 'ipv4') return atIPv4(p.canonical, port, path);
  if (V6[p.canonical] !== undefined) return describe(V6, p.canonical, 'ipv6', port, path);
  // `::` is this host (Linux connects it to `::1`): it reaches whatever listens on the IPv6 loopback.
  return p.canonical === '::' ? describe(V6, '::', 'ipv6', port, path, LOOPBACK_V6) : null;
}

/**
 * The metadata service a hostname names by itself (`metadata.google.internal`), before any DNS answer.
 * @example metadataAtHostname('metadata.google.internal.', 80)?.provider // 'gcp'
 */
export function metadataAtHostname(host: string, port: number | null, path?: string): MetadataDestination | null {
  if (typeof host !== 'string') return null;
  let h = StringPrototypeToLowerCase(host);
  if (StringPrototypeCharCodeAt(h, h.length - 1) === 46) h = StringPrototypeSlice(h, 0, h.length - 1);
  return NAMES[h] !== undefined ? describe(NAMES, h, 'hostname', port, path) : null;
}
