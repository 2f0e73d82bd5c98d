/**
 * AWS WAF (wafv2): regex pattern sets holding the metadata patterns, and a rule group whose rules match them in
 * the URI path, query string, body and URL-bearing headers after URL-decoding (twice), HTML-entity and JS
 * decoding and lower-casing. Input shapes are those of the CreateRegexPatternSet and CreateRuleGroup APIs; the
 * rule group refers to each set as `${SetName.Arn}` for the caller (CloudFormation, Terraform, a script) to fill.
 */
import { type ExportOptions, type ExportResult, REFERENCE } from './export-file.ts';
import {
  hostnamePatterns,
  ipv4IndirectPatterns,
  ipv4Patterns,
  ipv6Patterns,
  MAX_PART,
  pathPatterns,
} from './patterns.ts';

/** Documented limits: 10 regexes per pattern set, 200 characters per regex, 10 transformations per statement. */
export const WAF_LIMITS = {
  regexesPerSet: 10,
  regexLength: MAX_PART,
  transformations: 10,
  ruleGroupCapacity: 5000,
  webAclCapacity: 1500,
};
/** Documented WCU costs: a regex pattern set statement is 25, each text transformation 10. */
export const WAF_COST = { regexSet: 25, transformation: 10 };

export interface RegexPatternSetInput {
  Name: string;
  Scope: 'REGIONAL' | 'CLOUDFRONT';
  Description: string;
  RegularExpressionList: Array<{ RegexString: string }>;
}

/**
 * Two URL decodings (a payload in a parameter arrives encoded once more than the request) and lower-casing.
 * HTML-entity and JS decoding would cost 10 WCU each per statement and push the group past a web ACL's default
 * 1,500 WCU; ModSecurity's export keeps them.
 */
const TRANSFORMS = [
  { Priority: 0, Type: 'URL_DECODE_UNI' },
  { Priority: 1, Type: 'URL_DECODE_UNI' },
  { Priority: 2, Type: 'LOWERCASE' },
];

const HOST_FIELDS: Array<Record<string, unknown>> = [
  { UriPath: {} },
  { QueryString: {} },
  { Body: { OversizeHandling: 'CONTINUE' } },
  {
    Headers: {
      MatchPattern: {
        IncludedHeaders: ['host', 'x-forwarded-host', 'x-original-url', 'x-rewrite-url', 'referer', 'forwarded'],
      },
      MatchScope: 'VALUE',
      OversizeHandling: 'CONTINUE',
    },
  },
];

/** Paths are looked for where a URL is passed on, not in the request's own path. */
const PATH_FIELDS = [{ QueryString: {} }, { Body: { OversizeHandling: 'CONTINUE' } }];

/** Group regexes into named sets of at most ten. */
function sets(
  name: string,
  description: string,
  regexes: string[],
  scope: RegexPatternSetInput['Scope'],
): RegexPatternSetInput[] {
  const out: RegexPatternSetInput[] = [];
  for (let i = 0; i < regexes.length; i += WAF_LIMITS.regexesPerSet) {
    const chunk = regexes.slice(i, i + WAF_LIMITS.regexesPerSet);
    out.push({
      Name: `${name}-${out.length + 1}`,
      Scope: scope,
      Description: `${description} (part ${out.length + 1})`.slice(0, 256),
      RegularExpressionList: chunk.map((RegexString) => ({ RegexString })),
    });
  }
  return out;
}

export function awsWafSets(scope: RegexPatternSetInput['Scope'] = 'REGIONAL'): RegexPatternSetInput[] {
  // Parameter-name forms (url=2852039166) are left out: they double the sets for a rare case, and AWS WAF's
  // per-argument fields lose the name anyway.
  const ipv4 = ipv4Patterns().flatMap((p) => p.parts.filter((x) => !x.startsWith('(?:ur[il]')));
  const other = [...ipv4IndirectPatterns(), ...ipv6Patterns(), ...hostnamePatterns()].flatMap((p) => p.parts);
  const paths = pathPatterns().flatMap((p) => p.parts);
  return [
    ...sets('imdsguard-metadata-ipv4', 'imdsguard: metadata IPv4 addresses in every spelling', ipv4, scope),
    ...sets(
      'imdsguard-metadata-hosts',
      'imdsguard: metadata IPv6 addresses, mapped and wildcard-DNS forms, hostnames',
      other,
      scope,
    ),
    ...sets('imdsguard-metadata-paths', 'imdsguard: paths only metadata services serve', paths, scope),
  ];
}

