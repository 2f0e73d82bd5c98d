/**
 * ModSecurity v2/v3 (and Coraza) SecRules: the metadata addresses in every spelling, the hostnames and the
 * metadata-only paths, in the arguments, the URI, the headers that servers build URLs from, and the body.
 */
import type { ExportOptions, ExportResult } from './export-file.ts';
import {
  hostnamePatterns,
  ipv4IndirectPatterns,
  ipv4Patterns,
  ipv6Patterns,
  type NamedPattern,
  pathPatterns,
} from './patterns.ts';

const HEADERS = [
  'Host',
  'X-Forwarded-Host',
  'X-Forwarded-Server',
  'X-Host',
  'X-Original-URL',
  'X-Rewrite-URL',
  'Referer',
  'Forwarded',
  'Origin',
  'X-Forwarded-For',
  'X-Real-IP',
];
const HEADER_VARS = HEADERS.map((h) => `REQUEST_HEADERS:${h}`).join('|');
const HOST_TARGETS = `ARGS|ARGS_NAMES|REQUEST_URI|REQUEST_URI_RAW|REQUEST_BODY|XML:/*|REQUEST_COOKIES|REQUEST_COOKIES_NAMES|${HEADER_VARS}`;
const PATH_TARGETS = `ARGS|ARGS_NAMES|REQUEST_BODY|XML:/*|REQUEST_COOKIES|REQUEST_HEADERS:X-Original-URL|REQUEST_HEADERS:X-Rewrite-URL|REQUEST_HEADERS:Referer`;
/**
 * Undo, in order, what the decoder undoes that a transformation can: a second and third round of URL encoding
 * (ARGS arrive decoded once), %uXXXX, HTML entities, JavaScript/JSON escapes, CSS escapes and NUL padding.
 * multiMatch tests the value after every step, so an early match is not lost to a later transformation.
 */
const TRANSFORMS =
  't:none,t:urlDecodeUni,t:urlDecodeUni,t:htmlEntityDecode,t:jsDecode,t:cssDecode,t:removeNulls,t:lowercase,multiMatch';

function group(patterns: NamedPattern[]): string {
  return `(?i)${patterns.length === 1 ? patterns[0]!.regex : `(?:${patterns.map((p) => p.regex).join('|')})`}`;
}

interface RuleSpec {
  title: string;
  targets: string;
  regex: string;
  extraTransforms?: string;
}

function secRule(id: number, r: RuleSpec): string {
  const actions = [
    `id:${id}`,
    'phase:2',
    'deny',
    'status:403',
    'log',
    `msg:'imdsguard: SSRF to a cloud metadata service (${r.title})'`,
    "logdata:'%{MATCHED_VAR_NAME}=%{MATCHED_VAR}'",
    r.extraTransforms ?? TRANSFORMS,
    "tag:'application-multi'",
    "tag:'attack-ssrf'",
    "tag:'imdsguard'",
    "tag:'capec/1000/225/664'",
    "tag:'mitre/T1552.005'",
    "ver:'imdsguard'",
    "severity:'CRITICAL'",
  ];
  return `SecRule ${r.targets} "${quote(r.regex)}" \\\n    "${actions.join(',\\\n    ')}"`;
}

/** Apache's config reader turns `\\` into `\` and `\"` into `"` inside quotes, so both are escaped once more. */
export function quote(s: string): string {
  return s.replace(/\\/g, '\\\\').replace(/"/g, '\\"');
}

/** The header every exported file carries: what it covers and what the rule language cannot express. */
function header(o: ExportOptions, base: number): string {
  return `# imdsguard ${o.version}: metadata-service SSRF rules for ModSecurity v2/v3 and Coraza.
# Rule ids ${base}-${base + 99} (local-use range 1-99,999; pass --id-base to move them).
# Mount after the engine's own configuration (SecRuleEngine On, SecRequestBodyAccess On).
# To use with CRS anomaly scoring instead of blocking, replace "deny,status:403" with
# "pass,setvar:'tx.inbound_anomaly_score_pl1=+%{tx.critical_anomaly_score}'".
#
# What these rules cannot express that imdsguard's decoder does:
# - DNS: a name that resolves to a metadata address (attacker wildcard or rebinding domains other than the
#   dashed/hex labels matched here) is invisible to a regex; the in-process guard checks resolved addresses.
# - base64 and other nested encodings inside a value (a second rule tries t:base64DecodeExt on whole arguments
#   only), Unicode look-alikes (fullwidth digits, ideographic dots, enclosed alphanumerics), per-parser URL
#   disagreements (backslash, userinfo and fragment confusion are matched only where the host still appears
#   with a URL boundary), overflowing IPv4 parts that some parsers truncate, and IPv6 spellings other than the
#   compressed and fully written forms.
# - Context: numeric spellings (2852039166, 0xa9fea9fe) count only in a URL position or a URL-named parameter,
#   and dotted addresses not after whitespace, which keeps order ids and prose out; the decoder reads context
#   more finely (field names in JSON, XML and form bodies, URL parsers' views).
# - HTML named entities beyond &quot; &amp; &lt; &gt; &nbsp; and home-made escapes (-3a-2f slugs).
`;
}

export function exportModSecurity(o: ExportOptions): ExportResult {
  const base = o.idBase ?? 91000;
  const rules: RuleSpec[] = [
    { title: 'metadata IPv4 address in any spelling', targets: HOST_TARGETS, regex: group(ipv4Patterns()) },
    {
      title: 'metadata address inside IPv6 or a wildcard-DNS name',
      targets: HOST_TARGETS,
      regex: group(ipv4IndirectPatterns()),
    },
    { title: 'metadata IPv6 address', targets: HOST_TARGETS, regex: group(ipv6Patterns()) },
    { title: 'metadata hostname', targets: HOST_TARGETS, regex: group(hostnamePatterns()) },
    { title: 'metadata-only path in a request field', targets: PATH_TARGETS, regex: group(pathPatterns()) },
    {
      title: 'metadata address or hostname in a base64-encoded argument',
      targets: 'ARGS',
      regex: group([...ipv4Patterns(), ...hostnamePatterns()]),
      extraTransforms: 't:none,t:urlDecodeUni,t:base64DecodeExt,t:lowercase',
    },
  ];
  const lines = [
    header(o, base),
    '# JSON bodies: parse them so that ARGS hold their values.',
    `SecRule REQUEST_HEADERS:Content-Type "@rx ${quote('(?i)^application/(?:[a-z0-9.+-]*\\+)?json')}" \\\n    "id:${base},phase:1,pass,nolog,t:none,ctl:requestBodyProcessor=JSON,ver:'imdsguard'"`,
    '# XML bodies: parse them so that XML:/* holds their text.',
    `SecRule REQUEST_HEADERS:Content-Type "@rx ${quote('(?i)^(?:application|text)/(?:[a-z0-9.+-]*\\+)?xml')}" \\\n    "id:${base + 1},phase:1,pass,nolog,t:none,ctl:requestBodyProcessor=XML,ver:'imdsguard'"`,
    '# Keep the raw body in REQUEST_BODY whatever the body processor, for XML attributes and broken multipart.',
    `SecAction "id:${base + 2},phase:1,pass,nolog,ctl:forceRequestBodyVariable=On,ver:'imdsguard'"`,
    '',
    ...rules.map((r, i) => `${secRule(base + 10 + i, r)}\n`),
  ];
  const content = `${lines.join('\n')}`;
  return { files: [{ name: 'imdsguard-modsecurity.conf', content }], combined: content };
}
