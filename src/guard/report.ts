/** Deliver guard findings: a callback, stderr as JSON lines, or a file (one JSON object per line). */
import { appendFileSync } from 'node:fs';
import type { Finding } from '../core/model/finding.ts';
import { maskRecord } from '../core/secrets/masker.ts';
import type { ResolvedGuardOptions } from './options.ts';

/**
 * Findings are rare (one per refused or audited metadata connection), so they are written synchronously: a process
 * that crashes right after a refusal still leaves the record behind, and nothing queues on the request path.
 */
export function makeReporter(o: Pick<ResolvedGuardOptions, 'onFinding' | 'report'>): (f: Finding) => void {
  const { onFinding, report } = o;
  return (found) => {
    const f = maskRecord(found);
    if (onFinding) {
      try {
        onFinding(f);
      } catch {
        // A broken callback must not turn into a crash inside an unrelated request.
      }
    }
    if (report === 'none') return;
    const line = `${JSON.stringify(f)}\n`;
    try {
      if (report === 'stderr') process.stderr.write(line);
      else appendFileSync(report.file, line);
    } catch {
      // Same reasoning: reporting is best-effort, the decision stands.
    }
  };
}
