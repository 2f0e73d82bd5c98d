import type { InventoryFacts } from './posture-inventory.ts';

/** Whether an instance can be switched to tokens required without breaking software that still calls IMDSv1. */
export interface ReadinessRow {
  instance: string;
  http_tokens: string;
  /** Sum of CloudWatch MetadataNoToken over the data read, or null when no data was given. */
  metadata_no_token: number | null;
  status: 'already-required' | 'ready' | 'would-break' | 'unknown';
}

/**
 * The readiness view: every EC2 instance, its HttpTokens, and the MetadataNoToken calls it still saw.
 * Instances with MetadataNoToken > 0 would break if tokens were forced now.
 */
export function readiness(facts: InventoryFacts): ReadinessRow[] {
  const rows: ReadinessRow[] = [];
  for (const r of facts.resources) {
    if (r.kind !== 'ec2-instance' || r.state === 'terminated') continue;
    const tokens = String(r.options.HttpTokens ?? 'optional');
    const n = facts.noTokenByInstance.get(r.id.toLowerCase());
    const status: ReadinessRow['status'] =
      tokens === 'required' ? 'already-required' : n === undefined ? 'unknown' : n > 0 ? 'would-break' : 'ready';
    rows.push({ instance: r.id, http_tokens: tokens, metadata_no_token: n ?? null, status });
  }
  return rows;
}

/** The readiness view as text for stderr or a file. */
export function renderReadiness(rows: ReadinessRow[], alreadyRequired = 0): string {
  const done = alreadyRequired > 0 ? `${alreadyRequired} instance(s) already require tokens` : '';
  if (rows.length === 0) return `IMDSv2 readiness: no instance allows IMDSv1${done ? `; ${done}` : ''}\n`;
  const lines = [
    `IMDSv2 readiness (CloudWatch MetadataNoToken; > 0 means something still calls without a token)${done ? `; ${done}` : ''}:`,
  ];
  for (const r of rows) {
    const n = r.metadata_no_token === null ? 'no data' : String(r.metadata_no_token);
    lines.push(
      `  ${r.instance.padEnd(20)} HttpTokens=${r.http_tokens.padEnd(9)} MetadataNoToken=${n.padEnd(8)} ${r.status}`,
    );
  }
  return `${lines.join('\n')}\n`;
}
