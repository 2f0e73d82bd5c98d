/**
 * The catalogue as regular expressions that other engines can run: every metadata address in the spellings URL
 * parsers accept (mixed-radix dotted forms, 1–3 part forms, IPv4-mapped IPv6, dashed and hex wildcard-DNS labels),
 * the metadata hostnames, and the paths that only metadata services serve.
 *
 * The patterns are written for the common subset of PCRE, RE2 and AWS WAF's regex dialect: no lookaround, no
 * backreferences, lower-case only (every exporter lower-cases first). Each pattern stays under AWS WAF's
 * 200-character limit; the exporters say in their headers what a regex cannot do (DNS resolution, base64 layers,
 * Unicode look-alikes, URL-parser disagreements).
 */

import { DNS_SERVICES } from '../endpoints/aliases.ts';
import { SERVICES } from '../endpoints/catalogue.ts';
import { ALL_HOSTNAMES, ALL_IPV4, ALL_IPV6, servicesAt } from '../endpoints/lookup.ts';

export interface NamedPattern {
  /** Stable key: part of generated rule ids. */
  key: string;
  /** What it matches, for rule messages. */
  title: string;
  /** Providers it belongs to. */
  providers: string[];
  /** The whole pattern (PCRE engines). */
  regex: string;
  /** The same language as alternatives of at most 200 characters each (AWS WAF's limit). */
  parts: string[];
}

/** AWS WAF's per-regex limit. */
export const MAX_PART = 200;

function whole(parts: string[]): string {
  return parts.length === 1 ? parts[0]! : `(?:${parts.join('|')})`;
}

function named(key: string, title: string, providers: string[], parts: string[]): NamedPattern {
  for (const p of parts)
    if (p.length > MAX_PART)
      throw new RangeError(`Pattern "${key}" has a part of ${p.length} characters (limit ${MAX_PART})`);
  return { key, title, providers, regex: whole(parts), parts };
}

/**
 * Left edge for numeric host spellings (`2852039166`, `0xa9fea9fe`): a URL host position (`//`, `\\`, `@`, `http:`),
 * or the value of a parameter whose name says it holds a URL. A bare number elsewhere is an order id.
 */
const URL_LEFT = String.raw`(?:[/\\]{2}|@|[a-z]:/?)`;
const PARAM_LEFT =
  '(?:ur[il]|link|href|src|target|dest|redir[a-z_]*|host|domain|endpoint|hook|callback|proxy|site|feed|fetch|goto)=';
/** Left edge for dotted quads and names: any character that cannot continue a host (whitespace too: prose is not a URL). */
const HOST_LEFT = String.raw`(?:^|[^0-9a-z.\s+-])`;
/** Wildcard and rebinding DNS services whose names embed an address. */
/** Wildcard and rebinding DNS zones the exports carry (`exported` in `endpoints/aliases.ts`: AWS WAF's capacity). */
const WILDCARD_DNS = `(?:${DNS_SERVICES.filter((d) => d.exported)
  .map((d) => d.suffix.replace(/\./g, '\\.'))
  .join('|')})`;
/** Right edge: end, or a character that ends a host (a dot still allows wildcard-DNS suffixes like `.nip.io`). */
const HOST_RIGHT = '(?:$|[^0-9a-z-])';

/** `left(?:b1|b2|…)right` in as few pieces as fit the part limit. */
function pack(left: string, bodies: string[], right: string): string[] {
  const out: string[] = [];
  let cur: string[] = [];
  const render = (bs: string[]) => `${left}${bs.length === 1 ? bs[0] : `(?:${bs.join('|')})`}${right}`;
  for (const b of bodies) {
    if (cur.length > 0 && render([...cur, b]).length > MAX_PART) {
      out.push(render(cur));
      cur = [];
    }
    cur.push(b);
  }
  if (cur.length > 0) out.push(render(cur));
  return out;
}

function partAlternatives(v: number): string {
  if (v === 0) return '(?:0+|0x0*)';
  return `(?:${v}|0+${v.toString(8)}|0x0*${v.toString(16)})`;
}

function bytesOf(ip: string): [number, number, number, number] {
  const b = ip.split('.').map(Number);
  return [b[0]!, b[1]!, b[2]!, b[3]!];
}

/** Dotted forms with 4 parts, each part in decimal, octal or hex (`0251.0xfe.169.0376`). */
export function dottedIPv4(ip: string): string {
  return bytesOf(ip).map(partAlternatives).join(String.raw`\.`);
}

