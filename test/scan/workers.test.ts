import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { runScan } from '../../src/app/scan.ts';
import { scanRules } from '../../src/app/scan-rules.ts';
import type { Finding } from '../../src/core/model/finding.ts';

const dir = mkdtempSync(join(tmpdir(), 'imdsguard-workers-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/**
 * A few MiB of combined lines (so that chunks go to the filter workers) with attacks, a leaked credential document
 * whose owner sits many lines before, CRLF and non-ASCII stretches, a binary line and a mid-file format change.
 */
function makeLog(): { text: string; attackLines: number[] } {
  const out: string[] = [];
  const attackLines: number[] = [];
  const benign = (i: number) =>
    `198.51.100.${i % 250} - - [21/Nov/2026:10:${String(i % 60).padStart(2, '0')}:00 +0000] "GET /products/${(i * 2654435761) >>> 0}?ref=mail&page=${i % 7} HTTP/1.1" 200 ${1000 + (i % 5000)} "https://shop.example.com/" "Mozilla/5.0 (X11; Linux x86_64)"`;
  const attacks = [
    'GET /fetch?u=http://169.254.169.254/latest/meta-data/iam/security-credentials/ HTTP/1.1',
    'GET /fetch?u=http%3A%2F%2F0xA9FEA9FE%2Flatest%2Fmeta-data%2F HTTP/1.1',
    'GET /img?src=http://metadata.google.internal/computeMetadata/v1/instance/service-accounts/default/token HTTP/1.1',
    'GET /p?next=http://127.0.0.1:8080/admin HTTP/1.1',
  ];
  for (let i = 0; i < 40_000; i++) {
    if (i % 3001 === 1500) {
      attackLines.push(out.length + 1);
      out.push(
        `203.0.113.7 - - [21/Nov/2026:10:00:00 +0000] "${attacks[((i / 3001) | 0) % attacks.length]!}" 200 1024 "-" "curl/8.5.0"`,
      );
    } else if (i === 20_000) out.push('2026-11-23T05:10:01Z role RoleArn arn:aws:iam::000000000000:role/fake-web-role');
    else if (i === 20_030)
      out.push(
        '2026-11-23T05:10:02Z body {"Code":"Success","Type":"AWS-HMAC","AccessKeyId":"ASIAFAKEJS72V5QHUYPA","SecretAccessKey":"Fakeip+a1ipj0VFyPFN245Tlfe4amx9B5t/DKZ0x"}',
      );
    else if (i === 30_000) out.push('\u0000\u0001\u0002binary\u0000garbage');
    else if (i > 35_000 && i < 35_100) out.push(`${benign(i).replace('Linux', 'Linüx')}\r`);
    else out.push(benign(i));
  }
  return { text: `${out.join('\n')}\n`, attackLines };
}

async function scan(
  file: string,
  workers: number,
): Promise<{ findings: Finding[]; warnings: string[]; lines: number }> {
  const findings: Finding[] = [];
  const warnings: string[] = [];
  const stats = await runScan({
    inputs: [file],
    logFormat: 'auto',
    rules: scanRules(),
    sink: { write: (f) => void findings.push(f as Finding), close: async () => {} },
    maxLineBytes: 1 << 20,
    concurrency: 1,
    workers,
    warn: (m) => warnings.push(m),
  });
  return { findings, warnings, lines: stats.linesRead };
}

describe('scan with filter workers', () => {
  it('finds exactly what the single-threaded scan finds, in the same order', async () => {
    const { text, attackLines } = makeLog();
    const file = join(dir, 'access.log');
    writeFileSync(file, text);
    const one = await scan(file, 0);
    const two = await scan(file, 2);
    assert.equal(one.lines, 40_000);
    assert.equal(two.lines, 40_000);
    const key = (f: Finding) => `${f.origin.line} ${f.rule.id} ${f.id}`;
    assert.deepEqual(two.findings.map(key), one.findings.map(key));
    assert.deepEqual(two.warnings, one.warnings);
    const ssrf = one.findings.filter((f) => f.rule.id.startsWith('ssrf-')).map((f) => f.origin.line!);
    for (const l of attackLines) assert.ok(ssrf.includes(l), `attack on line ${l}`);
    const leak = one.findings.find((f) => f.rule.id.startsWith('credential-exposure'));
    assert.equal(leak?.origin.line, 20_031);
    assert.equal(leak?.secret?.owner, 'arn:aws:iam::000000000000:role/fake-web-role');
    assert.ok(one.warnings.some((w) => w.includes(':30001') && w.includes('binary')));
  });
});
