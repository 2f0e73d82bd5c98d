import ipaddr from 'ipaddr.js';
import { type AddressForm, DNS_ALIASES, DNS_SERVICES, type DnsService } from '../endpoints/aliases.ts';
import { ALL_IPV4 } from '../endpoints/lookup.ts';
import type { InternalKind, Transform } from '../model/hit.ts';
import { parseIPv4Loose, parseIPv6 } from './ip.ts';
import { readMakeRecords } from './rebinding.ts';
import { foldUnicode, hasNonAscii } from './unicode.ts';

/** One way a written host can be read. A host can have several (a rebinding name carries two addresses). */
export interface HostReading {
  kind: 'ipv4' | 'ipv6' | 'hostname';
  canonical: string;
  transforms: Transform[];
  disagreements: string[];
  /** How the host was written once decoded: a plain literal, a non-canonical numeric form, or a name. */
  form: 'literal' | 'numeric' | 'name';
}

/**
 * A catalogue address (not loopback) spelled as labels of a name, dotted, dashed or in hex; rebinding services also
 * separate their fields with underscores (`1337_d83ad02e_a9fea9fe.…`).
 */
/** A top-level domain as registries write them: letters only, or an internationalised `xn--` label. */
const TOP_LEVEL_LABEL = /^(?:[a-z]{2,63}|xn--[a-z0-9-]{1,59})$/;
const EMBEDDED_METADATA_ADDRESS = new RegExp(
  `(?:^|[._-])(?:${ALL_IPV4.filter((a) => !a.startsWith('127.'))
    .flatMap((a) => [
      a.split('.').join('[.-]'),
      a
        .split('.')
        .map((o) => Number(o).toString(16).padStart(2, '0'))
        .join(''),
    ])
    .join('|')})(?:[._-])`,
);
const zones = (kind: DnsService['kind']) => DNS_SERVICES.filter((d) => d.kind === kind).map((d) => d.suffix);
/** Wildcard DNS services that answer with the address written in the name (loopback-only zones included). */
const WILDCARD_SUFFIXES = [...zones('wildcard'), ...zones('loopback')];
/** DNS rebinding services: the name alternates between addresses written in it. */
const REBINDING_SUFFIXES = zones('rebinding');
/** Names that always resolve to loopback. */
const LOOPBACK_WILDCARDS = [...zones('loopback'), 'localhost'];
/** Fixed public names whose address record is a metadata or loopback address. */
const FIXED_ALIASES = new Map(DNS_ALIASES.map((a) => [a.name, a]));
/** Zones that also read a base-36 label as an IPv4 address (xip.io). */
const BASE36_ZONES = new Set(DNS_SERVICES.filter((d) => d.base36).map((d) => d.suffix));

/**
 * xip-pdns's base-36 rule: the label next to the zone, 1–7 characters, as a number whose low 32 bits are the address,
 * written low byte first (`printf "%d.%d.%d.%d" $(( ip&0xFF )) $(( (ip>>8)&0xFF )) …` in bin/xip-pdns as xip.io ran
 * it): `1ynrnhl` is 0xfea9fea9, answered as 169.254.169.254.
 */
function base36Address(label: string): string | null {
  const m = /(?:^|\.)([a-z0-9]{1,7})$/.exec(label);
  if (!m || /^\d+$/.test(m[1]!)) return null;
  const n = Number.parseInt(m[1]!, 36);
  return [n % 256, Math.floor(n / 256) % 256, Math.floor(n / 65536) % 256, Math.floor(n / 16777216) % 256].join('.');
}

const LOOPBACK_NAMES = new Set([
  'localhost',
  'localhost.localdomain',
  'localhost4',
  'localhost4.localdomain4',
  'localhost6',
  'localhost6.localdomain6',
  'ip6-localhost',
  'ip6-loopback',
  'ipv6-localhost',
  'ipv6-loopback',
  'loopback',
]);
const CONTAINER_HOST_NAMES = new Set([
  'host.docker.internal',
  'gateway.docker.internal',
  'kubernetes.docker.internal',
  'host.containers.internal',
  'host.lima.internal',
  'host.minikube.internal',
  'docker.for.mac.localhost',
  'docker.for.win.localhost',
]);

function suffixOf(name: string, suffixes: readonly string[]): string | null {
  for (const s of suffixes) if (name === s || name.endsWith(`.${s}`)) return s;
  return null;
}

