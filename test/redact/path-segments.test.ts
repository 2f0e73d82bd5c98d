/**
 * A credential used as a path segment (a directory or file name): the path separator after it is no part of it,
 * though an AWS secret key's own alphabet holds `/`, and a lowercase letter after a key id is no part of the id.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { detectLine, newDetectState } from '../../src/core/secrets/detect.ts';
import { cli } from './helpers.ts';

const SK = 'Fk9xQZk2Lm9Np4Rs6Tu8Vw1Xy3Za5bC7dE9fG+h1';
const SK_SLASH = 'Fk9x/Zk2Lm9Np4Rs6Tu8Vw1Xy3Za5bC7dE9fG+h1';
const ID = 'AKIAQ3EGU7LR2WNPQX7Z';

async function redacted(input: string): Promise<string> {
  const r = await cli(['redact'], { input });
  assert.equal(r.status, 0, r.stderr.toString());
  return r.stdout.toString();
}

describe('a credential as a path segment', () => {
  it('masks a secret key named in a directory, a `/` after it', async () => {
    const lines = [
      `/d/aws_secret_access_key=${SK}/a.log`,
      `/d/aws_secret_access_key=${SK_SLASH}/a.log`,
      `/d/aws_secret_access_key=${SK}.txt`,
      `GET /x?p=%2Fd%2Fsecret_key%3D${SK}%2Fa.log HTTP/1.1`,
    ];
    const out = (await redacted(`${lines.join('\n')}\n`)).split('\n');
    for (const [i, line] of lines.entries()) {
      assert.ok(!out[i]!.includes(SK.slice(8, 30)), `secret left in: ${out[i]}`);
      assert.ok(!out[i]!.includes(SK_SLASH.slice(8, 30)), `secret left in: ${out[i]}`);
      // Only the key is masked: the path around it is kept.
      assert.ok(out[i]!.startsWith(line.slice(0, line.indexOf('=') + 1)) || line.startsWith('GET'), out[i]);
      assert.ok(/a\.log|\.txt/.test(out[i]!), out[i]);
    }
  });

  it('masks a key id followed by a lowercase letter when bounded on the left', async () => {
    const line = `/tmp/a/ok/key-${ID}x.log`;
    const out = await redacted(`${line}\n`);
    assert.ok(!out.includes(ID.slice(4)), out);
    assert.ok(out.startsWith('/tmp/a/ok/key-') && out.trimEnd().endsWith('x.log'), out);
  });

  it('leaves a word in capitals glued to a lowercase tail, and an id inside a longer word', () => {
    for (const line of ['region=ASIAPACIFICREGIONSettings', `x${ID}x.log`, `${ID}Q7.log`]) {
      assert.deepEqual(detectLine(line, newDetectState()), [], line);
    }
  });

  it('leaves a longer run under a secret name that no `/` ends', () => {
    assert.deepEqual(detectLine(`secret_key=${SK}Q7abc`, newDetectState()), []);
  });

  it('leaves a real access log byte-identical', async () => {
    const input = readFileSync('/work/shared/corpora/real-logs/apache_logs');
    const r = await cli(['redact'], { input });
    assert.equal(r.status, 0);
    assert.ok(r.stdout.equals(input));
  });
});
