import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import fc from 'fast-check';
import { generateUniqueLog, type UniqueLogKind } from '../../bench/scan-gen-unique.ts';
import { scanRules } from '../../src/app/scan-rules.ts';
import type { Finding } from '../../src/core/model/finding.ts';
import type { LogFormatName } from '../../src/core/parse/types.ts';
import type { LineRule } from '../../src/core/rules/line-rule.ts';
import { CORPORA, corporaSkip } from '../corpora/shared.ts';
import { arbitraryMetadataPayload } from '../support/arbitraries.ts';
import { scanFiles } from './helpers.ts';

const dir = mkdtempSync(join(tmpdir(), 'imdsguard-oracle-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const fixtures = join(import.meta.dirname, '..', 'fixtures', 'scan');

/**
 * The full-parse path: the same rules with nothing declared for line selection (no place filter, no chunk test), so
 * every line is parsed and every rule evaluates it.
 */
function fullParseRules(): LineRule[] {
  return scanRules().map((r) => ({
    id: r.id,
    mayMatch: () => true,
    evaluate: (input) => r.evaluate(input),
    ...(r.rawLines ? { rawLines: true } : {}),
    ...(r.flush ? { flush: (file: string) => r.flush!(file) } : {}),
  }));
}

const key = (f: Finding) =>
  JSON.stringify([f.origin.line, f.rule.id, f.verdict, f.target?.decoded, f.http?.field, f.severity, f.title]);

async function same(file: string, logFormat: LogFormatName): Promise<number> {
  const fast = await scanFiles([file], { logFormat });
  const full = await scanFiles([file], { logFormat, rules: fullParseRules() });
  assert.deepEqual(fast.findings.map(key), full.findings.map(key), file);
  return full.findings.length;
}

describe('scan finds exactly what a full parse of every line finds', () => {
  const kinds: Array<[UniqueLogKind, LogFormatName]> = [
    ['combined', 'combined'],
    ['json', 'json'],
    ['alb', 'alb'],
    ['cloudfront', 'cloudfront'],
    ['real', 'combined'],
  ];
  for (const [kind, format] of kinds) {
    it(`on generated ${kind} lines whose values do not repeat`, async (t) => {
      const realLog = join(CORPORA, 'real-logs', 'apache_logs');
      const skip = kind === 'real' && corporaSkip('real-logs');
      if (skip) {
        assert.ok(process.env.CI !== 'true', skip);
        t.skip(skip);
        return;
      }
      const file = join(dir, `${kind}.log`);
      const gen = await generateUniqueLog(kind, file, 1 << 20, { realLog, attackEvery: 40, seed: 3 });
      const n = await same(file, format);
      assert.ok(n >= gen.attacks, `${n} findings for ${gen.attacks} attacks`);
    });
  }
  it('on generated hostile lines: every encoding the classifier decodes, in every field the formats list', async () => {
    // Hosts in every spelling the decoders read (decimal, octal, hex, overflowing and dashed IPv4, IPv6 forms,
    // folded digits), through percent layers, base64, entities, JSON and nginx escapes, %u and \\u escapes.
    const escapeAllU = (s: string) => [...s].map((c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`).join('');
    const extraHosts = fc.constantFrom(
      'http://2130706433/',
      'http://017700000001/',
      'http://0x7f.1/',
      'http://[::1]/',
      'http://[0:0:0:0:0:ffff:a9fe:a9fe]/latest/',
      'http://[::ffff:169.254.169.254]/latest/',
      'http://4371838718/latest/meta-data/',
      'http://10.1/admin',
      'http://%31%36%39.254.169.254/',
      `http://${Buffer.from('http://169.254.169.254/latest/').toString('base64')}`,
    );
    const value = fc.oneof(
      arbitraryMetadataPayload().map((p) => p.text),
      extraHosts.map((h) => `/fetch?url=${h}`),
      extraHosts.map((h) => `/fetch?url=${encodeURIComponent(encodeURIComponent(h))}`),
      fc.constantFrom('/index.html', '/search?q=red%20shoes&page=0', '/p/2852039166x'),
    );
    const where = fc.constantFrom('target', 'referer', 'ua', 'tail');
    const combined = fc.tuple(value, where, fc.nat(250)).map(([v, w, n]) => {
      const q = v.replace(/"/g, '%22');
      const target = w === 'target' ? q : `/ok/${n}`;
      const ref = w === 'referer' ? q : '-';
      const ua = w === 'ua' ? q : 'Mozilla/5.0 (Windows NT 10.0)';
      return `192.0.2.${n} - - [21/Nov/2026:09:14:04 +0000] "GET ${target} HTTP/1.1" 200 ${n} "${ref}" "${ua}"${w === 'tail' ? ` "${q}"` : ''}`;
    });
    const json = fc.tuple(value, where, fc.boolean(), fc.nat(250)).map(([v, w, esc, n]) => {
      const j = (s: string) => (esc ? `"${escapeAllU(s)}"` : JSON.stringify(s));
      const req = `GET ${w === 'target' ? v : `/ok/${n}`} HTTP/1.1`;
      return `{"time_local":"21/Nov/2026:09:14:04 +0000","remote_addr":"192.0.2.${n}","request":${j(req)},"status":"200","body_bytes_sent":"${n}","http_referrer":${j(w === 'referer' ? v : '-')},"http_user_agent":${j(w === 'ua' ? v : 'curl/8')}}`;
    });
    let found = 0;
    for (const [name, arb, format] of [
      ['combined', combined, 'combined'],
      ['json', json, 'json'],
    ] as const) {
      const file = join(dir, `hostile-${name}.log`);
      writeFileSync(file, `${fc.sample(arb, { numRuns: 1500, seed: 17 }).join('\n')}\n`);
      found += await same(file, format);
    }
    assert.ok(found > 1000, `${found} findings: the sample must exercise the rules`);
  });
  it('on every scan fixture', async () => {
    let n = 0;
    for (const f of readdirSync(fixtures)) n += await same(join(fixtures, f), 'auto');
    assert.ok(n > 20, `${n} findings`);
  });
});
