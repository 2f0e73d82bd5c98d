import { runScan } from '../../src/app/scan.ts';
import { scanRules } from '../../src/app/scan-rules.ts';
import type { Finding } from '../../src/core/model/finding.ts';
import type { LogFormatName } from '../../src/core/parse/types.ts';
import type { LineRule } from '../../src/core/rules/line-rule.ts';

export interface ScanRun {
  findings: Finding[];
  warnings: string[];
  stats: Awaited<ReturnType<typeof runScan>>;
}

/** Run the scan use case in-process with a collecting sink. */
export async function scanFiles(
  inputs: string[],
  opts: {
    rules?: LineRule[];
    logFormat?: LogFormatName;
    fieldMap?: Record<string, string>;
    stdin?: AsyncIterable<Buffer>;
    maxLineBytes?: number;
  } = {},
): Promise<ScanRun> {
  const findings: Finding[] = [];
  const warnings: string[] = [];
  const stats = await runScan({
    inputs,
    logFormat: opts.logFormat ?? 'auto',
    parser: { fieldMap: opts.fieldMap ?? {} },
    rules: opts.rules ?? scanRules(),
    sink: {
      write: (f) => {
        findings.push(f as Finding);
      },
      close: async () => {},
    },
    maxLineBytes: opts.maxLineBytes ?? 4 << 20,
    concurrency: 2,
    warn: (m) => warnings.push(m),
    ...(opts.stdin ? { stdin: opts.stdin } : {}),
  });
  return { findings, warnings, stats };
}

export async function* bytesOf(...parts: Array<string | Buffer>): AsyncGenerator<Buffer> {
  for (const p of parts) yield typeof p === 'string' ? Buffer.from(p) : p;
}
