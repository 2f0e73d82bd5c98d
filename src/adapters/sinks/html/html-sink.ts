import type { Incident } from '../../../core/investigate/incident.ts';
import type { Finding } from '../../../core/model/finding.ts';
import { SEVERITIES, type Severity, severityRank } from '../../../core/model/severity.ts';
import type { FindingSink } from '../../../core/ports.ts';
import { Masker, maskRecord } from '../../../core/secrets/masker.ts';
import type { TextOutput } from '../output.ts';
import { rankFindings, renderReport } from './report.ts';

export interface HtmlSinkOptions {
  version: string;
  /** Findings listed in a findings report (the most severe first); every one is counted. Default 5000. */
  maxFindings?: number;
  /** Incidents drawn in full (the most severe first). Default 500. */
  maxIncidents?: number;
}

/**
 * One self-contained HTML report, written at close: incidents when the records are incidents (`investigate`),
 * findings otherwise (`scan`, `cloudtrail`, `posture`). Records are masked first, like every other sink; the
 * report keeps the most severe records within its limits and counts the rest.
 */
export function htmlSink(out: TextOutput, opts: HtmlSinkOptions): FindingSink {
  const masker = new Masker();
  const maxFindings = opts.maxFindings ?? 5000;
  const maxIncidents = opts.maxIncidents ?? 500;
  const findings: Finding[] = [];
  const incidents: Incident[] = [];
  const counts = Object.fromEntries(SEVERITIES.map((s) => [s, 0])) as Record<Severity, number>;
  let omittedFindings = 0;
  let omittedIncidents = 0;
  // Keep the best `max` of a stream without holding it all: trim to `max` whenever the list doubles.
  const keep = <T>(list: T[], item: T, max: number, rank: (a: T, b: T) => number): number => {
    list.push(item);
    if (list.length < max * 2) return 0;
    list.sort(rank);
    return list.splice(max).length;
  };
  return {
    write(record) {
      const r = maskRecord(record, masker) as Record<string, unknown>;
      if (r.type === 'incident') {
        const inc = r as unknown as Incident;
        if (SEVERITIES.includes(inc.severity)) counts[inc.severity]++;
        omittedIncidents += keep(incidents, inc, maxIncidents, rankIncidents);
      } else if (r.type === 'finding') {
        const f = r as unknown as Finding;
        if (SEVERITIES.includes(f.severity)) counts[f.severity]++;
        omittedFindings += keep(findings, f, maxFindings, rankFindings);
      }
    },
    async close() {
      incidents.sort(rankIncidents);
      findings.sort(rankFindings);
      omittedIncidents += incidents.splice(maxIncidents).length;
      omittedFindings += findings.splice(maxFindings).length;
      const html = renderReport({
        title: incidents.length > 0 ? 'imdsguard incident report' : 'imdsguard findings report',
        version: opts.version,
        incidents,
        findings: incidents.length > 0 ? [] : findings,
        counts,
        omittedFindings: incidents.length > 0 ? 0 : omittedFindings,
        omittedIncidents,
      });
      await out.write(html);
      await out.close();
    },
  };
}

function rankIncidents(a: Incident, b: Incident): number {
  return (
    severityRank(b.severity) - severityRank(a.severity) ||
    (a.first_time ?? '\uffff').localeCompare(b.first_time ?? '\uffff') ||
    a.id.localeCompare(b.id)
  );
}