/** Forms with 1–3 parts, the last part filling the remaining bytes (`2852039166`, `169.16689662`, `169.254.43518`). */
export function shortIPv4(ip: string): { three: string; two: string; one: string } {
  const [a, b, c, d] = bytesOf(ip);
  const three = `${partAlternatives(a)}\\.${partAlternatives(b)}\\.${partAlternatives(c * 256 + d)}`;
  const two = `${partAlternatives(a)}\\.${partAlternatives(b * 65536 + c * 256 + d)}`;
  const n = ((a * 256 + b) * 256 + c) * 256 + d;
  // Parsers that truncate to 32 bits read n + k·2^32 and 0x<anything>HHHHHHHH as n too.
  const one = `(?:${n}|${n + 2 ** 32}|${n + 2 * 2 ** 32}|0+${n.toString(8)}|0x[0-9a-f]*${n.toString(16).padStart(8, '0').replace(/^0+/, '')})`;
  return { three, two, one };
}

function hex4(n: number): string {
  return n.toString(16);
}

/** IPv4-mapped and -compatible IPv6 spellings of an IPv4 address (`::ffff:a9fe:a9fe`, `::ffff:169.254.169.254`). */
export function mappedIPv4(ip: string): string {
  const [a, b, c, d] = bytesOf(ip);
  const hi = hex4(a * 256 + b);
  const lo = hex4(c * 256 + d);
  const v4 = `(?:0*${hi}:0*${lo}|${ip.replace(/\./g, '\\.')})`;
  // Mapped (::ffff:), compatible (::), SIIT (::ffff:0:) and 6to4 (2002:HHHH:HHHH::).
  return `(?:(?:(?:0{1,4}:){5}|::)(?:ffff:(?:0{1,4}:)?)?${v4}|2002:0*${hi}:0*${lo}:)`;
}

/** An IPv6 address compressed as usual, or written out in full with optional leading zeros. */
export function ipv6Spellings(addr: string): string {
  const [head = '', tail = ''] = addr.split('::');
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  const full = groups.map((g) => `0*${g.replace(/^0+(?=.)/, '')}`).join(':');
  const compressed = addr.replace(/\./g, '\\.');
  return `(?:${compressed}|${full})`;
}

function escapeName(n: string): string {
  return n.replace(/[.]/g, '\\.');
}

/**
 * Names under wildcard or rebinding DNS services that embed the address, dotted, dashed or as 8 hex digits
 * (`app-169-254-169-254.nip.io`, `customer.169.254.169.254.sslip.io`, `7f000001.a9fea9fe.rbndr.us`).
 */
export function dnsLabelIPv4(ip: string): string {
  const [a, b, c, d] = bytesOf(ip);
  const hex = [a, b, c, d].map((x) => x.toString(16).padStart(2, '0')).join('');
  return `(?:${[a, b, c, d].join('[.-]')}|${hex})[.-](?:[a-z0-9-]+[.-])*${WILDCARD_DNS}`;
}

/** Addresses to export: port-bound loopback entries (Azure Arc) are handled as host:port, not as addresses. */
export function exportedIPv4(): string[] {
  return ALL_IPV4.filter((ip) => servicesAt(ip, 'ipv4', 80).length > 0 || servicesAt(ip, 'ipv4', 443).length > 0);
}
export function exportedIPv6(): string[] {
  return ALL_IPV6.filter((ip) => servicesAt(ip, 'ipv6', 80).length > 0);
}

function providersAt(host: string, kind: 'ipv4' | 'ipv6' | 'hostname'): string[] {
  const ports = [80, 443, ...SERVICES.flatMap((s) => s.ports)];
  const set = new Set<string>();
  for (const p of ports) for (const s of servicesAt(host, kind, p)) set.add(s.provider);
  return [...set].sort();
}

/** One pattern per metadata IPv4 address: every spelling of it as a URL host. */
export function ipv4Patterns(): NamedPattern[] {
  return exportedIPv4().map((ip) => {
    const short = shortIPv4(ip);
    const bodies = [short.three, short.two, short.one];
    return named(`ipv4-${ip}`, `metadata address ${ip} in any IPv4 spelling`, providersAt(ip, 'ipv4'), [
      `${HOST_LEFT}${dottedIPv4(ip)}${HOST_RIGHT}`,
      ...pack(URL_LEFT, bodies, HOST_RIGHT),
      ...pack(PARAM_LEFT, bodies, HOST_RIGHT),
    ]);
  });
}

/** Mapped-IPv6, dashed and hex DNS-label spellings of the metadata IPv4 addresses. */
export function ipv4IndirectPatterns(): NamedPattern[] {
  return exportedIPv4().map((ip) =>
    named(`ipv4-indirect-${ip}`, `metadata address ${ip} inside IPv6 or a wildcard-DNS name`, providersAt(ip, 'ipv4'), [
      `${mappedIPv4(ip)}${HOST_RIGHT}`,
      `(?:^|[^0-9a-f])${dnsLabelIPv4(ip)}`,
    ]),
  );
}

export function ipv6Patterns(): NamedPattern[] {
  return exportedIPv6().map((ip) =>
    named(`ipv6-${ip}`, `metadata address ${ip}`, providersAt(ip, 'ipv6'), [
      `(?:^|[^0-9a-f:])${ipv6Spellings(ip)}(?:$|[^0-9a-f:])`,
    ]),
  );
}

