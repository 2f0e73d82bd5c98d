/**
 * Secrets in layouts a review found masked nowhere: a CSV row, an HTML table row over one or two lines, the output
 * of `aws ssm get-parameter` (a `Type` field between the name and the value), an IMDSv2 token header whose value holds
 * `-` or `_`, and a no-break space written as its UTF-8 bytes between a key and its value. Each through the masking
 * engine as a stream, through `redact` on a file, and (the token header) through every sink of `scan`.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { openSink, SINK_FORMATS } from '../../src/adapters/sinks/open-sink.ts';
import { redact } from '../../src/app/redact.ts';
import { runScan } from '../../src/app/scan.ts';
import { scanRules } from '../../src/app/scan-rules.ts';
import { Masker } from '../../src/core/secrets/masker.ts';
import { generatedCredentials, holdsPiece } from '../support/secret-docs.ts';

const dir = mkdtempSync(join(tmpdir(), 'imdsguard-layouts-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function masked(lines: string[]): string[] {
  const m = new Masker();
  return lines.map((l) => m.line(l));
}

/** `bytes` through `redact`, as a file, read back as bytes (latin1: one character a byte). */
async function redacted(name: string, bytes: Buffer): Promise<string> {
  const input = join(dir, name);
  const output = join(dir, `${name}.out`);
  writeFileSync(input, bytes);
  await redact({ inputs: [input], output }, () => {});
  return readFileSync(output, 'latin1');
}

function assertMasked(lines: string[], secrets: string[], what: string): string[] {
  const out = masked(lines);
  for (const s of secrets) assert.equal(holdsPiece(out.join('\n'), s), null, `${what}: ${out.join(' | ')}`);
  // Only the value's line changes.
  assert.equal(out.filter((l, i) => l !== lines[i]).length, secrets.length > 0 ? 1 : 0, `${what}: ${out.join(' | ')}`);
  return out;
}

describe('layouts', () => {
  const c = generatedCredentials(1407);

  test('a CSV row: the secret key after its name and a comma, with a header row above or not', () => {
    assertMasked([`AWS_SECRET_ACCESS_KEY,${c.awsSecret}`], [c.awsSecret], 'row');
    assertMasked(['name,value', `AWS_SECRET_ACCESS_KEY,${c.awsSecret}`], [c.awsSecret], 'name,value');
    assertMasked([`"aws_secret_access_key","${c.awsSecret}"`], [c.awsSecret], 'quoted');
    assertMasked([`access_key_secret, ${c.aliSecret}`], [c.aliSecret], 'alibaba');
    assertMasked(['Access key ID,Secret access key', `${c.awsKeyId},${c.awsSecret}`], [c.awsSecret], 'IAM csv');
  });

  test('a CSV header naming the secret column: every row under it is masked there, through redact too', async () => {
    const rows = Array.from({ length: 400 }, (_, i) => {
      const k = generatedCredentials(5000 + i);
      return [`user${i}`, k.awsSecret, 'us-east-1'];
    });
    const lines = ['user,aws_secret_access_key,region', ...rows.map((r) => r.join(','))];
    const out = masked(lines);
    for (const [i, r] of rows.entries()) assert.equal(holdsPiece(out[i + 1]!, r[1]!), null, out[i + 1]);
    // Quoted names and values, semicolons, a name that says only secret, an Alibaba secret.
    assertMasked(['"User name","Secret access key"', `"alice","${c.awsSecret}"`], [c.awsSecret], 'quoted');
    assertMasked(['user;secret;region', `alice;${c.awsSecret};eu-west-1`], [c.awsSecret], 'secret');
    assertMasked(['id\tAccessKeySecret', `7\t${c.aliSecret}`], [c.aliSecret], 'alibaba');
    // One column: the header is the secret's name alone; the table ends at its first row that is no secret.
    const k2 = generatedCredentials(5999);
    const one = ['aws_secret_access_key', c.awsSecret, k2.awsSecret, '2026-12-05T06:00:00Z INFO done'];
    const oneOut = masked(one);
    for (const v of [c.awsSecret, k2.awsSecret])
      assert.equal(holdsPiece(oneOut.join('\n'), v), null, oneOut.join(' | '));
    assert.equal(oneOut[3], one[3]);
    assertMasked(['Secret access key', c.awsSecret], [c.awsSecret], 'a label above its value');
    // Empty values, words and hex digests in the column are kept, and a line of another shape ends the table.
    assertMasked(
      [
        'user,aws_secret_access_key,region',
        'alice,,us-east-1',
        'bob,not-a-secret-at-all,us',
        'carol,0123456789abcdef0123456789abcdef01234567,us',
        '2026-12-05T06:00:00Z INFO export done',
      ],
      [],
      'kept',
    );
    // Through redact: the rows under the header hold no marker, and the blocks they fill are not passed unread.
    const file = await redacted('table.csv', Buffer.from(`${lines.join('\n')}\n`));
    for (const r of rows) assert.equal(holdsPiece(file, r[1]!), null);
    assert.equal(file.split('\n').length, lines.length + 1);
  });

  test('an HTML table: the name cell, then the value cell on the same line or the next; or the value cell first', () => {
    assertMasked(['<tr>', '  <td>SecretAccessKey</td>', `  <td>${c.awsSecret}</td>`, '</tr>'], [c.awsSecret], 'rows');
    assertMasked(['<tr><th>AccessKeySecret</th>', `<td class="v">${c.aliSecret}</td></tr>`], [c.aliSecret], 'th');
    assertMasked([`<tr><td>${c.awsSecret}</td><td>SecretAccessKey</td></tr>`], [c.awsSecret], 'reversed');
  });

  test("aws ssm get-parameter's output: Name, Type, then Value (JSON and YAML), the name saying secret", () => {
    const json = (name: string, value: string) => [
      '{',
      '    "Parameter": {',
      `        "Name": "${name}",`,
      '        "Type": "SecureString",',
      `        "Value": "${value}",`,
      '        "Version": 3,',
      '        "DataType": "text"',
      '    }',
      '}',
    ];
    assertMasked(json('/prod/app/aws_secret_access_key', c.awsSecret), [c.awsSecret], 'json');
    assertMasked(json('/prod/app/secret', c.awsSecret), [c.awsSecret], 'a name that says secret');
    assertMasked(json('/prod/app/access-key-secret', c.aliSecret), [c.aliSecret], 'alibaba');
    const yaml = [
      'Parameter:',
      '  Name: /prod/app/aws_secret_access_key',
      '  Type: SecureString',
      `  Value: ${c.awsSecret}`,
      '  Version: 3',
    ];
    assertMasked(yaml, [c.awsSecret], 'yaml');
    // A name that says nothing of a secret: its value is left.
    assertMasked(json('/prod/app/greeting', 'HelloWorldThisIsNotASecretAtAllReally01'), [], 'greeting');
  });

  test('a no-break space as UTF-8 bytes (C2 A0) between a key and its value, through redact', async () => {
    const lines = [
      `SecretAccessKey:\u00a0${c.awsSecret}`,
      `"SecretAccessKey":\u00a0"${c.awsSecret}"`,
      `aws_secret_access_key\u00a0=\u00a0${c.awsSecret}`,
      `AccessKeySecret\u00a0:\u00a0${c.aliSecret}`,
      `key=${c.awsKeyId}\u00a0${c.awsSecret}`,
    ];
    const input = Buffer.from(`${lines.join('\n')}\n`, 'utf8');
    const out = await redacted('nbsp.log', input);
    for (const s of [c.awsSecret, c.aliSecret]) assert.equal(holdsPiece(out, s), null, out);
    // Every byte around the masks is kept, the no-break spaces included.
    assert.equal(out.split('\u00c2\u00a0').length, input.toString('latin1').split('\u00c2\u00a0').length);
  });
});

