import type { Severity } from '../model/severity.ts';
import type { PostureIssue } from './posture-finding.ts';
import type { InventoryResource } from './posture-inventory.ts';
import { cmd } from './posture-shell.ts';

export const AWS_RULES = {
  imdsv1: { id: 'posture-aws-imdsv1-allowed', name: 'IMDSv1 allowed (HttpTokens optional)' },
  hop: { id: 'posture-aws-hop-limit', name: 'IMDS hop limit above 1: containers can reach the metadata service' },
  endpoint: { id: 'posture-aws-endpoint-unneeded', name: 'Metadata endpoint enabled where nothing needs it' },
  ipv6: { id: 'posture-aws-ipv6-endpoint', name: 'IMDS IPv6 endpoint enabled' },
  tags: { id: 'posture-aws-instance-tags-exposed', name: 'Instance tags exposed in instance metadata' },
  defaults: {
    id: 'posture-aws-account-defaults',
    name: 'Account metadata defaults allow IMDSv1 or a hop limit above 1',
  },
} as const;

const val = (o: Record<string, unknown>, k: string): string | number | undefined => {
  const v = o[k];
  return typeof v === 'string' || typeof v === 'number' ? v : undefined;
};

function regionFlag(r: InventoryResource): string[] {
  return r.region ? ['--region', r.region] : [];
}

/** Checks for an EC2 instance's `MetadataOptions` as `describe-instances` prints them. */
function instanceIssues(r: InventoryResource): PostureIssue[] {
  if (r.state === 'terminated' || r.state === 'shutting-down') return [];
  const o = r.options;
  const out: PostureIssue[] = [];
  const endpoint = String(val(o, 'HttpEndpoint') ?? 'enabled');
  if (endpoint === 'disabled') return out;
  const tokens = String(val(o, 'HttpTokens') ?? 'optional');
  const hop = Number(val(o, 'HttpPutResponseHopLimit') ?? 1);
  const modify = (...flags: string[]) =>
    cmd('aws', 'ec2', 'modify-instance-metadata-options', ...regionFlag(r), '--instance-id', r.id, ...flags);
  const roleText = r.hasRole ? ` and carries role ${r.roleName ?? '(instance profile)'}` : '';
  if (tokens !== 'required') {
    out.push({
      rule: AWS_RULES.imdsv1,
      severity: r.hasRole ? 'high' : 'medium',
      title: `${r.id} allows IMDSv1${hop > 1 ? ` with hop limit ${hop}` : ''}${roleText}`,
      description:
        'A single GET, such as one an SSRF bug makes, reads the metadata service' +
        (r.hasRole ? " and the role's credentials." : '.') +
        ' Check readiness (MetadataNoToken) before forcing tokens.',
      commands: [modify('--http-tokens', 'required', '--http-put-response-hop-limit', '1')],
      evidence: { HttpTokens: tokens, HttpPutResponseHopLimit: hop, role: r.roleName },
    });
  } else if (hop > 1) {
    out.push({
      rule: AWS_RULES.hop,
      severity: r.hasRole ? 'medium' : 'low',
      title: `${r.id} has IMDS hop limit ${hop}: containers on it can fetch tokens${roleText}`,
      description:
        'With a hop limit above 1 the token response survives the extra hop into a container network namespace, so any container can ' +
        'read the instance role. Keep 2 only where containers must use the instance role (and then block them per pod).',
      commands: [modify('--http-put-response-hop-limit', '1')],
      evidence: { HttpPutResponseHopLimit: hop },
    });
  }
  if (!r.hasRole) {
    out.push({
      rule: AWS_RULES.endpoint,
      severity: 'low',
      title: `${r.id} has the metadata endpoint enabled but no role`,
      description:
        'Without an instance profile, only boot-time agents usually need the metadata service; disable it if none does.',
      commands: [modify('--http-endpoint', 'disabled')],
    });
  }
  if (val(o, 'HttpProtocolIpv6') === 'enabled') {
    out.push({
      rule: AWS_RULES.ipv6,
      severity: 'low',
      title: `${r.id} serves instance metadata on IPv6 (fd00:ec2::254)`,
      description:
        'A second address that firewall rules, proxies and SSRF filters written for 169.254.169.254 may miss.',
      commands: [modify('--http-protocol-ipv6', 'disabled')],
    });
  }
  if (val(o, 'InstanceMetadataTags') === 'enabled') {
    out.push({
      rule: AWS_RULES.tags,
      severity: 'low',
      title: `${r.id} exposes its tags in instance metadata`,
      description:
        'Tags often hold names, owners and sometimes secrets; every process (and every SSRF) on the instance can read them.',
      commands: [modify('--instance-metadata-tags', 'disabled')],
    });
  }
  return out;
}

