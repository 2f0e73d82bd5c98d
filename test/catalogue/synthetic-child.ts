/**
 * Runs explain, scan, export and the guard's destination check on requests to the synthetic provider, and prints what
 * each saw as one JSON object. Run with and without `register-swap.mjs`.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { explain } from '../../src/app/explain.ts';
import { exportRules } from '../../src/core/export/index.ts';
import { metadataAtAddress, metadataAtHostname } from '../../src/guard/destination.ts';
import { scanFiles } from '../scan/helpers.ts';

const url = 'http://198.51.100.77/synth/v1/credentials';
const named = 'http://meta.synthcloud.example/synth/v1/credentials';
const b64 = Buffer.from(named).toString('base64');
const dir = mkdtempSync(join(tmpdir(), 'imdsguard-synth-'));
const log = join(dir, 'access.log');
const line = (target: string) =>
  `203.0.113.9 - - [04/Dec/2026:10:00:00 +0000] "GET ${target} HTTP/1.1" 200 512 "-" "curl/8.5.0"`;
writeFileSync(
  log,
  `${[
    line(`/fetch?url=${encodeURIComponent(url)}`),
    line(`/share?u=${b64}`),
    line('/proxy/meta.synthcloud.example/synth/v1/credentials'),
    line('/index.html'),
  ].join('\n')}\n`,
);
const scan = await scanFiles([log]);
rmSync(dir, { recursive: true, force: true });
const rules = ['sigma', 'modsecurity', 'aws-waf', 'suricata', 'falco'] as const;
console.log(
  JSON.stringify({
    explain: [url, named, `/share?u=${b64}`, '/x?to=http://[2001:db8:5e::254]/synth/v1/'].map((t) => {
      const r = explain(t);
      return { verdict: r.verdict, provider: r.hits[0]?.provider ?? null, path_class: r.hits[0]?.path_class ?? null };
    }),
    scan: scan.findings.map((f) => ({ line: f.origin.line, provider: (f as { provider?: string }).provider ?? null })),
    export: Object.fromEntries(
      rules.map((t) => {
        const text = exportRules(t, { version: 'test' }).combined;
        return [t, { address: /198\\?\.51\\?\.100\\?\.77|198\.51\.100\.77/.test(text), name: /synthcloud/.test(text) }];
      }),
    ),
    guard: {
      address: metadataAtAddress('198.51.100.77', 80, '/synth/v1/credentials')?.provider ?? null,
      ipv6: metadataAtAddress('2001:db8:5e::254', 80)?.provider ?? null,
      hostname: metadataAtHostname('meta.synthcloud.example', 80)?.provider ?? null,
    },
  }),
);
