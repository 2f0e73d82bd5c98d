/**
 * Values cut by a hard wrap narrower than 64 columns (a terminal, `fold -w`, a logger's fixed width) or by
 * quoted-printable soft line breaks at any alignment: no 12-character piece of a secret is left, as written or with
 * the lines joined again. Ordinary text wrapped the same way is left as it was.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { redact } from '../../src/app/redact.ts';
import { mayHoldSecret } from '../../src/core/secrets/detect.ts';
import { Masker } from '../../src/core/secrets/masker.ts';
import { CORPORA, corporaSkip } from '../corpora/shared.ts';
import { type GeneratedCredentials, generatedCredentials, holdsPiece } from '../support/secret-docs.ts';

const dir = mkdtempSync(join(tmpdir(), 'imdsguard-hard-wrap-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** A real web-server log (test/corpora/shared.ts): ordinary text that must come out of every wrap unchanged. */
const skip = corporaSkip('real-logs');
const REAL = skip
  ? []
  : readFileSync(join(CORPORA, 'real-logs', 'apache_logs'), 'latin1')
      .trimEnd()
      .split('\n');

/** `text` cut every `w` characters, as `fold -w` does. */
const fold = (text: string, w: number) => text.match(new RegExp(`.{1,${w}}`, 'g')) ?? [''];

/** Quoted-printable (RFC 2045): `=` and bytes outside printable ASCII as `=XX`, lines of at most 76 with a soft break. */
function quotedPrintable(text: string): string[] {
  const lines: string[] = [];
  let cur = '';
  for (const b of Buffer.from(text, 'utf8')) {
    const t =
      b === 61 || b > 126 || b < 32 ? `=${b.toString(16).toUpperCase().padStart(2, '0')}` : String.fromCharCode(b);
    if (cur.length + t.length > 75) {
      lines.push(`${cur}=`);
      cur = '';
    }
    cur += t;
  }
  return [...lines, cur];
}

const spaced = (o: object) => JSON.stringify(o).replace(/":"/g, '": "').replace(/","/g, '", "');

/** Credential documents as applications log them, with the values that must not survive. */
function documents(c: GeneratedCredentials): Array<[string, string, string[]]> {
  return [
    [
      'EC2 credentials document',
      JSON.stringify({
        Code: 'Success',
        LastUpdated: '2026-12-05T06:00:00Z',
        Type: 'AWS-HMAC',
        AccessKeyId: c.awsKeyId,
        SecretAccessKey: c.awsSecret,
        Token: c.awsToken,
        Expiration: '2026-12-05T12:00:00Z',
      }),
      [c.awsKeyId, c.awsSecret, c.awsToken.slice(16)],
    ],
    [
      'key id and secret key',
      JSON.stringify({ AccessKeyId: c.awsKeyId, SecretAccessKey: c.awsSecret }),
      [c.awsKeyId, c.awsSecret],
    ],
    ['a session token exported', `export AWS_SESSION_TOKEN=${c.awsToken}`, [c.awsToken.slice(16)]],
    [
      'a key id and its secret key in a log line',
      `2026-12-05T06:00:00Z DEBUG creds key=${c.awsKeyId} secret=${c.awsSecret} region=us-east-1`,
      [c.awsKeyId, c.awsSecret],
    ],
    ['a Google token in a header', `Authorization: Bearer ${c.gcpToken}`, [c.gcpToken.slice(5)]],
    [
      'an IMDSv2 token in a header',
      `X-aws-ec2-metadata-token: AQAEA${c.awsSecret.replace(/[+/]/g, '_')}Zq9==`,
      [c.awsSecret.replace(/[+/]/g, '_')],
    ],
    [
      'Google token response',
      spaced({ access_token: c.gcpToken, expires_in: 3599, token_type: 'Bearer' }),
      [c.gcpToken.slice(5)],
    ],
    [
      'Alibaba STS credentials',
      spaced({
        AccessKeyId: c.aliKeyId,
        AccessKeySecret: c.aliSecret,
        Expiration: '2026-12-05T12:00:00Z',
        SecurityToken: c.aliToken,
        Code: 'Success',
      }),
      [c.aliKeyId, c.aliSecret, c.aliToken.slice(4)],
    ],
  ];
}

/** The first piece of a secret left in `out`, as written or with the lines joined (a mail's soft breaks undone). */
function left(out: string[], secrets: string[]): string | null {
  const joined = out.map((l) => l.replace(/=$/, '')).join('');
  for (const s of secrets) {
    const p = holdsPiece(out.join('\n'), s) ?? holdsPiece(joined, s);
    if (p) return p;
  }
  return null;
}

function masked(lines: string[]): string[] {
  const m = new Masker();
  return lines.map((l) => m.line(l));
}

