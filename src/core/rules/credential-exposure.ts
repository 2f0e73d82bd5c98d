import { ATTACK } from '../model/attack.ts';
import { type Finding, makeFinding } from '../model/finding.ts';
import type { Severity } from '../model/severity.ts';
import type { LineLeak } from '../secrets/tracker.ts';

/** Rule ids: one per provider, all under the `credential-exposure` family. */
export const CREDENTIAL_EXPOSURE_RULES = {
  aws: { id: 'credential-exposure-aws', name: 'AWS metadata credentials in a log' },
  gcp: { id: 'credential-exposure-gcp', name: 'GCP metadata token in a log' },
  azure: { id: 'credential-exposure-azure', name: 'Azure managed identity token in a log' },
  alibaba: { id: 'credential-exposure-alibaba', name: 'Alibaba Cloud STS credentials in a log' },
  oracle: { id: 'credential-exposure-oracle', name: 'OCI instance principal credentials in a log' },
  generic: { id: 'credential-exposure-private-key', name: 'Private key in a log' },
} as const;

export const CREDENTIAL_EXPOSURE_FAMILY = 'credential-exposure';

/** What a scan knows about the line a leak was found on. */
export interface LeakLineMeta {
  file: string;
  format?: string;
  clientIp?: string;
  /** RFC 3339, when the log line says. */
  time?: string;
}

const REMEDIATION: Record<LineLeak['provider'], string> = {
  aws: 'Revoke the role session: attach a policy denying everything with "aws:TokenIssueTime" before now to the role (IAM console: Revoke active sessions), rotate any long-term key (AKIA) that appears, and review CloudTrail for the key id since the line\'s time. Then remove or redact the log (`imdsguard redact`) and fix what logged it.',
  gcp: 'Access tokens cannot be revoked early by the workload: disable or rotate the service account key material, review Cloud Audit Logs for the service account, and restrict the VM service account scopes. Then redact the log and fix what logged it.',
  azure:
    'Review sign-in and activity logs for the managed identity, remove its role assignments until investigated (tokens stay valid until expiry), and redact the log and fix what logged it.',
  alibaba:
    'Review ActionTrail for the STS key id, detach policies from the RAM role until investigated, then redact the log and fix what logged it.',
  oracle:
    'Rotate the instance principal (restart or recreate the instance), review OCI Audit for the instance OCID, then redact the log and fix what logged it.',
  generic:
    'Treat the key as compromised: replace it wherever it is trusted, then redact the log and fix what logged it.',
};

/** Severity: live credential material is critical, unless the log itself shows it had already expired. */
function severityOf(leak: LineLeak<LeakLineMeta>): Severity {
  const live = leak.secrets.some((s) => s.live);
  if (!live) return 'medium';
  const onlyImdsToken = leak.secrets.every((s) => s.kind === 'aws-imdsv2-session-token' || !s.live);
  if (onlyImdsToken) return 'high';
  if (leak.expires && leak.meta.time) {
    const exp = Date.parse(leak.expires);
    const at = Date.parse(leak.meta.time);
    if (Number.isFinite(exp) && Number.isFinite(at) && exp < at) return 'high';
  }
  return 'critical';
}

/**
 * The finding for one line holding secrets: what leaked, whose it is, when it expires, masked and hashed.
 * @example leakFinding(leak) // { rule: { id: 'credential-exposure-aws', … }, secret: { masked: 'ASIA****QX7Z', … } }
 */
export function leakFinding(leak: LineLeak<LeakLineMeta>): Finding {
  const rule = CREDENTIAL_EXPOSURE_RULES[leak.provider];
  const main = [...leak.secrets].sort((a, b) => Number(b.live) - Number(a.live))[0]!;
  const kinds = [...new Set(leak.secrets.map((s) => s.label))];
  const whose = leak.owner ? ` of ${leak.owner}` : '';
  const severity = severityOf(leak);
  const f = makeFinding({
    rule: { id: rule.id, name: rule.name },
    severity,
    confidence: leak.document || leak.secrets.length > 1 || leak.owner ? 0.95 : 0.8,
    attack: [ATTACK.unsecuredCredentials, ATTACK.cloudInstanceMetadataApi],
    title: `${kinds.join(', ')}${whose} written to a log`,
    description: `Line ${leak.line} holds ${leak.secrets.length === 1 ? 'a secret' : `${leak.secrets.length} secrets`} (${kinds.join(', ')})${leak.document ? ` from a ${leak.document} document` : ''}${leak.expires ? `, expiring ${leak.expires}` : ''}. Only masked forms and salted hashes are reported.`,
    remediation: REMEDIATION[leak.provider],
    origin: { file: leak.meta.file, line: leak.line, ...(leak.meta.format ? { format: leak.meta.format } : {}) },
    ...(leak.meta.time ? { time: leak.meta.time } : {}),
    provider: leak.provider === 'generic' ? null : leak.provider,
    ...(leak.meta.clientIp ? { client: { ip: leak.meta.clientIp } } : {}),
    secret: {
      kind: main.kind,
      masked: main.masked,
      hash: main.hash,
      ...(leak.owner ? { owner: leak.owner } : {}),
      ...(leak.expires ? { expires: leak.expires } : {}),
    },
    evidence: {
      family: CREDENTIAL_EXPOSURE_FAMILY,
      secrets: leak.secrets.map((s) => ({ kind: s.kind, masked: s.masked, hash: s.hash, live: s.live })),
      ...(leak.document ? { document: leak.document } : {}),
      ...(leak.expiresInSeconds !== undefined ? { expires_in_seconds: leak.expiresInSeconds } : {}),
      ...(leak.claims ? { claims: leak.claims } : {}),
    },
    idEvidence: [leak.meta.file, leak.line, ...leak.secrets.map((s) => s.hash)],
  });
  return f;
}
