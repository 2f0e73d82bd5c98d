/** Finding severities, ordered. They match Sigma `level` and OCSF `severity_id` 1–5. */
export const SEVERITIES = ['info', 'low', 'medium', 'high', 'critical'] as const;
export type Severity = (typeof SEVERITIES)[number];

export function severityRank(s: Severity): number {
  return SEVERITIES.indexOf(s);
}

export function isSeverity(s: string): s is Severity {
  return (SEVERITIES as readonly string[]).includes(s);
}

/** True when `s` is at or above `threshold`. */
export function atLeast(s: Severity, threshold: Severity): boolean {
  return severityRank(s) >= severityRank(threshold);
}

export function maxSeverity(a: Severity, b: Severity): Severity {
  return severityRank(a) >= severityRank(b) ? a : b;
}

/** Raise a severity by `steps`, capped at critical. */
export function raiseSeverity(s: Severity, steps = 1): Severity {
  return SEVERITIES[Math.min(SEVERITIES.length - 1, severityRank(s) + steps)] as Severity;
}

/** OCSF severity_id: 1 informational … 5 critical. */
export function ocsfSeverityId(s: Severity): number {
  return severityRank(s) + 1;
}