describe('hard wraps from 16 to 63 columns', () => {
  test('every document of every provider, at every width: no piece survives', () => {
    for (const seed of [1, 2])
      for (const [name, doc, secrets] of documents(generatedCredentials(3100 + seed)))
        for (let w = 16; w <= 63; w++) {
          const lines = fold(doc, w);
          const out = masked(lines);
          assert.equal(out.length, lines.length);
          assert.equal(left(out, secrets), null, `${name} at ${w}: ${out.join('\n')}`);
        }
  });

  test("the AWS CLI's text output from 30 columns: the secret key on the line after its key id's is joined", () => {
    const c = generatedCredentials(3150);
    const line = `CREDENTIALS\t${c.awsKeyId}\t2026-12-05T12:00:00+00:00\t${c.awsSecret}\t${c.awsToken}`;
    for (let w = 30; w <= 63; w++) {
      const out = masked(fold(line, w));
      assert.equal(left(out, [c.awsKeyId, c.awsSecret, c.awsToken.slice(16)]), null, `at ${w}: ${out.join('\n')}`);
    }
  });

  test("what follows a key id at a line's end is masked only when it looks like a piece of a secret key", () => {
    const c = generatedCredentials(3160);
    for (const [first, kept] of [
      [`{"AccessKeyId":"${c.awsKeyId}","SecretAccessKey`, '"SecretAccessKey'],
      [`{"AccessKeyId":"${c.awsKeyId}","SecretAccessK`, '"SecretAccessK'],
      [`key=${c.awsKeyId} bucket=mybucketname`, 'bucket=mybucketname'],
      [`{"token":"y`, '"y'],
    ] as const) {
      const out = masked([first, `":"${c.awsSecret}"}`]);
      assert.ok(out[0]!.endsWith(kept), out[0]);
    }
  });

  test('through redact, wrapped where no line holds a marker, between real log lines left as they were', {
    skip,
  }, async () => {
    const c = generatedCredentials(3200);
    const [, doc, secrets] = documents(c)[1]!;
    const lines: string[] = [];
    let planted = 0;
    for (let w = 16; w <= 63; w++)
      for (let pad = 0; pad < w; pad++) {
        const wrapped = fold(`${'-'.repeat(pad)}${doc}`, w);
        // Only wraps that cut every marker the quick test looks for: each line alone shows none.
        if (wrapped.some((l) => mayHoldSecret(l))) continue;
        lines.push(...REAL.slice(planted * 80, planted * 80 + 80), ...wrapped);
        planted++;
        break;
      }
    assert.ok(planted >= 5, `${planted} widths cut every marker`);
    const input = join(dir, 'wrapped.log');
    writeFileSync(input, `${lines.join('\n')}\n`, 'latin1');
    await redact({ inputs: [input], output: `${input}.out` }, () => {});
    const out = readFileSync(`${input}.out`, 'latin1').trimEnd().split('\n');
    assert.equal(out.length, lines.length);
    assert.equal(left(out, secrets), null);
    for (const [i, l] of lines.entries()) if (l.includes('HTTP/1.')) assert.equal(out[i], l);
  });

  test('the real log wrapped at every width from 16 to 80 is left as it was', { skip }, () => {
    for (let w = 16; w <= 80; w++) {
      const lines = REAL.slice(0, 4000).flatMap((l) => fold(l, w));
      const out = masked(lines);
      const changed = out.filter((l, i) => l !== lines[i]);
      assert.deepEqual(changed, [], `at ${w} columns`);
    }
  });
});

test("redact changes none of the real log's lines", { skip }, async () => {
  const output = join(dir, 'real.out');
  await redact({ inputs: [join(CORPORA, 'real-logs', 'apache_logs')], output }, () => {});
  const out = readFileSync(output, 'latin1').trimEnd().split('\n');
  assert.deepEqual(
    out.filter((l, i) => l !== REAL[i]),
    [],
  );
});

describe('quoted-printable soft line breaks', () => {
  test('every document at all 76 alignments: no piece survives', () => {
    for (const seed of [1, 2])
      for (const [name, doc, secrets] of documents(generatedCredentials(3300 + seed)))
        for (let pad = 0; pad < 76; pad++) {
          const lines = quotedPrintable(`${'x'.repeat(pad)} ${doc}`);
          const out = masked(lines);
          assert.equal(left(out, secrets), null, `${name}, ${pad} before it: ${out.join('\n')}`);
        }
  });

  test('a secret key name then = at the line end, its value on the next; a key id cut after its prefix', () => {
    const c = generatedCredentials(3400);
    const pad = (s: string) => s.padStart(75, 'x');
    for (const lines of [
      [pad(`{"Type": "AWS-HMAC", "SecretAccessKey": =`), `"${c.awsSecret}"}`],
      [pad('{"AccessKeyId": "ASIA='), `${c.awsKeyId.slice(4)}", "SecretAccessKey": "${c.awsSecret}"}`],
      [pad(`{"SecretAccessKey"=`), `: "${c.awsSecret}"}`],
    ]) {
      const out = masked(lines);
      assert.equal(left(out, [c.awsKeyId, c.awsSecret]), null, out.join('\n'));
    }
  });
});
