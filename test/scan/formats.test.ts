import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { LogFormatName } from '../../src/core/parse/types.ts';
import { scanFiles } from './helpers.ts';

const FIX = join(import.meta.dirname, '..', 'fixtures', 'scan');

interface Expect {
  line: number;
  verdict: 'metadata' | 'internal';
  provider?: string | null;
  field?: string;
  outcome?: 'likely-success' | 'attempt';
  decoded?: RegExp;
}

/** Each fixture, its format, and every finding it must give (and nothing else). */
const CASES: Array<{ file: string; format: LogFormatName; expect: Expect[]; fieldMap?: Record<string, string> }> = [
  {
    file: 'combined.log',
    format: 'combined',
    expect: [
      { line: 3, verdict: 'metadata', provider: 'aws', outcome: 'likely-success', decoded: /security-credentials\/$/ },
      { line: 4, verdict: 'metadata', provider: 'aws', outcome: 'attempt', decoded: /latest\/api\/token/ },
      // nginx writes the UTF-8 bytes of ①⑥⑨ as \xHH escapes.
      {
        line: 5,
        verdict: 'metadata',
        provider: 'aws',
        outcome: 'attempt',
        decoded: /169\.254\.169\.254\/latest\/user-data/,
      },
      // Absolute-form request target (a proxy-style request to the web server).
      { line: 6, verdict: 'metadata', outcome: 'attempt' },
      { line: 7, verdict: 'internal', provider: null, outcome: 'attempt' },
    ],
  },
  {
    file: 'common.log',
    format: 'common',
    expect: [{ line: 2, verdict: 'metadata', provider: 'aws', decoded: /169\.254\.169\.254\/latest\/meta-data\// }],
  },
  {
    file: 'nginx-json.log',
    format: 'json',
    expect: [
      { line: 2, verdict: 'metadata', provider: 'gcp', outcome: 'likely-success' },
      { line: 3, verdict: 'metadata', field: 'host' },
      { line: 4, verdict: 'metadata', provider: 'alibaba', field: 'webhook_url' },
    ],
  },
  {
    file: 'custom-json.log',
    format: 'json',
    fieldMap: { url: 'ctx.target_url', client: 'ctx.client', status: 'code', bytes: 'len' },
    expect: [{ line: 1, verdict: 'metadata', provider: 'aws', outcome: 'likely-success' }],
  },
  {
    file: 'alb.log',
    format: 'alb',
    expect: [
      { line: 2, verdict: 'metadata', provider: 'aws', outcome: 'likely-success', field: 'target' },
      // Host header 169.254.169.254 shows up as the authority of the logged absolute URL.
      { line: 3, verdict: 'metadata', field: 'host', outcome: 'attempt' },
    ],
  },
  {
    file: 'elb.log',
    format: 'elb',
    expect: [{ line: 2, verdict: 'metadata', provider: 'aws', outcome: 'likely-success' }],
  },
  {
    file: 'cloudfront.log',
    format: 'cloudfront',
    expect: [
      // Sent as %3A%2F…, logged as %253A%252F…: exactly one percent layer is the client's.
      {
        line: 4,
        verdict: 'metadata',
        provider: 'aws',
        outcome: 'likely-success',
        decoded: /security-credentials\/web$/,
      },
      { line: 5, verdict: 'metadata', provider: 'gcp', field: 'host', outcome: 'attempt' },
    ],
  },
  {
    file: 'awswaf.log',
    format: 'awswaf',
    expect: [{ line: 2, verdict: 'metadata', provider: 'aws', outcome: 'attempt' }],
  },
  {
    file: 'squid.log',
    format: 'squid',
    expect: [
      { line: 2, verdict: 'metadata', provider: 'aws', outcome: 'likely-success', field: 'proxy_url' },
      { line: 3, verdict: 'metadata', provider: 'gcp', outcome: 'attempt', field: 'proxy_url' },
    ],
  },
  {
    file: 'haproxy.log',
    format: 'haproxy',
    expect: [
      { line: 2, verdict: 'metadata', provider: 'aws', outcome: 'likely-success' },
      { line: 3, verdict: 'metadata', field: 'captured_1', outcome: 'attempt' },
    ],
  },
  {
    file: 'envoy.log',
    format: 'envoy',
    expect: [{ line: 2, verdict: 'metadata', provider: 'aws', decoded: /169\.254\.170\.23/ }],
  },
  {
    file: 'traefik.log',
    format: 'traefik',
    expect: [{ line: 2, verdict: 'metadata', provider: 'azure', outcome: 'likely-success' }],
  },
  {
    file: 'iis.log',
    format: 'iis',
    expect: [
      { line: 6, verdict: 'metadata', provider: 'azure', outcome: 'attempt' },
      // After the second #Fields (cs-host added), the host column is read by name.
      { line: 12, verdict: 'metadata', provider: 'gcp', field: 'host' },
    ],
  },
  {
    file: 'zeek-http.log',
    format: 'zeek',
    expect: [{ line: 10, verdict: 'metadata', provider: 'aws', outcome: 'likely-success' }],
  },
  { file: 'zeek-http.json.log', format: 'zeek', expect: [{ line: 2, verdict: 'metadata', provider: 'tencent' }] },
  {
    file: 'eve.json',
    format: 'eve',
    expect: [{ line: 4, verdict: 'metadata', provider: 'aws', outcome: 'likely-success' }],
  },
];

describe('scan: every log format', () => {
  for (const c of CASES) {
    for (const mode of ['auto', 'forced'] as const) {
      it(`${c.file} (${mode === 'auto' ? 'auto-detected' : `--log-format ${c.format}`})`, async () => {
        const { findings, stats } = await scanFiles([join(FIX, c.file)], {
          logFormat: mode === 'auto' ? 'auto' : c.format,
          ...(c.fieldMap ? { fieldMap: c.fieldMap } : {}),
        });
        assert.equal(stats.skippedTotal, 0, `skipped: ${JSON.stringify([...stats.skipped])}`);
        const got = findings.map((f) => `${f.origin.line}:${f.verdict}`);
        assert.deepEqual(
          got,
          c.expect.map((e) => `${e.line}:${e.verdict}`),
        );
        for (const e of c.expect) {
          const f = findings.find((x) => x.origin.line === e.line && x.verdict === e.verdict)!;
          assert.equal(f.origin.file, join(FIX, c.file));
          const fmt = c.format === 'common' || c.format === 'combined' ? 'combined' : c.format;
          if (mode === 'auto') assert.equal(f.origin.format, fmt);
          assert.equal(f.rule.id, e.verdict === 'metadata' ? 'ssrf-metadata' : 'ssrf-internal');
          if (e.provider !== undefined) assert.equal(f.provider, e.provider, `line ${e.line}`);
          if (e.field) assert.equal(f.http?.field, e.field, `line ${e.line}`);
          if (e.outcome) assert.equal(f.outcome, e.outcome, `line ${e.line}: ${f.outcome_reason}`);
          if (e.decoded) assert.match(f.target!.decoded, e.decoded);
          if (f.outcome === 'likely-success') assert.equal(f.severity, 'critical');
          else assert.notEqual(f.severity, 'critical');
          if (f.verdict === 'internal') assert.ok(['low', 'medium'].includes(f.severity));
          assert.ok(f.outcome_reason);
        }
      });
    }
  }

  it('a finding carries client, time, method, status and size from the log', async () => {
    const { findings } = await scanFiles([join(FIX, 'combined.log')]);
    const f = findings.find((x) => x.origin.line === 3)!;
    assert.deepEqual(f.client, { ip: '192.0.2.66' });
    assert.equal(f.time, '2026-11-21T09:14:04.000Z');
    assert.deepEqual(f.http, { method: 'GET', status: 200, bytes: 18, field: 'target' });
    assert.equal(f.target!.raw, '/fetch?u=http://169.254.169.254/latest/meta-data/iam/security-credentials/');
  });

  it('repeated attempts from one client are grouped for the summary, each line keeping its own finding', async () => {
    const { findings, stats } = await scanFiles([join(FIX, 'combined.log')]);
    assert.equal(findings.filter((f) => f.client?.ip === '192.0.2.66').length, 2);
    const g = stats.clients.get('192.0.2.66')!;
    assert.equal(g.count, 2);
    assert.equal(g.first, '2026-11-21T09:14:04.000Z');
    assert.equal(g.last, '2026-11-21T09:14:05.000Z');
    assert.ok(
      g.techniques.has('plain') && [...g.techniques].some((t) => t.startsWith('percent')),
      [...g.techniques].join(),
    );
    assert.deepEqual([...g.outcomes].sort(), ['attempt', 'likely-success']);
    const text = stats.render(1000);
    assert.match(text, /192\.0\.2\.66: 2 finding\(s\), max critical/);
    assert.match(text, /findings: 5 \(critical 1, high 2, medium 1, low 1\)/);
  });

  it('benign look-alikes give nothing: order ids that are IP integers, a localhost Referer, plain pages', async () => {
    const { findings } = await scanFiles([join(FIX, 'combined.log')]);
    for (const line of [1, 2, 8, 9]) assert.ok(!findings.some((f) => f.origin.line === line), `line ${line}`);
  });

  it('eve.json: interleaved flow, dns and stats events are ignored (and counted), not errors', async () => {
    const { stats } = await scanFiles([join(FIX, 'eve.json')]);
    assert.equal(stats.skippedTotal, 0);
    assert.equal(stats.notes.get('eve flow event'), 1);
    assert.equal(stats.notes.get('eve dns event'), 1);
  });

  it('the shipped example log has real-shaped attacks', async () => {
    const { findings } = await scanFiles([join(import.meta.dirname, '..', '..', 'examples', 'access.log')]);
    assert.ok(findings.filter((f) => f.verdict === 'metadata').length >= 3);
    assert.ok(findings.some((f) => f.outcome === 'likely-success'));
  });
});
