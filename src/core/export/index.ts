/** Detections written in other engines' languages. */
import { exportAwsWaf } from './aws-waf.ts';
import type { ExportOptions, ExportResult, ExportTarget } from './export-file.ts';
import { exportFalco } from './falco.ts';
import { exportModSecurity } from './modsecurity.ts';
import { exportSigma } from './sigma.ts';
import { exportSuricata } from './suricata.ts';

export {
  EXPORT_TARGETS,
  type ExportFile,
  type ExportOptions,
  type ExportResult,
  type ExportTarget,
} from './export-file.ts';

const EXPORTERS: Record<ExportTarget, (o: ExportOptions) => ExportResult> = {
  sigma: exportSigma,
  falco: exportFalco,
  modsecurity: exportModSecurity,
  'aws-waf': exportAwsWaf,
  suricata: exportSuricata,
};

/**
 * Our detections in one engine's language.
 * @example exportRules('modsecurity', { version: '0.1.0' }).files[0].name // 'imdsguard-modsecurity.conf'
 */
export function exportRules(target: ExportTarget, o: ExportOptions): ExportResult {
  return EXPORTERS[target](o);
}
