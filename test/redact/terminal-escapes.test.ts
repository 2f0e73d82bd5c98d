/**
 * Terminal escape sequences inside a secret (`grep --color` colouring a match, `jq -C` colouring keys and values, a
 * bold run in a captured terminal) cut it for a reader of the raw text. The masker reads the text with them removed,
 * so `redact` and every sink of `scan` mask the secret whole.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { openSink, SINK_FORMATS } from '../../src/adapters/sinks/open-sink.ts';
import { redact } from '../../src/app/redact.ts';
import { runScan } from '../../src/app/scan.ts';
import { scanRules } from '../../src/app/scan-rules.ts';
import { holdsPiece } from '../support/secret-docs.ts';

const dir = mkdtempSync(join(tmpdir(), 'imdsguard-terminal-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const E = '\u001b';
const SECRET = '9I5wOy4RS+s6WH5WHvUdIaKlrCC4HUNnkkMGs+Sl';
const TABLE_SECRET = 'SRQSkhsJJW+xWbsLNVVIdr0ctOGmh0+LKYpymMry';
const ALI_SECRET = 'KE0ZBCySZgct6C17GKJElkMGVOnTiI';
const TOKEN = `IQoJb3JpZ2luX2Vj${'xUd4XDtGGrqYujEor6WewDMlw8tK6vp0j7k0CerD1ntIi2XJVuanWKGsCsciHQHm'.repeat(3)}`;
const ALI_TOKEN = `CAIS${'AHLsliCk1NRwKdBjy+TIHZJINZ4KaeRPH7rYAqTfqnc1xnImtH5YOOYNb94bmKisY5MJ'.repeat(3)}`;
const SECRETS = [SECRET, TABLE_SECRET, ALI_SECRET, TOKEN.slice(16), ALI_TOKEN.slice(4)];

/** Lines as the tools write them: grep --color, jq -C, a bold run, and a terminal captured into a JSON log. */
const LINES = [
  `aws_secret_access_key = ${SECRET.slice(0, 15)}${E}[01;31m${E}[K${SECRET.slice(15, 25)}${E}[m${E}[K${SECRET.slice(25)}`,
  '{',
  `  ${E}[1;34m"AccessKeyId"${E}[0m: ${E}[0;32m"ASIAROJUGH7PZGLK72CQ"${E}[0m,`,
  `  ${E}[1;34m"SecretAccessKey"${E}[0m: ${E}[0;32m"${SECRET}"${E}[0m`,
  '}',
  `  ${E}[1;34m"AccessKeySecret"${E}[0m: ${E}[0;32m"${ALI_SECRET}"${E}[0m,`,
  `  ${E}[1;34m"SecurityToken"${E}[0m: ${E}[0;32m"${ALI_TOKEN}"${E}[0m`,
  `aws_secret_access_key=${TABLE_SECRET.slice(0, 15)}${E}[1m${TABLE_SECRET.slice(15)} fetch http://169.254.169.254/latest/meta-data/iam/security-credentials/web`,
  `token ${TOKEN.slice(0, 100)}${E}[1m${TOKEN.slice(100)}`,
  JSON.stringify({
    ts: '2026-12-05T10:00:00Z',
    tty: `SecretAccessKey: ${E}[32m${SECRET.slice(0, 20)}${E}[0m${SECRET.slice(20)}`,
  }),
];

describe('terminal escape sequences inside a secret', () => {
  it('redact masks the secret whole and keeps the sequences around it', async () => {
    const input = join(dir, 'coloured.log');
    const output = join(dir, 'coloured.out');
    writeFileSync(input, `${LINES.join('\n')}\n`, 'latin1');
    await redact({ inputs: [input], output }, () => {});
    const out = readFileSync(output, 'latin1');
    for (const s of SECRETS) assert.equal(holdsPiece(out, s), null, out);
    const lines = out.split('\n');
    assert.equal(lines.length, LINES.length + 1);
    // A colour around a value is kept; only the secret (and what colours it inside) is replaced.
    assert.equal(lines[3], `  ${E}[1;34m"SecretAccessKey"${E}[0m: ${E}[0;32m"9I5w****GsSl"${E}[0m`);
    assert.equal(lines[0], 'aws_secret_access_key = 9I5w****GsSl');
  });

  it('no sink of scan holds a piece of the secret', async () => {
    const input = join(dir, 'coloured-scan.log');
    writeFileSync(input, `${LINES.join('\n')}\n`, 'latin1');
    for (const format of SINK_FORMATS) {
      const out = join(dir, `coloured.${format}`);
      const sink = await openSink(format, out, { nowMs: () => 0 });
      await runScan({
        inputs: [input],
        logFormat: 'auto',
        rules: scanRules(),
        sink,
        maxLineBytes: 4 << 20,
        concurrency: 1,
        warn: () => {},
      });
      await sink.close();
      const text = readFileSync(out, 'utf8');
      assert.ok(text.length > 0, format);
      for (const s of SECRETS) assert.equal(holdsPiece(text, s), null, `${format}: ${text.slice(0, 600)}`);
    }
  });
});
