import { ATTACK } from '../model/attack.ts';
import { type Finding, makeFinding } from '../model/finding.ts';
import type { Severity } from '../model/severity.ts';
import type { InventoryResource } from './posture-inventory.ts';

/** What a posture check decides about one resource. */
export interface PostureIssue {
  rule: { id: string; name: string };
  severity: Severity;
  title: string;
  description: string;
  /** The exact command(s) that fix it, one per line. */
  commands: string[];
  evidence?: Record<string, unknown>;
}

/** Posture issue → finding naming the resource (`resource.id`, `resource.kind`) and the file it was read from. */
export function postureFinding(r: InventoryResource, issue: PostureIssue): Finding {
  return makeFinding({
    rule: issue.rule,
    severity: issue.severity,
    confidence: 1,
    attack: [ATTACK.cloudInstanceMetadataApi],
    title: issue.title,
    description: issue.description,
    remediation: issue.commands.join('\n'),
    origin: { file: r.file, format: `${r.provider}-inventory` },
    provider: r.provider,
    resource: {
      id: r.id,
      kind: r.kind,
      ...(r.region ? { region: r.region } : {}),
    },
    evidence: { pointer: r.pointer, ...(r.version !== undefined ? { version: r.version } : {}), ...issue.evidence },
    idEvidence: [r.provider, r.kind, r.id, r.version, issue.rule.id],
  });
}
