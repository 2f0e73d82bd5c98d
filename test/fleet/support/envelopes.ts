/** Composed fleet fixtures: findings as sensors on several hosts would publish them. */
import type { FleetEnvelope, FleetSource } from '../../../src/core/fleet/contract.ts';
import { type Finding, makeFinding } from '../../../src/core/model/finding.ts';
import type { Severity } from '../../../src/core/model/severity.ts';

export function envelope(
  host: string,
  source: FleetSource,
  finding: Finding,
  o: { account?: string; region?: string } = {},
): FleetEnvelope {
  return {
    v: 1,
    source,
    host: { id: host, name: host },
    account: o.account ?? '111122223333',
    region: o.region ?? 'eu-west-1',
    sent_at: finding.time ?? '2026-12-01T10:00:00.000Z',
    finding,
  };
}

export function leakFinding(file: string, line: number, hash: string, time: string): Finding {
  return makeFinding({
    rule: { id: 'credential-exposure-aws', name: 'AWS credentials in a log' },
    severity: 'high',
    confidence: 0.9,
    attack: ['T1552.001'],
    title: `AWS key in ${file}`,
    remediation: 'rotate',
    origin: { file, line },
    time,
    secret: { kind: 'aws-access-key-id', masked: 'ASIA****QX7Z', hash },
    idEvidence: [file, line, hash],
  });
}

export function ruleFinding(ruleId: string, n: number, time: string, severity: Severity = 'medium'): Finding {
  return makeFinding({
    rule: { id: ruleId, name: ruleId },
    severity,
    confidence: 0.8,
    attack: ['T1552.005'],
    title: `${ruleId} #${n}`,
    remediation: 'look',
    origin: { file: 'access.log', line: n },
    time,
    idEvidence: [ruleId, n],
  });
}

export function callerFinding(exe: string, argv: string[], time: string, path = '/latest/meta-data/'): Finding {
  return makeFinding({
    rule: { id: 'imds-unusual-caller', name: 'Unusual metadata caller' },
    severity: 'medium',
    confidence: 0.7,
    attack: ['T1552.005'],
    title: `${exe} called the metadata service`,
    remediation: 'look',
    origin: { sensor: 'bpftrace' },
    time,
    process: { pid: 4242, exe, argv },
    destination: { ip: '169.254.169.254', port: 80 },
    http: { method: 'GET', path },
    idEvidence: [exe, argv.join(' '), time, path],
  });
}

export function cloudtrailUse(role: string, ip: string, time: string, account = '111122223333'): Finding {
  return makeFinding({
    rule: { id: 'cloud-instance-credentials-outside-use', name: 'Instance credentials used away from their instance' },
    severity: 'high',
    confidence: 0.9,
    attack: ['T1552.005', 'T1078.004'],
    title: `Credentials of role ${role} used from ${ip}`,
    remediation: 'revoke',
    origin: { event_ids: [`ev-${role}-${ip}`], format: 'aws-audit' },
    time,
    provider: 'aws',
    resource: { id: 'i-0abc', kind: 'ec2-instance', account },
    principal: `arn:aws:sts::${account}:assumed-role/${role}/i-0abc`,
    client: { ip },
    idEvidence: [role, ip, time],
  });
}
