import { ATTACK } from '../model/attack.ts';
import type { Finding } from '../model/finding.ts';
import type { Severity } from '../model/severity.ts';
import { exeName, type HostImdsEvent, hostFinding } from './imds-host-event.ts';

export const IMDS_V1_USE = { id: 'imds-v1-use', name: 'IMDSv1 request (no session token)' } as const;

const SEVERITY: Record<string, Severity> = { credentials: 'high', 'user-data': 'medium', identity: 'medium' };

/**
 * An AWS metadata request sent without an IMDSv2 session token. This is the list a team needs before it can
 * require IMDSv2 (`HttpTokens=required`): which binary, user and container still speak v1, and for which paths.
 */
export function imdsV1Use(h: HostImdsEvent): Finding[] {
  if (h.imdsVersion !== 1 || !h.event.http) return [];
  const p = h.event.process;
  const path = h.event.http.path ?? '';
  const who = exeName(p.exe) || `pid ${p.pid}`;
  return [
    hostFinding(h, {
      ruleId: IMDS_V1_USE.id,
      ruleName: IMDS_V1_USE.name,
      severity: SEVERITY[h.pathClass ?? ''] ?? 'low',
      confidence: 0.95,
      attack: [ATTACK.cloudInstanceMetadataApi],
      title: `${who} made an IMDSv1 ${h.event.http.method ?? ''} request for ${path}`.replace(/ {2,}/g, ' '),
      description:
        'The request carried no X-aws-ec2-metadata-token header. Instances that still allow IMDSv1 answer it, and an SSRF can reach it with a plain GET.',
      remediation:
        'Upgrade the caller to an SDK or agent version that uses IMDSv2 (PUT /latest/api/token, then the token header), then set HttpTokens=required on the instance or launch template.',
      // One finding per caller and path, so a busy v1 client is one line to fix, not thousands.
      idEvidence: [p.exe, p.uid, p.container, h.event.destination.ip, path],
      evidence: { path_class: h.pathClass },
    }),
  ];
}
