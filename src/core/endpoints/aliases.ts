/**
 * Public names that lead to a metadata (or loopback) address without naming it: DNS services that answer with the
 * address written in the name, rebinding services, fixed names that resolve to a metadata address, and redirectors
 * that answer with a redirect to one. Data, each entry with where it is documented; the decoders in
 * `decode/host.ts` and `decode/rebinding.ts` read the grammars, the classifier and the prefilter take the names from
 * here.
 */

/** How an address can be written in a name: `169.254.169.254`, `169-254-169-254`, `a9fea9fe`, `fd00-ec2--254`. */
export type AddressForm = 'dotted' | 'dashed' | 'hex' | 'ipv6-dashed';

export interface DnsService {
  /** The zone (`nip.io`): names under it are read by the service's grammar. */
  suffix: string;
  /** `wildcard`: answers with the address written in the name. `rebinding`: alternates between written addresses.
   * `loopback`: every name under it resolves to loopback. */
  kind: 'wildcard' | 'rebinding' | 'loopback';
  source: string;
  /** Carried by the rule exports (a regex per address has room for a few zones within AWS WAF's capacity). */
  exported?: boolean;
  /** The label next to the zone may be an IPv4 address as a base-36 number of 1–7 digits, low byte first (`1ynrnhl.xip.io`). */
  base36?: boolean;
  /** The notations its server reads, from its source; absent where that was not checked (then every one is read). */
  forms?: readonly AddressForm[];
}

export const DNS_SERVICES: readonly DnsService[] = [
  {
    suffix: 'nip.io',
    exported: true,
    kind: 'wildcard',
    forms: ['dotted', 'dashed', 'hex'],
    source:
      'https://nip.io/ (dotted, dashed and hex forms); https://github.com/exentriquesolutions/nip.io nipio/backend.py _split_subdomain (8 hex digits without 0x, or four parts split on . and -)',
  },
  {
    suffix: 'sslip.io',
    exported: true,
    kind: 'wildcard',
    forms: ['dotted', 'dashed', 'hex', 'ipv6-dashed'],
    source:
      'https://sslip.io/ (dotted, dashed, IPv6 with dashes for colons); https://github.com/cunnie/sslip.io xip/xip.go (ipv4REDots, ipv4REDashes, ipv4REHex: 8 hex digits without 0x, ipv6RE)',
  },
  {
    suffix: 'xip.io',
    exported: true,
    kind: 'wildcard',
    base36: true,
    forms: ['dotted'],
    source:
      'https://github.com/basecamp/xip-pdns (xip.io, retired; bin/xip-pdns: dotted IPv4, else a base-36 label of 1-7 characters, low byte first)',
  },
  { suffix: 'nip.direct', exported: true, kind: 'wildcard', source: 'https://nip.direct/' },
  { suffix: 'traefik.me', kind: 'wildcard', source: 'https://traefik.me/' },
  { suffix: 'ip.addr.tools', kind: 'wildcard', source: 'https://addr.tools/ (ip.addr.tools)' },
  { suffix: 'backname.io', kind: 'wildcard', source: 'https://backname.io/' },
  {
    suffix: 'localtest.me',
    kind: 'loopback',
    source: 'https://readme.localtest.me/; PayloadsAllTheThings SSRF README',
  },
  {
    suffix: 'localh.st',
    kind: 'loopback',
    source: 'PayloadsAllTheThings SSRF README, "Bypass Localhost with a Domain Redirect"',
  },
  { suffix: 'lvh.me', kind: 'loopback', source: 'lvh.me ("local virtual host"): every name resolves to 127.0.0.1' },
  { suffix: 'vcap.me', kind: 'loopback', source: 'Cloud Foundry bosh-lite docs: *.vcap.me resolves to 127.0.0.1' },
  { suffix: 'lacolhost.com', kind: 'loopback', source: 'lacolhost.com: every name resolves to 127.0.0.1' },
  { suffix: 'fbi.com', kind: 'loopback', source: 'fbi.com wildcard A record 127.0.0.1 (long-standing SSRF folklore)' },
  {
    suffix: 'rbndr.us',
    exported: true,
    kind: 'rebinding',
    forms: ['hex'],
    source:
      'https://github.com/taviso/rbndr (<hex ip>.<hex ip>.rbndr.us; rebinder.c parse_ip4_label: two labels of exactly 8 lower-case hex digits)',
  },
  {
    suffix: '1u.ms',
    exported: true,
    kind: 'rebinding',
    source: 'https://github.com/neex/1u.ms (make-<record>[-and-<record>|-rebind-<record>]-rr, hex-, ip-v6-, cname-)',
  },
  {
    suffix: 'rebind.it',
    exported: true,
    kind: 'rebinding',
    source: 'https://github.com/nccgroup/singularity (s-<ip>-<ip>-<session>-<strategy>-e.<zone>)',
  },
  { suffix: 'rebind.network', exported: true, kind: 'rebinding', source: 'rebind.network public rebinding service' },
  {
    suffix: 'lock.cmpxchg8b.com',
    kind: 'rebinding',
    source: 'https://lock.cmpxchg8b.com/rebinder.html (rbndr front end)',
  },
  { suffix: 'rebnd.io', kind: 'rebinding', source: 'rebnd.io public rebinding service' },
];

