import type { Finding } from '../../src/core/model/finding.ts';
import { bytesOf, scanFiles } from '../scan/helpers.ts';

/** The same request as a combined access-log line and as a JSON line (nginx `escape=json` field names). */
export const LOG_SHAPES = [
  {
    format: 'combined',
    line: (method: string, target: string) =>
      `203.0.113.77 - - [02/Mar/2026:10:14:07 +0000] "${method} ${target} HTTP/1.1" 200 5120 "https://intranet.example.com/" "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"`,
  },
  {
    format: 'json',
    line: (method: string, target: string, body?: string) =>
      JSON.stringify({
        time_iso8601: '2026-03-02T10:14:07+00:00',
        remote_addr: '203.0.113.77',
        request: `${method} ${target} HTTP/1.1`,
        status: 200,
        body_bytes_sent: 5120,
        http_referer: 'https://intranet.example.com/',
        ...(body !== undefined ? { request_body: body } : {}),
      }),
  },
] as const;

/** The metadata finding of each line scanned in `format`, by line number. */
export async function metadataFindings(lines: string[], format: 'combined' | 'json'): Promise<Map<number, Finding>> {
  const run = await scanFiles(['-'], { logFormat: format, stdin: bytesOf(`${lines.join('\n')}\n`) });
  const out = new Map<number, Finding>();
  for (const f of run.findings) if (f.verdict === 'metadata') out.set(f.origin.line ?? 0, f);
  return out;
}

/** Each request target as a GET in every log shape: per shape, the metadata finding of each target (or undefined). */
export async function scanTargets(
  targets: string[],
): Promise<Array<{ format: 'combined' | 'json'; found: Array<Finding | undefined> }>> {
  const out: Array<{ format: 'combined' | 'json'; found: Array<Finding | undefined> }> = [];
  for (const shape of LOG_SHAPES) {
    const byLine = await metadataFindings(
      targets.map((t) => shape.line('GET', t)),
      shape.format,
    );
    out.push({ format: shape.format, found: targets.map((_t, i) => byLine.get(i + 1)) });
  }
  return out;
}
