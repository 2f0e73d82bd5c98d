import { createHash } from 'node:crypto';
import type { AttackId } from './attack.ts';
import type { ProcessInfo } from './event.ts';
import type { PathClass, Transform, Verdict } from './hit.ts';
import type { Severity } from './severity.ts';

export const FINDING_SCHEMA_VERSION = '1';

/** Where a finding came from. One of: file+line, sensor (+ process on the finding), or the events it rests on. */
export interface FindingOrigin {
  file?: string;
  /** 1-based line the finding is about. Other lines it refers to go under `related`. */
  line?: number;
  sensor?: string;
  event_ids?: string[];
  format?: string;
}

/** The process a host or proxy finding is about (argv masked). */
export type FindingProcess = Pick<
  ProcessInfo,
  'pid' | 'ppid' | 'exe' | 'argv' | 'uid' | 'user' | 'netns' | 'container'
>;

export interface FindingRule {
  id: string;
  name: string;
}

/**
 * A finding. The common fields are always present; the optional groups belong to one family of findings
 * (SSRF in logs, host sensing, proxy decisions, cloud audit, posture). Secrets never appear here unmasked.
 */
export interface Finding {
  type: 'finding';
  schema_version: string;
  id: string;
  rule: FindingRule;
  severity: Severity;
  /** 0..1 */
  confidence: number;
  attack: AttackId[];
  title: string;
  description?: string;
  remediation: string;
  origin: FindingOrigin;
  time?: string;
  // SSRF family
  verdict?: Verdict;
  provider?: string | null;
  service?: string | null;
  target?: { raw: string; decoded: string; host?: string; path?: string; path_class?: PathClass };
  transforms?: Transform[];
  outcome?: 'likely-success' | 'attempt';
  outcome_reason?: string;
  client?: { ip?: string };
  http?: {
    method?: string;
    path?: string;
    status?: number;
    bytes?: number;
    token?: boolean;
    field?: string;
  };
  // host / proxy family
  process?: FindingProcess;
  destination?: { ip: string; port: number };
  imds_version?: 1 | 2 | 'unknown';
  decision?: 'allow' | 'deny' | 'audit';
  policy_rule?: string;
  status?: number;
  latency_ms?: number;
  // cloud / posture family
  resource?: { id: string; kind: string; region?: string; account?: string };
  principal?: string;
  // leak family
  secret?: { kind: string; masked: string; hash: string; owner?: string; expires?: string };
  /** Other evidence, masked. */
  evidence?: Record<string, unknown>;
  /** Other places the finding refers to (e.g. the request that caused a leak). */
  related?: Array<{ file?: string; line?: number; finding_id?: string; event_id?: string; note?: string }>;
}

/**
 * A stable id: the same rule on the same evidence gives the same id, so re-scans deduplicate.
 * @example findingId('ssrf-metadata', ['access.log', 12, 'http://169.254.169.254/'])
 */
export function findingId(ruleId: string, evidence: ReadonlyArray<string | number | undefined | null>): string {
  const h = createHash('sha256');
  h.update(ruleId);
  for (const e of evidence) {
    h.update('\u0000');
    h.update(e === undefined || e === null ? '' : String(e));
  }
  return h.digest('hex').slice(0, 32);
}

/** Build a finding with the always-present fields filled. */
export function makeFinding(
  fields: Omit<Finding, 'type' | 'schema_version' | 'id'> & {
    idEvidence: ReadonlyArray<string | number | undefined | null>;
  },
): Finding {
  const { idEvidence, ...rest } = fields;
  return {
    type: 'finding',
    schema_version: FINDING_SCHEMA_VERSION,
    id: findingId(rest.rule.id, idEvidence),
    ...rest,
  };
}
