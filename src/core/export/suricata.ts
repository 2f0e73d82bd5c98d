/**
 * Suricata rules: plain-HTTP requests to metadata addresses (credential paths and IMDSv1 called out), metadata
 * hostnames in Host headers, and SSRF payloads in requests to the protected servers.
 */
import { type ExportOptions, type ExportResult, REFERENCE } from './export-file.ts';
import {
  exportedIPv4,
  exportedIPv6,
  hostnamePatterns,
  ipv4IndirectPatterns,
  ipv4Patterns,
  ipv6Patterns,
  pathPatterns,
} from './patterns.ts';

const HEADER = (
  o: ExportOptions,
  base: number,
) => `# imdsguard ${o.version}: Suricata rules for HTTP to cloud instance metadata services.
# sids ${base}-${base + 99} (1000000-1999999 is the local-use range; pass --id-base to move them).
# Not loaded into Suricata here (it is not installable on the build machines); the test suite checks the rule
# grammar (action, protocol, addresses, options, unique sids) against Suricata's documented keywords.
# What these rules cannot express that imdsguard does: traffic to metadata services never crosses a network
# sensor on most clouds (the hypervisor answers), so the outbound rules fit sensors inside the host (Suricata on
# the instance, or in a container network namespace); HTTPS hides everything; the inbound payload rules see
# one percent-decoding (http.uri is normalised) but not base64, Unicode look-alikes, or DNS names that resolve
# to metadata addresses.
`;

/**
 * A regex as a pcre option value: `/` is the delimiter and `;` and `"` end the option, so those three are
 * backslash-escaped; other backslashes reach PCRE as written (as in the Emerging Threats rule sets).
 */
export function suricataEscape(s: string): string {
  return s.replace(/\//g, '\\/').replace(/;/g, '\\;').replace(/"/g, '\\"');
}

function opts(parts: string[]): string {
  return parts.join('; ');
}

export function suricataRules(base: number): string[] {
  const v4 = exportedIPv4();
  const v6 = exportedIPv6();
  const dest = `[${[...v4, ...v6].join(',')}]`;
  const meta = 'metadata:attack_target Cloud, mitre_technique_id T1552.005, created_at 2026_11_23';
  const hostRe = [...ipv4Patterns(), ...ipv4IndirectPatterns(), ...ipv6Patterns(), ...hostnamePatterns()]
    .map((p) => p.regex)
    .join('|');
  const pathRe = pathPatterns()
    .map((p) => p.regex)
    .join('|');
  const nameRe = hostnamePatterns()
    .filter((p) => p.key === 'hostnames')
    .map((p) =>
      p.parts
        .map((x) => x.replace('(?:^|[^0-9a-z.\\s+-])', '^').replace('(?:$|[^0-9a-z-])', '(?::[0-9]+)?$'))
        .join('|'),
    )
    .join('|');
  let sid = base;
  const rule = (action: string, header: string, body: string[]) =>
    `${action} ${header} (${opts([...body, REFERENCE_OPT, meta, `sid:${sid++}`, 'rev:1'])};)`;
  const REFERENCE_OPT = `reference:url,${REFERENCE.replace(/^https?:\/\//, '')}`;
  return [
    rule('alert', `http any any -> ${dest} any`, [
      'msg:"IMDSGUARD HTTP request to a cloud metadata service credentials path"',
      'flow:established,to_server',
      'http.uri',
      `pcre:"/${suricataEscape(`${pathRe}|/v1/credentials|/security-credentials`)}/i"`,
      'classtype:credential-theft',
      'priority:1',
    ]),
    rule('alert', `http any any -> [${v4.filter((a) => a === '169.254.169.254').join(',')}] any`, [
      'msg:"IMDSGUARD IMDSv1 request to the EC2 metadata service (no session token)"',
      'flow:established,to_server',
      'http.method',
      'content:"GET"',
      'http.uri',
      'content:"/latest/"',
      'startswith',
      'http.header_names',
      'content:!"X-aws-ec2-metadata-token"',
      'nocase',
      'classtype:policy-violation',
      'priority:2',
    ]),
    rule('alert', `http any any -> ${dest} any`, [
      'msg:"IMDSGUARD HTTP request to a cloud metadata service"',
      'flow:established,to_server',
      'http.uri',
      'content:"/"',
      'startswith',
      'classtype:policy-violation',
      'priority:3',
    ]),
    rule('alert', 'http any any -> any any', [
      'msg:"IMDSGUARD HTTP request with a metadata service hostname in Host"',
      'flow:established,to_server',
      'http.host',
      `pcre:"/${suricataEscape(nameRe)}/i"`,
      'classtype:policy-violation',
      'priority:2',
    ]),
    rule('alert', 'http any any -> $HTTP_SERVERS any', [
      'msg:"IMDSGUARD SSRF payload for a cloud metadata service in a request URI"',
      'flow:established,to_server',
      'http.uri',
      `pcre:"/${suricataEscape(hostRe)}/i"`,
      'classtype:web-application-attack',
      'priority:1',
    ]),
    rule('alert', 'http any any -> $HTTP_SERVERS any', [
      'msg:"IMDSGUARD SSRF payload for a cloud metadata service in a request body"',
      'flow:established,to_server',
      'http.request_body',
      `pcre:"/${suricataEscape(hostRe)}/i"`,
      'classtype:web-application-attack',
      'priority:1',
    ]),
  ];
}

export function exportSuricata(o: ExportOptions): ExportResult {
  const base = o.idBase !== undefined && o.idBase >= 1_000_000 ? o.idBase : 1_910_000;
  const content = `${HEADER(o, base)}\n${suricataRules(base).join('\n')}\n`;
  return { files: [{ name: 'imdsguard-suricata.rules', content }], combined: content };
}
