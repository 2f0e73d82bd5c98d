/**
 * A secret key's name at the end of a line may have its value on the next one (a key alone, then the value indented
 * or not; a value cut by wrapping). Only a next line shaped like the secret is read as that value: never prose.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { redact } from '../../src/app/redact.ts';
import { Masker } from '../../src/core/secrets/masker.ts';
import { holdsPiece } from '../support/secret-docs.ts';

const SECRET = 'Fk9x/Zk2Lm9Np4Rs6Tu8Vw1Xy3Za5bC7dE9fG+h1';
const ALI_SECRET = 'KE0ZBCySZgct6C17GKJElkMGVOnTiI';
const TOKEN = `IQoJb3JpZ2luX2VjE${'Ab3/Cd5+Ef7Gh9Ij1Kl3Mn5Op7Qr9St1Uv3Wx5Yz7'.repeat(8)}`;

const dir = mkdtempSync(join(tmpdir(), 'imdsguard-next-line-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function masked(lines: string[]): string[] {
  const m = new Masker();
  return lines.map((l) => m.line(l));
}

describe('a key name ending a line', () => {
  it('leaves the next line alone when it is prose', () => {
    for (const lines of [
      ['config key SecretAccessKey:', 'Please rotate it.'],
      ['2026-12-05T10:00:00Z WARN missing AccessKeySecret:', 'Then restart the agent.'],
      ['# set aws_secret_access_key =', 'see the runbook for the value'],
      ['  "Token":', 'Please rotate it.'],
      ['SecretAccessKey: Fk9x/Zk2Lm9Np4Rs6Tu8V', 'Please rotate.'],
      [`2026-11-23T05:10:33Z DEBUG token ${TOKEN}`, 'Please rotate it.'],
    ])
      assert.equal(masked(lines)[1], lines[1], lines.join(' / '));
  });

  it('masks the next line when it is the secret, indented or not, whole or the rest of a cut value', () => {
    for (const lines of [
      ['SecretAccessKey:', `  ${SECRET}`],
      ['SecretAccessKey:', SECRET],
      ['AccessKeySecret:', `    ${ALI_SECRET}`],
      [`SecretAccessKey: ${SECRET.slice(0, 21)}`, `${SECRET.slice(21)}", "Token": "x"`],
    ]) {
      const out = masked(lines).join('\n');
      assert.equal(holdsPiece(out, SECRET), null, out);
      assert.equal(holdsPiece(out, ALI_SECRET), null, out);
    }
  });

  it('redact changes no prose line after a key name (the reviewed file)', async () => {
    const input = join(dir, 'false-mask.log');
    const output = join(dir, 'false-mask.out');
    writeFileSync(input, 'config key SecretAccessKey:\nPlease rotate it.\n');
    await redact({ inputs: [input], output }, () => {});
    assert.equal(readFileSync(output, 'utf8'), 'config key SecretAccessKey:\nPlease rotate it.\n');
  });
});