/** A fixed public name whose A/AAAA record is a metadata or loopback address. */
export interface DnsAlias {
  name: string;
  address: string;
  source: string;
}

export const DNS_ALIASES: readonly DnsAlias[] = [
  {
    name: 'meta.sub.sh.je',
    address: '169.254.169.254',
    source: 'https://github.com/neex/1u.ms/blob/master/records.go (predefined record of the 1u.ms server)',
  },
  {
    name: 'local.sub.sh.je',
    address: '127.0.0.1',
    source: 'https://github.com/neex/1u.ms/blob/master/records.go (predefined record of the 1u.ms server)',
  },
  {
    name: 'metadata.nicob.net',
    address: '169.254.169.254',
    source:
      'SSRFmap core/utils.py ip_dns_redirect (https://github.com/swisskyrepo/SSRFmap); PayloadsAllTheThings SSRF-Cloud-Instances.md, AWS "DNS record" (earlier revisions)',
  },
];

/** A public URL that answers with a redirect to a metadata URL. Matched on host and path prefix. */
export interface RedirectAlias {
  host: string;
  /** Lower-case path prefix ('' for any path on the host). */
  path: string;
  /** The URL it redirects to; with `grammar`, a template over the grammar's groups (`$1://$2:$3/$4`). */
  target: string;
  /** A redirector that reads its target from the path (matched against the lower-case path). */
  grammar?: RegExp;
  source: string;
}

export const REDIRECT_ALIASES: readonly RedirectAlias[] = [
  {
    host: 'nicob.net',
    path: '/redir6a',
    // The page lists it as a static redirect to the AWS metadata address; the path it redirects to is not written.
    target: 'http://169.254.169.254/',
    source: 'PayloadsAllTheThings, SSRF-Cloud-Instances.md (AWS), "HTTP redirect", static',
  },
  {
    host: 'nicob.net',
    path: '/redir-',
    grammar: /^\/redir-(https?)-([^/:]+):(\d{1,5})-(.*)$/,
    target: '$1://$2:$3/$4',
    source:
      'PayloadsAllTheThings, SSRF-Cloud-Instances.md (AWS), "HTTP redirect", dynamic: /redir-<scheme>-<host>:<port>-',
  },
  {
    host: '62epax5fhvj3zzmzigyoe5ipkbn7fysllvges3a.302.r3dir.me',
    path: '',
    target: 'http://169.254.169.254/latest/meta-data/',
    source: 'PayloadsAllTheThings, SSRF README, "Bypass Using a Redirect" (r3dir.me)',
  },
];

/** Every DNS name in this file (zones and fixed names), lower-case: the classifier and the prefilter look for them. */
export const ALIAS_NAMES: readonly string[] = [
  ...DNS_SERVICES.map((s) => s.suffix),
  ...DNS_ALIASES.map((a) => a.name),
  ...REDIRECT_ALIASES.map((r) => r.host),
];