/** Hostnames: dotted ones anywhere as a host; single-label ones (`metadata`, `instance-data`) only right after `//` or `@`. */
export function hostnamePatterns(): NamedPattern[] {
  const names = ALL_HOSTNAMES.filter((h) => h !== 'localhost');
  const dotted = names.filter((n) => n.includes('.'));
  const single = names.filter((n) => !n.includes('.'));
  const out: NamedPattern[] = [];
  // Split the dotted names so that each alternative stays under the AWS WAF limit.
  const chunks: string[][] = [[]];
  for (const n of dotted) {
    const cur = chunks[chunks.length - 1]!;
    if ([...cur, n].map(escapeName).join('|').length > 120) chunks.push([n]);
    else cur.push(n);
  }
  out.push(
    named(
      'hostnames',
      'metadata service hostname',
      [...new Set(dotted.flatMap((n) => providersAt(n, 'hostname')))].sort(),
      chunks.map((c) => `${HOST_LEFT}(?:${c.map(escapeName).join('|')})\\.?${HOST_RIGHT}`),
    ),
  );
  if (single.length > 0) {
    out.push(
      named(
        'hostnames-short',
        'single-label metadata hostname in a URL',
        [...new Set(single.flatMap((n) => providersAt(n, 'hostname')))].sort(),
        [`(?:[/\\\\]{2}|@|[a-z]:/?)(?:${single.map(escapeName).join('|')})\\.?(?::[0-9]+)?(?:$|[/\\\\?#\\s])`],
      ),
    );
  }
  out.push(
    named(
      'azure-arc',
      'Azure Arc hybrid metadata endpoint (localhost:40342)',
      ['azure'],
      [String.raw`(?:localhost|127\.0\.0\.1|\[::1\]):40342(?:$|[^0-9])`],
    ),
  );
  return out;
}

/** Paths only metadata services serve: a request field that carries one is a payload even when the host is hidden. */
export function pathPatterns(): NamedPattern[] {
  const list: Array<Omit<NamedPattern, 'parts'>> = [
    {
      key: 'paths-aws',
      title: 'AWS/Alibaba/Tencent-style metadata path',
      providers: ['aws', 'alibaba', 'tencent', 'openstack'],
      regex:
        '/(?:latest|[0-9]{4}-[0-9]{2}-[0-9]{2})/(?:meta-data/(?:iam|identity-credentials|ram|cam)/|user-data|api/token|dynamic/instance-identity)',
    },
    {
      key: 'paths-gcp',
      title: 'GCP metadata path',
      providers: ['gcp'],
      regex: String.raw`/computemetadata/v1(?:beta1)?/(?:instance|project)|/0\.1/meta-data/`,
    },
    {
      key: 'paths-azure',
      title: 'Azure IMDS path',
      providers: ['azure'],
      regex: '/metadata/(?:identity/oauth2/token|instance(?:/compute)?(?:[/?]|$)|attested/)',
    },
    {
      key: 'paths-other',
      title: 'Oracle/ECS/OpenStack/Hetzner/IBM metadata path',
      providers: ['oracle', 'aws', 'openstack', 'hetzner', 'ibm', 'digitalocean'],
      regex: String.raw`/opc/v[12]/(?:identity|instance)|/v2/credentials/|/openstack/latest/|/hetzner/v1/(?:metadata|userdata)|/instance_identity/v1/|/metadata/v1\.json`,
    },
  ];
  return list.map((p) => named(p.key, p.title, p.providers, [p.regex]));
}

const ENC_HOST_LEFT = String.raw`(?:^|[^0-9a-z.\s+-]|%(?:2f|5c|40|3a|3d|5b|22|27|3e|28))`;
const ENC_URL_LEFT = String.raw`(?:[/\\]{2}|(?:%2f|%5c){2}|@|%40|[a-z](?::|%3a)(?:/|%2f)?)`;

/**
 * The same pattern for text still percent-encoded once, as web servers and proxies log query strings: the edges
 * also accept `%2F`, `%40`, `%3A`…, and slashes in paths may be `%2F`. For engines that cannot decode (Sigma).
 */
export function encodedVariant(p: NamedPattern): NamedPattern {
  const rewrite = (r: string) => {
    let out = r.split(HOST_LEFT).join(ENC_HOST_LEFT).split(URL_LEFT).join(ENC_URL_LEFT);
    if (p.key.startsWith('paths-')) out = out.replace(/\//g, '(?:/|%2f)');
    return out;
  };
  return { ...p, regex: rewrite(p.regex), parts: p.parts.map(rewrite) };
}

/** Every pattern, host patterns first. */
export function allPatterns(): NamedPattern[] {
  return [...ipv4Patterns(), ...ipv4IndirectPatterns(), ...ipv6Patterns(), ...hostnamePatterns(), ...pathPatterns()];
}
