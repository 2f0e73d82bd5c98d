/** What an exporter produces: named text files, and the same content as one stream for stdout. */
export interface ExportFile {
  name: string;
  content: string;
}

export interface ExportResult {
  files: ExportFile[];
  /** All files as one document of the engine's format (for stdout). */
  combined: string;
}

export const EXPORT_TARGETS = ['sigma', 'falco', 'modsecurity', 'aws-waf', 'suricata'] as const;
export type ExportTarget = (typeof EXPORT_TARGETS)[number];

export interface ExportOptions {
  /** The generating version, written in headers. */
  version: string;
  /** First ModSecurity rule id (default 91000, in the 1–99,999 local-use range) and first Suricata sid. */
  idBase?: number;
}

export const REFERENCE = 'https://attack.mitre.org/techniques/T1552/005/';