export function awsWafRuleGroup(
  patternSets: RegexPatternSetInput[],
  scope: RegexPatternSetInput['Scope'] = 'REGIONAL',
) {
  const perStatement = WAF_COST.regexSet + WAF_COST.transformation * TRANSFORMS.length;
  const fieldsOf = (s: RegexPatternSetInput) =>
    s.Name.startsWith('imdsguard-metadata-paths') ? PATH_FIELDS : HOST_FIELDS;
  const rules = patternSets.map((s, i) => ({
    Name: s.Name,
    Priority: i,
    Action: { Block: {} },
    Statement: {
      OrStatement: {
        Statements: fieldsOf(s).map((FieldToMatch) => ({
          RegexPatternSetReferenceStatement: {
            ARN: `\${${s.Name}.Arn}`,
            FieldToMatch,
            TextTransformations: TRANSFORMS,
          },
        })),
      },
    },
    VisibilityConfig: {
      SampledRequestsEnabled: true,
      CloudWatchMetricsEnabled: true,
      MetricName: s.Name.replace(/[^A-Za-z0-9_-]/g, '_'),
    },
  }));
  return {
    Name: 'imdsguard-metadata-ssrf',
    Scope: scope,
    Capacity: patternSets.reduce((n, s) => n + fieldsOf(s).length * perStatement, 0),
    Description: 'imdsguard: SSRF payloads aimed at cloud instance metadata services (T1552.005)',
    VisibilityConfig: {
      SampledRequestsEnabled: true,
      CloudWatchMetricsEnabled: true,
      MetricName: 'imdsguard-metadata-ssrf',
    },
    Rules: rules,
  };
}

const NOTE = (o: ExportOptions) => [
  `imdsguard ${o.version}: AWS WAF (wafv2) regex pattern sets and rule group for SSRF against cloud metadata services. ${REFERENCE}`,
  'Not deployed to AWS here; the test suite checks the documented limits (10 regexes per set, 200 characters per regex, no lookaround or backreferences, valid transformation types and field names) and the capacity arithmetic.',
  'Create the pattern sets first, then the rule group with each $' +
    '{Name.Arn} replaced by the set ARN. Default account quota: 10 regex pattern sets per scope and region.',
  'What AWS WAF cannot express that imdsguard does: DNS resolution of attacker names, base64 and other nested encodings, Unicode look-alikes, URL-parser disagreements, bare numeric hosts in URL-named parameters (url=2852039166), and the response (whether credentials came back).',
  'The patterns are shared with the ModSecurity export, whose detection and false-alarm rates are measured in a real ModSecurity against the CRS and imdsguard corpora.',
];

export function exportAwsWaf(o: ExportOptions): ExportResult {
  const patternSets = awsWafSets();
  const group = awsWafRuleGroup(patternSets);
  const setsDoc = { _comment: NOTE(o), RegexPatternSets: patternSets };
  const groupDoc = { _comment: NOTE(o), ...group };
  return {
    files: [
      { name: 'imdsguard-aws-waf-regex-pattern-sets.json', content: `${JSON.stringify(setsDoc, null, 2)}\n` },
      { name: 'imdsguard-aws-waf-rule-group.json', content: `${JSON.stringify(groupDoc, null, 2)}\n` },
    ],
    combined: `${JSON.stringify({ _comment: NOTE(o), RegexPatternSets: patternSets, RuleGroup: group }, null, 2)}\n`,
  };
}