function hexToQuad(h: string): string | null {
  if (!/^[0-9a-f]{8}$/.test(h)) return null;
  const n = Number.parseInt(h, 16);
  return [(n >>> 24) & 255, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

const OCTET = '(?:25[0-5]|2[0-4]\\d|1?\\d?\\d)';
/** Four octets separated by dots, dashes or a mix (`169.254-169.254` in 1u.ms names). */
const QUAD_ANY = new RegExp(`(?:^|[^0-9])(${OCTET}[.-]${OCTET}[.-]${OCTET}[.-]${OCTET})(?![0-9])`, 'g');

/** Addresses written inside a DNS name: dotted, dashed, 8-hex-digit, or sslip.io-style dashed IPv6. */
export function addressesInName(label: string): Array<{ ip: string; kind: 'ipv4' | 'ipv6'; how: AddressForm }> {
  const out: Array<{ ip: string; kind: 'ipv4' | 'ipv6'; how: AddressForm }> = [];
  // Overlapping matches matter (`1.2.3.4-169.254.169.254`), so scan from every start.
  for (let i = 0; i < label.length; i++) {
    QUAD_ANY.lastIndex = i;
    const m = QUAD_ANY.exec(label);
    if (!m) break;
    const q = m[1]!;
    out.push({ ip: q.replace(/-/g, '.'), kind: 'ipv4', how: q.includes('-') ? 'dashed' : 'dotted' });
    i = m.index + m[0].length - q.length;
  }
  for (const part of label.split(/[._-]/)) {
    const q = hexToQuad(part);
    if (q) out.push({ ip: q, kind: 'ipv4', how: 'hex' });
  }
  // sslip.io IPv6: fd00-ec2--254.sslip.io
  for (const lab of label.split('.')) {
    if (lab.includes('--') || (lab.match(/-/g)?.length ?? 0) >= 2) {
      const v6 = parseIPv6(lab.replace(/-/g, ':'));
      if (v6) out.push({ ip: v6.canonical, kind: v6.kind, how: 'ipv6-dashed' });
    }
  }
  return out;
}

/**
 * Every reading of a host as written (after the text around it was decoded): IP literals in every form,
 * Unicode-folded names, names with trailing dots or backslashes, and wildcard/rebinding DNS names that embed an
 * address.
 * @example canonicalHostReadings('169-254-169-254.nip.io')[0]?.canonical // '169.254.169.254'
 */
export function canonicalHostReadings(written: string): HostReading[] {
  const cached = CACHE.get(written);
  if (cached) return cached;
  const r = readHost(written);
  if (CACHE.size >= CACHE_MAX) CACHE.clear();
  CACHE.set(written, r);
  return r;
}

/** Hosts repeat a lot within and across lines; readings are pure, so a small cache is safe. Callers must not mutate. */
const CACHE = new Map<string, HostReading[]>();
const CACHE_MAX = 4096;

function readHost(written: string): HostReading[] {
  const transforms: Transform[] = [];
  let s = written.trim();
  if (s.length === 0 || s.length > 300) return [];
  if (hasNonAscii(s)) {
    const f = foldUnicode(s);
    if (f !== s) transforms.push('unicode-nfkc');
    s = f;
    if (hasNonAscii(s)) return [];
  }
  if (s.includes('\\')) {
    s = s.replace(/\\/g, '');
    transforms.push('backslash-host');
  }
  if (s.startsWith('[') || s.includes(':')) {
    const v6 = parseIPv6(s.startsWith('[') && !s.endsWith(']') ? s.slice(1) : s);
    if (!v6) return [];
    return [
      {
        kind: v6.kind,
        canonical: v6.canonical,
        transforms: [...transforms, ...v6.transforms],
        disagreements: v6.disagreements,
        form: v6.transforms.length > 0 ? 'numeric' : 'literal',
      },
    ];
  }
  const v4 = parseIPv4Loose(s);
  if (v4) {
    return [
      {
        kind: 'ipv4',
        canonical: v4.canonical,
        transforms: [...transforms, ...v4.transforms],
        disagreements: v4.disagreements,
        form: v4.transforms.filter((t) => t !== 'trailing-dot').length > 0 ? 'numeric' : 'literal',
      },
    ];
  }
  if (!/^[a-z0-9._-]+$/i.test(s)) return [];
  let name = s.toLowerCase();
  if (name !== s && /[A-Z]/.test(s)) transforms.push('mixed-case');
  if (name.endsWith('.')) {
    name = name.replace(/\.+$/, '');
    transforms.push('trailing-dot');
  }
  if (name.length === 0) return [];
  const readings: HostReading[] = [{ kind: 'hostname', canonical: name, transforms, disagreements: [], form: 'name' }];
  const wild = suffixOf(name, WILDCARD_SUFFIXES);
  const rebind = suffixOf(name, REBINDING_SUFFIXES);
  const suffix = wild ?? rebind;
  if (suffix) {
    const label = name === suffix ? '' : name.slice(0, name.length - suffix.length - 1);
    const tag: Transform = rebind ? 'dns-rebinding' : 'wildcard-dns';
    const seen = new Set<string>();
    for (const r of readMakeRecords(label)) {
      if (r.kind === 'hostname') {
        // A CNAME to another name: that name's own readings (a metadata hostname, another rebinding name).
        for (const t of readHost(r.value).slice(0, 8)) {
          if (seen.has(`${t.kind}|${t.canonical}`)) continue;
          seen.add(`${t.kind}|${t.canonical}`);
          readings.push({
            ...t,
            transforms: [...transforms, `${tag}:${suffix}`, 'cname', ...t.transforms],
            disagreements: [`${suffix} answers with a CNAME to ${r.value}`, ...t.disagreements],
            form: 'name',
          });
        }
        continue;
      }
      seen.add(`${r.kind}|${r.value}`);
      readings.push({
        kind: r.kind,
        canonical: r.value,
        transforms: [...transforms, `${tag}:${suffix}`, ...(r.how === 'dotted' ? [] : [r.how])],
        disagreements: [`${suffix} resolves the name to the record written in it`],
        form: 'name',
      });
    }
    const forms = DNS_SERVICES.find((d) => d.suffix === suffix)?.forms;
    for (const a of addressesInName(label)) {
      if (seen.has(`${a.kind}|${a.ip}`)) continue;
      // A notation the service's server does not read resolves to nothing there.
      if (forms && !forms.includes(a.how)) continue;
      readings.push({
        kind: a.kind,
        canonical: a.ip,
        transforms: [...transforms, `${tag}:${suffix}`, ...(a.how === 'dotted' ? [] : [`ip-${a.how}`])],
        disagreements: [`${suffix} resolves the name to the address written in it`],
        form: 'name',
      });
    }
    const b36 = BASE36_ZONES.has(suffix) && readings.length === 1 ? base36Address(label) : null;
    if (b36) {
      readings.push({
        kind: 'ipv4',
        canonical: b36,
        transforms: [...transforms, `${tag}:${suffix}`, 'ip-base36'],
        disagreements: [`${suffix} reads the label next to it as a base-36 number`],
        form: 'name',
      });
    }
    if (suffixOf(name, LOOPBACK_WILDCARDS) && readings.length === 1) {
      readings.push({
        kind: 'ipv4',
        canonical: '127.0.0.1',
        transforms: [...transforms, `wildcard-dns:${suffix}`],
        disagreements: [],
        form: 'name',
      });
    }
  }
  const a = FIXED_ALIASES.get(name);
  if (a) {
    const v = parseIPv4Loose(a.address) ?? parseIPv6(a.address);
    if (v)
      readings.push({
        kind: v.kind,
        canonical: v.canonical,
        transforms: [...transforms, 'dns-alias'],
        disagreements: [`${name} is a public name whose address record is ${a.address} (${a.source})`],
        form: 'name',
      });
  } else if (
    !suffix &&
    // The last label must be one a registry could delegate (letters, or an IDN `xn--` label): in
    // `imds_169.254.169.254_webinar` or `169.254.169.254-talk` it is `254_webinar`, `254-talk`: a slug, no domain.
    TOP_LEVEL_LABEL.test(name.slice(name.lastIndexOf('.') + 1)) &&
    name.includes('.') &&
    EMBEDDED_METADATA_ADDRESS.test(name)
  ) {
    // An unknown domain whose labels spell a metadata address: attacker-run wildcard DNS.
    for (const a of addressesInName(name)) {
      readings.push({
        kind: a.kind,
        canonical: a.ip,
        transforms: [...transforms, 'embedded-ip-hostname'],
        disagreements: ['the name embeds a metadata address; its DNS is controlled by whoever owns the domain'],
        form: 'name',
      });
    }
  }
  return readings;
}

/** Why an address or name is internal, or null. */
export function internalKindOf(r: Pick<HostReading, 'kind' | 'canonical'>): InternalKind | null {
  if (r.kind === 'hostname') {
    const n = r.canonical;
    if (LOOPBACK_NAMES.has(n) || n.endsWith('.localhost')) return 'loopback-dns';
    if (CONTAINER_HOST_NAMES.has(n)) return 'container-host';
    if (/^kubernetes(?:\.default(?:\.svc(?:\.cluster\.local)?)?)?$/.test(n) || n.endsWith('.svc.cluster.local'))
      return 'kubernetes';
    if (/\.(?:internal|intranet|corp|local|lan|home\.arpa)$/.test(n)) return 'internal-dns';
    return null;
  }
  let addr: ipaddr.IPv4 | ipaddr.IPv6;
  try {
    addr = ipaddr.parse(r.canonical);
  } catch {
    return null;
  }
  const range = addr.range();
  switch (range) {
    case 'loopback':
      return 'loopback';
    case 'unspecified':
      // Only the all-zero address reaches this host; other 0.0.0.0/8 addresses are refused by the kernel.
      return r.canonical === '0.0.0.0' || r.canonical === '::' ? 'unspecified' : null;
    case 'private':
      return 'private';
    case 'linkLocal':
      return 'link-local';
    case 'uniqueLocal':
      return 'unique-local';
    case 'carrierGradeNat':
      return 'shared-address';
    default:
      return null;
  }
}