function templateIssues(r: InventoryResource): PostureIssue[] {
  if (r.state === 'unknown-options') return [];
  const o = r.options;
  const tokens = String(val(o, 'HttpTokens') ?? 'optional');
  const hop = Number(val(o, 'HttpPutResponseHopLimit') ?? 1);
  if (val(o, 'HttpEndpoint') === 'disabled') return [];
  if (tokens === 'required' && hop <= 1) return [];
  const data = JSON.stringify({
    MetadataOptions: { HttpTokens: 'required', HttpPutResponseHopLimit: 1, HttpEndpoint: 'enabled' },
  });
  const sev: Severity = tokens !== 'required' ? (r.hasRole ? 'high' : 'medium') : 'low';
  return [
    {
      rule: tokens !== 'required' ? AWS_RULES.imdsv1 : AWS_RULES.hop,
      severity: sev,
      title:
        tokens !== 'required'
          ? `Launch template ${r.id} version ${r.version ?? '?'} launches instances that allow IMDSv1`
          : `Launch template ${r.id} version ${r.version ?? '?'} sets hop limit ${hop}`,
      description:
        'Every instance launched from this version inherits the setting (a missing HttpTokens means the account default, optional unless changed).',
      commands: [
        cmd(
          'aws',
          'ec2',
          'create-launch-template-version',
          '--launch-template-id',
          r.id,
          ...(r.version !== undefined ? ['--source-version', String(r.version)] : []),
          '--version-description',
          'imds-v2-required',
          '--launch-template-data',
          data,
        ),
        cmd('aws', 'ec2', 'modify-launch-template', '--launch-template-id', r.id, '--default-version', '$Latest'),
      ],
      evidence: { HttpTokens: val(o, 'HttpTokens') ?? null, HttpPutResponseHopLimit: hop },
    },
  ];
}

function launchConfigurationIssues(r: InventoryResource): PostureIssue[] {
  const o = r.options;
  const tokens = String(val(o, 'HttpTokens') ?? 'optional');
  const hop = Number(val(o, 'HttpPutResponseHopLimit') ?? 1);
  if (val(o, 'HttpEndpoint') === 'disabled' || (tokens === 'required' && hop <= 1)) return [];
  const raw = r.raw;
  const s = (k: string) => (typeof raw[k] === 'string' ? (raw[k] as string) : undefined);
  const sgs = Array.isArray(raw.SecurityGroups)
    ? (raw.SecurityGroups as unknown[]).filter((x): x is string => typeof x === 'string')
    : [];
  return [
    {
      rule: tokens !== 'required' ? AWS_RULES.imdsv1 : AWS_RULES.hop,
      severity: tokens !== 'required' ? (r.hasRole ? 'high' : 'medium') : 'low',
      title: `Launch configuration ${r.id} launches instances that ${tokens !== 'required' ? 'allow IMDSv1' : `use hop limit ${hop}`}`,
      description:
        'Launch configurations cannot be changed: create a new one (or move the group to a launch template) and point the Auto Scaling group at it.',
      commands: [
        cmd(
          'aws',
          'autoscaling',
          'create-launch-configuration',
          '--launch-configuration-name',
          `${r.id}-imdsv2`,
          ...(s('ImageId') ? ['--image-id', s('ImageId') as string] : []),
          ...(s('InstanceType') ? ['--instance-type', s('InstanceType') as string] : []),
          ...(s('IamInstanceProfile') ? ['--iam-instance-profile', s('IamInstanceProfile') as string] : []),
          ...(sgs.length > 0 ? ['--security-groups', ...sgs] : []),
          ...(s('KeyName') ? ['--key-name', s('KeyName') as string] : []),
          '--metadata-options',
          'HttpTokens=required,HttpPutResponseHopLimit=1,HttpEndpoint=enabled',
        ),
      ],
      evidence: { HttpTokens: val(o, 'HttpTokens') ?? null, HttpPutResponseHopLimit: hop },
    },
  ];
}

function defaultsIssues(r: InventoryResource): PostureIssue[] {
  const o = r.options;
  const tokens = String(val(o, 'HttpTokens') ?? 'no-preference');
  // -1 is how the API prints "no preference" for the hop limit: the launch default of 1 (2 on some AMIs) applies.
  const hop = Number(val(o, 'HttpPutResponseHopLimit') ?? -1);
  if (tokens === 'required' && hop <= 1) return [];
  return [
    {
      rule: AWS_RULES.defaults,
      severity: tokens !== 'required' ? 'medium' : 'low',
      title: `Account-level metadata defaults: HttpTokens ${tokens}, hop limit ${hop === -1 ? 'no-preference' : hop}`,
      description: 'New instances launched without explicit metadata options get these defaults (per region).',
      commands: [
        cmd(
          'aws',
          'ec2',
          'modify-instance-metadata-defaults',
          '--http-tokens',
          'required',
          '--http-put-response-hop-limit',
          '1',
        ),
      ],
      evidence: { HttpTokens: tokens, HttpPutResponseHopLimit: hop },
    },
  ];
}

/** All AWS posture issues for one inventoried resource. */
export function awsIssues(r: InventoryResource): PostureIssue[] {
  switch (r.kind) {
    case 'ec2-instance':
      return instanceIssues(r);
    case 'launch-template-version':
      return templateIssues(r);
    case 'launch-configuration':
      return launchConfigurationIssues(r);
    case 'account-defaults':
      return defaultsIssues(r);
    default:
      return [];
  }
}
