/**
 * Sigma rules: web server and proxy access logs, Linux network connections, and AWS CloudTrail. Field names follow
 * the Sigma taxonomy (webserver, proxy, network_connection) and CloudTrail's record layout.
 */
import { stringify } from 'yaml';
import { ALL_HOSTNAMES } from '../endpoints/lookup.ts';
import { type ExportOptions, type ExportResult, REFERENCE } from './export-file.ts';
import {
  encodedVariant,
  exportedIPv4,
  exportedIPv6,
  hostnamePatterns,
  ipv4IndirectPatterns,
  ipv4Patterns,
  ipv6Patterns,
  pathPatterns,
} from './patterns.ts';
import { stableUuid } from './stable-id.ts';

/** The rules' authored date (Sigma wants one; it changes only when a rule's logic does). */
const RULE_DATE = '2026-11-23';

export interface SigmaRule {
  title: string;
  id: string;
  status: 'experimental' | 'test' | 'stable';
  description: string;
  references: string[];
  author: string;
  date: string;
  tags: string[];
  logsource: { category?: string; product?: string; service?: string };
  detection: Record<string, unknown>;
  falsepositives: string[];
  level: 'informational' | 'low' | 'medium' | 'high' | 'critical';
}

const HEADER = (
  o: ExportOptions,
) => `# imdsguard ${o.version}: Sigma rules for SSRF against cloud metadata services and related signals.
# Not validated with a Sigma engine here (none is installable on the build machines); the test suite checks
# them against the Sigma specification's required keys, modifiers, tag format and taxonomy field names.
# What Sigma cannot express that imdsguard's decoder does: percent-decoding beyond the first layer (the regexes
# accept once-encoded edges such as %2F), base64 and other nested encodings, Unicode look-alikes, DNS resolution
# of attacker names, per-parser URL disagreements, and correlation (token then credentials; credentials used
# away from their instance). Run imdsguard scan on the same logs for those.
`;

function hostRegexes(): string[] {
  return [...ipv4Patterns(), ...ipv4IndirectPatterns(), ...ipv6Patterns(), ...hostnamePatterns()].map(
    (p) => encodedVariant(p).regex,
  );
}

function rule(
  key: string,
  r: Omit<SigmaRule, 'id' | 'status' | 'author' | 'date' | 'references'> & { references?: string[] },
): SigmaRule {
  return {
    title: r.title,
    id: stableUuid(`sigma:${key}`),
    status: 'experimental',
    description: r.description,
    references: r.references ?? [REFERENCE],
    author: 'imdsguard',
    date: RULE_DATE,
    tags: r.tags,
    logsource: r.logsource,
    detection: r.detection,
    falsepositives: r.falsepositives,
    level: r.level,
  };
}

const WEB_TAGS = ['attack.initial-access', 'attack.t1190', 'attack.credential-access', 'attack.t1552.005'];

