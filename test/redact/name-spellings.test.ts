/**
 * A credential's name written the ways an application or a document may write it: an IMDSv2 token header as a CGI or
 * JSON key (`X_AWS_EC2_METADATA_TOKEN`), an invisible character between the name and its separator, HTML's legacy
 * named references without `;` (`&quot`) around a key or value.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { cli } from './helpers.ts';

const SK = 'q7Rk2+fLmN9pXz4TbW8vYc1HdJ6sGa3Ue5Ko0/Qf';
const ID = 'ASIAQ2W3E4R5T6Y7U2J7';
const TOKEN = 'Qm9vU3RyYXBUb2tlbkZha2VGYWtlRmFrZUZha2VGYWtlRmFrZTEyMw==';

async function redacted(lines: string[]): Promise<string[]> {
  const r = await cli(['redact', '-q'], { input: `${lines.join('\n')}\n` });
  assert.equal(r.status, 0, r.stderr.toString());
  return r.stdout.toString().split('\n');
}

/** No 8-character piece of `secret` is left in `out`. */
function clean(out: string, secret: string): boolean {
  for (let i = 0; i + 8 <= secret.length; i++) if (out.includes(secret.slice(i, i + 8))) return false;
  return true;
}

describe('credential names in other spellings', () => {
  it('masks an IMDSv2 token under an underscore header name, and leaves its TTL header alone', async () => {
    const out = await redacted([
      `{"headers":{"X_AWS_EC2_METADATA_TOKEN":"${TOKEN}"}}`,
      `HTTP_X_AWS_EC2_METADATA_TOKEN=${TOKEN}`,
      'x_aws_ec2_metadata_token_ttl_seconds: 21600',
    ]);
    assert.ok(clean(out[0]!, TOKEN.replace(/=+$/, '')), out[0]);
    assert.ok(clean(out[1]!, TOKEN.replace(/=+$/, '')), out[1]);
    assert.equal(out[2], 'x_aws_ec2_metadata_token_ttl_seconds: 21600');
  });

  it('masks a secret whose name is followed by an invisible character before its separator', async () => {
    const lines = ['\u200b', '\u200d', '\u2060', '\u00ad', '\ufeff'].map((z) => `aws_secret_access_key${z}=${SK}`);
    for (const [i, o] of (await redacted(lines)).slice(0, lines.length).entries())
      assert.ok(clean(o, SK), `${i}: ${o}`);
  });

  it('masks credentials between legacy named references without `;`, and leaves parameters named lt or gt', async () => {
    const out = await redacted([
      `x=&quot${ID}&quot`,
      `{&quotSecretAccessKey&quot: &quot${SK}&quot}`,
      '/a?x=1&lt=2&gt=3&amp=4',
    ]);
    assert.ok(clean(out[0]!, ID), out[0]);
    assert.ok(clean(out[1]!, SK), out[1]);
    assert.equal(out[2], '/a?x=1&lt=2&gt=3&amp=4');
  });

  it('masks a secret a few table cells after its key id (HTML row, CLI table with an expiry column)', async () => {
    const out = await redacted([
      `<tr><td>${ID}</td><td>${SK}</td></tr>`,
      `|  ${ID}  |  2026-12-06T09:00:00+00:00  |  ${SK}  |`,
    ]);
    assert.ok(clean(out[0]!, SK), out[0]);
    assert.ok(clean(out[1]!, SK), out[1]);
  });

  it("masks an SSM parameter's value after its type in the CLI's text output", async () => {
    const out = await redacted([
      `/prod/AWS_SECRET_ACCESS_KEY\tSecureString\t${SK}`,
      `PARAMETERS\tarn:aws:ssm:us-east-1:1:parameter/p/aws_secret_access_key\t/p/aws_secret_access_key\tSecureString\t${SK}\t3`,
      '/prod/AWS_REGION\tString\tus-east-1',
    ]);
    assert.ok(clean(out[0]!, SK), out[0]);
    assert.ok(clean(out[1]!, SK), out[1]);
    assert.equal(out[2], '/prod/AWS_REGION\tString\tus-east-1');
  });
});
