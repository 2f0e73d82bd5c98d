import type { Finding } from '../../core/model/finding.ts';
import type { Severity } from '../../core/model/severity.ts';
import type { FindingSink } from '../../core/ports.ts';
import { Masker, maskRecord } from '../../core/secrets/masker.ts';
import { jsonText } from './json-text.ts';
import type { TextOutput } from './output.ts';

/** The subset of SARIF 2.1.0 we emit (https://docs.oasis-open.org/sarif/sarif/v2.1.0/). */
interface SarifResult {
  ruleId: string;
  level: 'note' | 'warning' | 'error';
  message: { text: string };
  locations?: Array<{
    physicalLocation: { artifactLocation: { uri: string }; region?: { startLine: number } };
  }>;
  partialFingerprints: Record<string, string>;
  properties: Record<string, unknown>;
}

const LEVEL: Record<Severity, SarifResult['level']> = {
  info: 'note',
  low: 'note',
  medium: 'warning',
  high: 'error',
  critical: 'error',
};

/** GitHub code scanning reads this as a 0–10 score. */
const SECURITY_SEVERITY: Record<Severity, string> = {
  info: '0.0',
  low: '3.0',
  medium: '5.0',
  high: '8.0',
  critical: '9.5',
};

function toUri(file: string): string {
  if (file === '-' || file === '<stdin>') return 'stdin';
  return file.split('/').map(encodeURIComponent).join('/');
}

/** Map one record to a SARIF result; the log file and 1-based line become the location. */
export function toSarifResult(f: Finding): SarifResult {
  const loc = f.origin?.file
    ? [
        {
          physicalLocation: {
            artifactLocation: { uri: toUri(f.origin.file) },
            ...(f.origin.line !== undefined ? { region: { startLine: f.origin.line } } : {}),
          },
        },
      ]
    : undefined;
  const { type: _t, schema_version: _s, ...props } = f;
  return {
    ruleId: f.rule.id,
    level: LEVEL[f.severity] ?? 'warning',
    message: { text: f.title },
    ...(loc ? { locations: loc } : {}),
    partialFingerprints: { 'imdsguardFindingId/v1': f.id },
    properties: { ...props, 'security-severity': SECURITY_SEVERITY[f.severity] },
  };
}

/** One SARIF 2.1.0 log with one run, written at close (SARIF is a single document). */
export function sarifSink(out: TextOutput, tool: { version: string }): FindingSink {
  const results: SarifResult[] = [];
  const rules = new Map<string, { id: string; name: string; severity: Severity; remediation: string }>();
  const masker = new Masker();
  return {
    write(record) {
      const f = maskRecord(record, masker) as Finding;
      if (f.type !== 'finding' || !f.rule) return;
      results.push(toSarifResult(f));
      if (!rules.has(f.rule.id))
        rules.set(f.rule.id, { id: f.rule.id, name: f.rule.name, severity: f.severity, remediation: f.remediation });
    },
    async close() {
      const doc = {
        $schema: 'https://json.schemastore.org/sarif-2.1.0.json',
        version: '2.1.0',
        runs: [
          {
            tool: {
              driver: {
                name: 'imdsguard',
                version: tool.version,
                informationUri: 'https://github.com/imdsguard/imdsguard',
                rules: [...rules.values()].map((r) => ({
                  id: r.id,
                  name: r.name,
                  shortDescription: { text: r.name },
                  help: { text: r.remediation },
                  defaultConfiguration: { level: LEVEL[r.severity] },
                  properties: { 'security-severity': SECURITY_SEVERITY[r.severity], tags: ['security'] },
                })),
              },
            },
            results,
          },
        ],
      };
      await out.write(`${jsonText(doc, 2)}\n`);
      await out.close();
    },
  };
}
