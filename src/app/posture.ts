import { writeOutputFile } from '../adapters/files/output-file.ts';
import { sanitizeField } from '../adapters/sinks/sanitize.ts';
import { type InputProblem, readJsonRecords } from '../adapters/sources/json-record-files.ts';
import type { Finding } from '../core/model/finding.ts';
import { postureFindings, remediationScript } from '../core/posture/posture-check.ts';
import { emptyFacts, INVENTORY_RECORD_KEYS, readInventoryRecord } from '../core/posture/posture-inventory.ts';
import { type ReadinessRow, readiness } from '../core/posture/posture-readiness.ts';
import { Masker } from '../core/secrets/masker.ts';

/**
 * A finding as the remediation script may show it: its title one line with controls escaped, and its commands
 * written commented out (escaped) when an inventory name in them holds a control or bidirectional character. Such a
 * name cannot be shown as it is without driving the terminal of whoever reviews the script, nor escaped inside a
 * command without naming another resource; the whole block goes, so no quote is left open.
 */
function scriptSafe(f: Finding, masker: Masker): Finding {
  const title = sanitizeField(f.title, masker);
  const lines = f.remediation.split('\n');
  if (lines.every((l) => sanitizeField(l, masker) === l)) return { ...f, title };
  return {
    ...f,
    title,
    remediation: [
      '# NOT WRITTEN: a name in these commands holds control characters (shown escaped); check the inventory',
      ...lines.map((l) => `# ${sanitizeField(l, masker)}`),
    ].join('\n'),
  };
}

export interface PostureOptions {
  inputs: string[];
  emit: (f: Finding) => void | Promise<void>;
  /** Write the reviewed remediation script here. */
  remediationScript?: string;
  /** A bad input, record or line: reported here, and the rest is read (without it, the first one throws). */
  onProblem?: (p: InputProblem) => void;
  onFile?: (index: number, files: readonly string[]) => void;
}

export interface PostureResult {
  records: number;
  resources: number;
  findings: number;
  readiness: ReadinessRow[];
  /** Instances that already require tokens (not listed in the readiness view). */
  alreadyRequired: number;
  unknown: string[];
  seconds: number;
}

/** 1-based line of the first occurrence of `needle` inside a record that starts on `line`. */
function lineOf(text: string | undefined, line: number, needle: string): number {
  if (!text) return line;
  const at = text.indexOf(needle);
  if (at < 0) return line;
  let n = line;
  for (let i = text.indexOf('\n'); i !== -1 && i < at; i = text.indexOf('\n', i + 1)) n++;
  return n;
}

/**
 * The `posture` use case: stream inventory records, check each resource as it arrives and drop it. Only the
 * readiness rows (instance id, HttpTokens) and the findings kept for the remediation script stay in memory.
 */
export async function runPosture(opts: PostureOptions): Promise<PostureResult> {
  const started = process.hrtime.bigint();
  const rows = new Map<string, ReadinessRow>();
  const noToken = new Map<string, number>();
  const forScript: Finding[] = [];
  let records = 0;
  let alreadyRequired = 0;
  let resources = 0;
  let findings = 0;
  const unknown = new Set<string>();
  for await (const rec of readJsonRecords(opts.inputs, {
    keys: INVENTORY_RECORD_KEYS,
    keepText: true,
    ...(opts.onProblem ? { onProblem: opts.onProblem } : {}),
    ...(opts.onFile ? { onFile: opts.onFile } : {}),
  })) {
    records++;
    const facts = readInventoryRecord(rec.value, rec.key, rec.file, emptyFacts());
    for (const u of facts.unknown) unknown.add(u);
    for (const [k, v] of facts.noTokenByInstance) noToken.set(k, (noToken.get(k) ?? 0) + v);
    resources += facts.resources.length;
    // Only instances that still allow IMDSv1 need a readiness row: memory follows the non-compliant part of the fleet.
    for (const row of readiness(facts)) {
      if (row.status === 'already-required') alreadyRequired++;
      else rows.set(row.instance.toLowerCase(), row);
    }
    for (const f of postureFindings(facts)) {
      f.origin.line = lineOf(rec.text, rec.line, JSON.stringify(f.resource?.id ?? ''));
      findings++;
      if (opts.remediationScript) forScript.push(f);
      const p = opts.emit(f);
      if (p) await p;
    }
  }
  // Metrics may come in any file, before or after the instances they are about.
  const ready = [...rows.values()].map((r): ReadinessRow => {
    const n = noToken.get(r.instance.toLowerCase());
    if (n === undefined) return r;
    return { ...r, metadata_no_token: n, status: n > 0 ? 'would-break' : 'ready' };
  });
  if (opts.remediationScript) {
    const masker = new Masker();
    const script = remediationScript(
      forScript.map((f) => scriptSafe(f, masker)),
      ready,
    )
      .split('\n')
      // Comments quote inventory names too (the NOT READY line): shown escaped, as on a terminal.
      .map((l) => (l.startsWith('#') ? sanitizeField(l, masker) : l))
      .join('\n');
    await writeOutputFile(opts.remediationScript, script, { mode: 0o644 });
  }
  // A readiness-only file (metrics with no instance) still reports what it measured.
  for (const [k, n] of noToken) {
    if (!rows.has(k) && n > 0)
      ready.push({
        instance: k,
        http_tokens: 'unknown',
        metadata_no_token: n,
        status: n > 0 ? 'would-break' : 'ready',
      });
  }
  return {
    records,
    resources,
    findings,
    readiness: ready,
    alreadyRequired,
    unknown: [...unknown],
    seconds: Number(process.hrtime.bigint() - started) / 1e9,
  };
}
