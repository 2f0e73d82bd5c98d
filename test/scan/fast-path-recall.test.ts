import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import fc from 'fast-check';
import { mayAddressMetadata } from '../../src/core/prefilter.ts';
import { ssrfLineRule } from '../../src/core/rules/ssrf-http.ts';
import { CORPORA, corporaSkip } from '../corpora/shared.ts';
import { scanFiles } from './helpers.ts';

const dir = mkdtempSync(join(tmpdir(), 'imdsguard-recall-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Payloads: the CRS URL lists when present, plus encodings of a few endpoints. */
function payloads(): string[] {
  const out = [
    'http://169.254.169.254/latest/meta-data/',
    'http%3A%2F%2F169.254.169.254%2Flatest%2Fapi%2Ftoken',
    'http://0xA9FEA9FE/latest/user-data',
    'http://[::ffff:a9fe:a9fe]/latest/',
    'http://metadata.google.internal/computeMetadata/v1/',
    '//100.100.100.200/latest/meta-data/',
    'http://127.0.0.1:2375/containers/json',
    'http://10.0.0.1/admin',
    'instance-data/latest/meta-data',
    'http:\\\\169.254.169.254\\latest',
  ];
  if (!corporaSkip('crs')) {
    for (const f of ['ssrf.data', 'ssrf-no-scheme.data']) {
      for (const l of readFileSync(join(CORPORA, 'crs', f), 'utf8').split('\n')) {
        const t = l.trim();
        if (t && !t.startsWith('#') && !/[\s"]/.test(t)) out.push(t);
      }
    }
  }
  return out;
}

describe('the fast path never costs recall', () => {
  it('scan with the field prefilter and fast path finds exactly what a full parse of every line finds', async () => {
    const list = payloads();
    const enc = fc.constantFrom<(s: string) => string>(
      (s) => s,
      (s) => encodeURIComponent(s),
      (s) => encodeURIComponent(encodeURIComponent(s)),
      (s) => s.replace(/\./g, '%2e'),
      (s) => s.toUpperCase(),
    );
    const where = fc.constantFrom('query', 'path', 'referer', 'absolute', 'tail', 'none');
    const line = fc.tuple(fc.constantFrom(...list), enc, where, fc.nat(999)).map(([p, e, w, n]) => {
      const v = e(p).replace(/"/g, '%22');
      const target =
        w === 'query'
          ? `/fetch?u=${v}&n=${n}`
          : w === 'path'
            ? `/proxy/${v}`
            : w === 'absolute'
              ? v
              : `/page/${n}?q=shoes`;
      const ref = w === 'referer' ? v : n % 2 ? 'https://shop.example.com/' : '-';
      const tail = w === 'tail' ? ` "${v}"` : '';
      return `192.0.2.${n % 250} - - [21/Nov/2026:09:14:04 +0000] "GET ${target} HTTP/1.1" ${n % 3 ? 200 : 404} ${n} "${ref}" "Mozilla/5.0 (Windows NT 10.0)"${tail}`;
    });
    const lines = fc.sample(line, { numRuns: 3000, seed: 11 });
    const file = join(dir, 'mixed.log');
    writeFileSync(file, `${lines.join('\n')}\n`);
    // Full: no filter at all, every line parsed, every field classified.
    const full = await scanFiles([file], { rules: [ssrfLineRule()] });
    const fast = await scanFiles([file], { rules: [ssrfLineRule({ fieldFilter: mayAddressMetadata })] });
    const key = (f: { origin: { line?: number }; verdict?: string; target?: { decoded: string } }) =>
      `${f.origin.line}:${f.verdict}:${f.target?.decoded}`;
    assert.ok(full.findings.length > 1000, `only ${full.findings.length} findings: the sample must exercise the rule`);
    assert.deepEqual(fast.findings.map(key), full.findings.map(key));
  });
});