export function sigmaRules(): Array<{ key: string; rule: SigmaRule }> {
  const hosts = hostRegexes();
  const paths = pathPatterns().map((p) => encodedVariant(p).regex);
  const addresses = [...exportedIPv4(), ...exportedIPv6()];
  const names = ALL_HOSTNAMES.filter((h) => h !== 'localhost');
  return [
    {
      key: 'webserver-ssrf-metadata-host',
      rule: rule('webserver-ssrf-metadata-host', {
        title: 'SSRF Payload Targeting a Cloud Metadata Service in a Web Request',
        description:
          'A request parameter, path or Referer names a cloud instance metadata service (any IPv4 spelling, IPv6, IPv4-mapped IPv6, wildcard-DNS name, or metadata hostname). An application that fetches it hands the instance credentials to the attacker.',
        tags: WEB_TAGS,
        logsource: { category: 'webserver' },
        detection: {
          selection_query: { 'cs-uri-query|re|i': hosts },
          selection_stem: { 'cs-uri-stem|re|i': hosts },
          selection_referer: { 'cs-referer|re|i': hosts },
          condition: '1 of selection_*',
        },
        falsepositives: ['Documentation or support pages that discuss metadata addresses inside URLs'],
        level: 'high',
      }),
    },
    {
      key: 'webserver-ssrf-metadata-path',
      rule: rule('webserver-ssrf-metadata-path', {
        title: 'Cloud Metadata Path in a Web Request Parameter',
        description:
          'A query parameter carries a path only metadata services serve (credentials, tokens, user-data), a sign of SSRF even when the host is hidden behind a redirect or DNS name.',
        tags: WEB_TAGS,
        logsource: { category: 'webserver' },
        detection: { selection: { 'cs-uri-query|re|i': paths }, condition: 'selection' },
        falsepositives: ['Applications that proxy metadata requests on purpose'],
        level: 'medium',
      }),
    },
    {
      key: 'proxy-metadata-destination',
      rule: rule('proxy-metadata-destination', {
        title: 'Web Proxy Request to a Cloud Metadata Service',
        description:
          'A forward proxy forwarded a request to a metadata address or hostname. Workloads behind a proxy reach the metadata service directly; through the proxy it is usually SSRF or a misconfigured client.',
        tags: ['attack.credential-access', 'attack.t1552.005'],
        logsource: { category: 'proxy' },
        detection: {
          selection_host: { 'cs-host': [...addresses, ...names] },
          selection_dst: { dst_ip: addresses },
          selection_uri: { 'c-uri|re|i': hosts },
          condition: '1 of selection_*',
        },
        falsepositives: ['Proxies deliberately used by instance agents'],
        level: 'high',
      }),
    },
    {
      key: 'linux-network-metadata-unexpected-process',
      rule: rule('linux-network-metadata-unexpected-process', {
        title: 'Cloud Metadata Service Contacted by an Unexpected Linux Process',
        description:
          'A process other than the cloud agents opened a connection to a metadata address. Interpreters, shells and download tools doing so are typical of credential theft after a compromise or of SSRF in a local service.',
        tags: ['attack.credential-access', 'attack.t1552.005'],
        logsource: { category: 'network_connection', product: 'linux' },
        detection: {
          selection: { DestinationIp: addresses, Initiated: 'true' },
          filter_agents: {
            'Image|endswith': [
              '/amazon-ssm-agent',
              '/ssm-agent-worker',
              '/ec2-instance-connect',
              '/google_guest_agent',
              '/google_metadata_script_runner',
              '/google_osconfig_agent',
              '/waagent',
              '/WALinuxAgent',
              '/cloud-init',
              '/aws-node',
              '/eks-pod-identity-agent',
            ],
          },
          condition: 'selection and not filter_agents',
        },
        falsepositives: ['Applications that read credentials through a cloud SDK (add their executable to the filter)'],
        level: 'medium',
      }),
    },
    {
      key: 'cloudtrail-imds-downgrade',
      rule: rule('cloudtrail-imds-downgrade', {
        title: 'EC2 Instance Metadata Service Protection Weakened',
        description:
          'ModifyInstanceMetadataOptions made IMDSv2 optional (re-enabling IMDSv1, the version SSRF can read) or raised the PUT response hop limit so that containers can reach the service.',
        tags: ['attack.defense-evasion', 'attack.t1562', 'attack.credential-access', 'attack.t1552.005'],
        logsource: { product: 'aws', service: 'cloudtrail' },
        detection: {
          selection_event: { eventSource: 'ec2.amazonaws.com', eventName: 'ModifyInstanceMetadataOptions' },
          selection_optional: { 'requestParameters.ModifyInstanceMetadataOptionsRequest.HttpTokens': 'optional' },
          selection_hop: {
            'requestParameters.ModifyInstanceMetadataOptionsRequest.HttpPutResponseHopLimit|re':
              '^(?:[2-9]|[1-5][0-9]|6[0-4])$',
          },
          condition: 'selection_event and (selection_optional or selection_hop)',
        },
        falsepositives: ['Legacy software that still needs IMDSv1 during a planned migration'],
        level: 'medium',
      }),
    },
    {
      key: 'cloudtrail-instance-credentials-discovery',
      rule: rule('cloudtrail-instance-credentials-discovery', {
        title: 'EC2 Instance Role Credentials Used for Discovery',
        description:
          'An EC2 instance role session (its session name is the instance id) called discovery APIs that workloads rarely need. Stolen metadata credentials are typically tried this way first. Comparing sourceIPAddress with the instance address needs correlation (imdsguard cloudtrail does it).',
        tags: ['attack.discovery', 'attack.t1526', 'attack.t1087.004', 'attack.credential-access', 'attack.t1552.005'],
        logsource: { product: 'aws', service: 'cloudtrail' },
        detection: {
          selection_session: {
            'userIdentity.type': 'AssumedRole',
            'userIdentity.arn|re': ':assumed-role/[^/]+/i-[0-9a-fA-F]{8,17}$',
          },
          selection_api: {
            eventName: [
              'GetCallerIdentity',
              'ListBuckets',
              'ListRoles',
              'ListUsers',
              'ListAccessKeys',
              'GetAccountAuthorizationDetails',
              'ListAttachedRolePolicies',
              'ListSecrets',
              'DescribeInstances',
            ],
          },
          condition: 'all of selection_*',
        },
        falsepositives: ['Inventory or configuration-management agents running on instances'],
        level: 'medium',
      }),
    },
  ];
}

export function exportSigma(o: ExportOptions): ExportResult {
  const rules = sigmaRules();
  const files = rules.map(({ key, rule: r }) => ({
    name: `imdsguard-${key}.yml`,
    content: `${HEADER(o)}${stringify(r, { lineWidth: 0 })}`,
  }));
  const combined = `${HEADER(o)}${rules.map(({ rule: r }) => stringify(r, { lineWidth: 0 })).join('---\n')}`;
  return { files, combined };
}
