import { type InputProblem, readJsonRecords } from '../adapters/sources/json-record-files.ts';
import { InputSyntaxError } from '../core/errors.ts';
import { stepFromRecord } from '../core/investigate/from-finding.ts';
import { buildIncidents, type Incident } from '../core/investigate/incident.ts';
import { type Selection, selectIncidents } from '../core/investigate/select.ts';
import type { Step } from '../core/investigate/step.ts';

export interface InvestigateOptions {
  /** Finding files (jsonl or json, gzipped or not) or directories; '-' or none is stdin. */
  inputs: string[];
  selection?: Selection;
  emit: (incident: Incident) => void | Promise<void>;
  onProblem?: (p: InputProblem) => void;
  onFile?: (index: number, files: readonly string[]) => void;
}

export interface InvestigateResult {
  records: number;
  findings: number;
  incidents: number;
  /** Incidents before the selection. */
  built: number;
  seconds: number;
}

/**
 * Read the findings of any imdsguard command, link them into incidents and emit the selected ones. Records that are
 * not findings (daemon events, earlier incidents) are stepped over; a malformed finding is a problem naming its file
 * and line, and everything else is still read.
 */
export async function runInvestigate(opts: InvestigateOptions): Promise<InvestigateResult> {
  const t0 = performance.now();
  const steps: Step[] = [];
  let records = 0;
  for await (const rec of readJsonRecords(opts.inputs, {
    ...(opts.onProblem ? { onProblem: opts.onProblem } : {}),
    ...(opts.onFile ? { onFile: opts.onFile } : {}),
  })) {
    // A json array output (`--format json`) is one record holding the findings.
    const values = Array.isArray(rec.value) ? rec.value : [rec.value];
    for (const value of values) {
      records++;
      try {
        const step = stepFromRecord(value, { file: rec.file, line: rec.line });
        if (step) steps.push(step);
      } catch (e) {
        if (!(e instanceof InputSyntaxError) || !opts.onProblem) throw e;
        opts.onProblem({ file: rec.file, line: rec.line, message: e.message, skipped: 'record' });
      }
    }
  }
  const built = buildIncidents(steps);
  const chosen = opts.selection ? selectIncidents(built, opts.selection) : built;
  for (const inc of chosen) {
    const p = opts.emit(inc);
    if (p) await p;
  }
  return {
    records,
    findings: steps.length,
    incidents: chosen.length,
    built: built.length,
    seconds: (performance.now() - t0) / 1000,
  };
}