describe('an IMDSv2 token header whose value holds - or _', () => {
  const token = 'AQAEAF3k-xY_9zQ2Lm8Np4Rs6Tu8Vw1-Xy3Za5bC7dE9fG_h1JkLmNoPqRsTu-vW==';
  const secret = token.slice(5);

  test('masked whole in a header line, a JSON header map and a curl command', () => {
    for (const line of [
      `X-aws-ec2-metadata-token: ${token}`,
      `{"headers":{"X-aws-ec2-metadata-token":"${token}","Accept":"*/*"}}`,
      `curl -H "X-aws-ec2-metadata-token: ${token}" http://169.254.169.254/latest/meta-data/`,
    ]) {
      const [out] = masked([line]);
      assert.equal(holdsPiece(out!, secret, 8), null, out);
    }
  });

  test('scan: no sink holds a piece of it (target.raw included)', async () => {
    const p = join(dir, 'imdsv2.log');
    writeFileSync(
      p,
      `198.51.100.7 - - [23/Nov/2026:05:10:31 +0000] "GET /fetch?url=http://169.254.169.254/latest/meta-data/iam/security-credentials/&h=X-aws-ec2-metadata-token:${token} HTTP/1.1" 200 512 "-" "curl/8.5.0"\n`,
    );
    for (const format of SINK_FORMATS) {
      const out = join(dir, `imdsv2.${format}`);
      const sink = await openSink(format, out, { nowMs: () => 0 });
      await runScan({
        inputs: [p],
        logFormat: 'auto',
        rules: scanRules(),
        sink,
        maxLineBytes: 4 << 20,
        concurrency: 1,
        warn: () => {},
      });
      await sink.close();
      const text = readFileSync(out, 'utf8');
      if (format === 'jsonl') assert.ok(text.includes('target'), 'an SSRF finding was written');
      assert.equal(holdsPiece(text, secret, 8), null, `${format}: ${text.slice(0, 400)}`);
    }
  });
});
