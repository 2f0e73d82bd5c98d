import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { sanitizeForTerminal } from '../../src/adapters/sinks/sanitize.ts';
import { runCli, skipUnbuilt } from '../e2e/helpers.ts';

/**
 * Text that leaves imdsguard other than as a finding record (the `explain` echo, table cells, error messages, an
 * incident's facts) passes the one masker too, after escape sequences are stripped. Each secret is drawn at random
 * for the run, so no output can hold it by chance; a mask keeps four characters at each end, so the middle is what
 * no output may hold.
 */
const dir = mkdtempSync(join(tmpdir(), 'imdsguard-outside-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** A 40-character secret access key: base64 of random bytes, with the alphabet AWS uses. */
function newSecret(): string {
  return randomBytes(30).toString('base64');
}
function newKeyId(): string {
  const A = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  return `ASIA${[...randomBytes(16)].map((b) => A[b % 32]).join('')}`;
}
const middle = (s: string) => s.slice(4, -4);

function assertNoSecret(text: string, secrets: string[], what: string): void {
  for (const s of secrets) assert.ok(!text.includes(middle(s)), `${what} holds a secret: ${text.slice(0, 400)}`);
}

/** A line of a log whose secret is coloured in the middle, as `grep --color` writes a match. */
function colouredLine(secret: string): string {
  const cut = 15;
  return `aws_secret_access_key=${secret.slice(0, cut)}\u001b[01;31m\u001b[K${secret.slice(cut)}\u001b[m\u001b[K fetch http://169.254.169.254/latest/meta-data/iam/security-credentials/web\n`;
}

describe('the terminal sanitiser masks once escape sequences are gone', () => {
  it('a secret with a colour code inside is masked, and the mask is what is left', () => {
    const secret = newSecret();
    const line = colouredLine(secret).trimEnd();
    // The raw line does not show the secret whole: only stripping makes it so.
    assert.ok(!line.includes(secret));
    const out = sanitizeForTerminal(line);
    assertNoSecret(out, [secret], 'sanitised line');
    assert.match(out, /^aws_secret_access_key=[A-Za-z0-9]{4}\*{4}[A-Za-z0-9]{4} fetch /);
    // Controls are still shown, not passed.
    assert.equal(sanitizeForTerminal('a\u0007b'), 'a\\x07b');
  });
});

describe('explain', { skip: skipUnbuilt }, () => {
  const secret = newSecret();
  const keyId = newKeyId();
  const url = `http://169.254.169.254/latest/meta-data/?SecretAccessKey=${secret}&k=${keyId}`;
  for (const format of ['jsonl', 'table']) {
    it(`masks a pasted URL's key id and secret (${format}, stdout and -o)`, async () => {
      const r = await runCli(['explain', '--format', format, url]);
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, /169\.254\.169\.254/);
      assert.match(r.stdout, /ASIA\*{4}/);
      assertNoSecret(r.stdout + r.stderr, [secret, keyId], `explain ${format}`);
      const file = join(dir, `explain.${format}`);
      const o = await runCli(['explain', '--format', format, '-o', file, url]);
      assert.equal(o.status, 0, o.stderr);
      assertNoSecret(readFileSync(file, 'utf8') + o.stdout + o.stderr, [secret, keyId], `explain ${format} -o`);
    });
  }
  it('masks inputs read from stdin, escape sequences inside included', async () => {
    const r = await runCli(['explain', '--format', 'table'], { input: `${url}\n${colouredLine(secret)}` });
    assert.equal(r.status, 0, r.stderr);
    assertNoSecret(r.stdout + r.stderr, [secret, keyId], 'explain stdin');
  });
});

describe('scan --format table', { skip: skipUnbuilt }, () => {
  it('masks a secret a colour code cut in two', async () => {
    const secret = newSecret();
    const log = join(dir, 'coloured.log');
    writeFileSync(log, colouredLine(secret));
    const r = await runCli(['scan', '--exit-zero', '--log-format', 'text', '--format', 'table', log]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /target: +aws_secret_access_key=.{4}\*{4}/);
    assertNoSecret(r.stdout + r.stderr, [secret], 'table');
  });
});

describe('error messages', { skip: skipUnbuilt }, () => {
  const secret = newSecret();
  const cases: Array<[string, string[]]> = [
    ['scan --format', ['scan', '--format', `SecretAccessKey=${secret}`, 'x.log']],
    ['explain --format', ['explain', '--format', `aws_secret_access_key=${secret}`, 'x']],
    ['findings --since', ['findings', '--since', `SecretAccessKey=${secret}`]],
    ['a missing input', ['scan', '--format', 'jsonl', join(dir, `SecretAccessKey=${secret}`)]],
  ];
  for (const [what, args] of cases)
    it(`mask the argument they echo: ${what}`, async () => {
      const r = await runCli(args);
      assert.equal(r.status, 2, r.stderr);
      // The message still names the value, masked.
      assert.match(r.stderr, /(SecretAccessKey|aws_secret_access_key)=.{4}\*{4}/);
      assertNoSecret(r.stdout + r.stderr, [secret], what);
    });
});

describe('investigate and scan', { skip: skipUnbuilt }, () => {
  // A secret the masker recognises in the raw line (its name next to it, both percent-encoded twice): every decoded
  // form of it (a finding's decoded target, a step's facts, an incident's roles) is masked as well.
  const secret = newSecret();
  const enc = (s: string) => encodeURIComponent(encodeURIComponent(s));
  const log = join(dir, 'ssrf.log');
  writeFileSync(
    log,
    `203.0.113.9 - - [05/Dec/2026:10:00:00 +0000] "GET /fetch?url=http://169.254.169.254/latest/meta-data/iam/security-credentials/web-role${encodeURIComponent(`&env=AWS_SECRET_ACCESS_KEY=`)}${enc(secret)} HTTP/1.1" 200 1320 "-" "curl/8.0"\n`,
  );
  for (const format of ['jsonl', 'table', 'html'])
    it(`investigate --format ${format} masks it in every step (stdout and -o)`, async () => {
      const r = await runCli(['investigate', '--format', format, log]);
      assert.equal(r.status, 1, r.stderr);
      assert.match(r.stdout, /web-role/);
      assertNoSecret(r.stdout + r.stderr, [secret, enc(secret)], `investigate ${format}`);
      const file = join(dir, `r.${format}`);
      const o = await runCli(['investigate', '--format', format, '-o', file, log]);
      assert.equal(o.status, 1, o.stderr);
      assertNoSecret(readFileSync(file, 'utf8') + o.stdout + o.stderr, [secret, enc(secret)], `-o ${format}`);
    });
  for (const format of ['jsonl', 'json', 'table', 'sarif', 'ocsf', 'html'])
    it(`scan --format ${format} masks it in the finding`, async () => {
      const r = await runCli(['scan', '--exit-zero', '--format', format, log]);
      assert.equal(r.status, 0, r.stderr);
      assert.ok(r.stdout.length > 0);
      assertNoSecret(r.stdout + r.stderr, [secret, enc(secret)], `scan ${format}`);
    });
});
