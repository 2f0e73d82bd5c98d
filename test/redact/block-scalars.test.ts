/**
 * A secret split over lines by the format that holds it: a YAML block scalar (`SecretAccessKey: |`, `Token: >-`, the
 * value on the indented lines under its key, folded over several), and a quoted-printable soft line break (`=` at the
 * end of a mail's line). `redact` and the record masker mask every piece; the lines and every other byte are kept.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { redact } from '../../src/app/redact.ts';
import { Masker } from '../../src/core/secrets/masker.ts';
import { holdsPiece } from '../support/secret-docs.ts';

const dir = mkdtempSync(join(tmpdir(), 'imdsguard-block-scalars-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const SECRET = 'MwYbtNNPI//4hZG/+L1DXzGG7ZgRuPqsG4aWNBdL';
const ALI_SECRET = 'DFEjf9GoTbZhSYl2Thy1hw2BDDpekd';
const TOKEN = `IQoJb3JpZ2luX2VjcD0nO9lN/Q5Nap46DUNJ9ngnkM39t4J76B6kBb/8Ni9l${'It/UO+5/JlEzSxF24yxhnBXr2LitmY38pbiBvKCcpvLU/3RaycBHpC0zK4Ca'.repeat(5)}`;
const ALI_TOKEN = `CAIS+zdmQNvNXRZofYgIIDY5nKWv9Dq7z8rwczZJNwBObd4xojWknugh7eGH8GBsIENNpGGrjOPNddtFzMR50ujZRi7ld/q/qv1vgKjQwYgElqJd`;
const SECRETS = [SECRET, ALI_SECRET, TOKEN.slice(16), ALI_TOKEN.slice(4)];

const chunks = (s: string, n: number) => s.match(new RegExp(`.{1,${n}}`, 'g'))!;

const CASES: Record<string, string[]> = {
  literal: ['SecretAccessKey: |', `  ${SECRET}`],
  folded: [
    'AccessKeyId: ASIAAXZZHM3GZU2CKEF7',
    'SecretAccessKey: >-',
    `  ${SECRET.slice(0, 17)}`,
    `  ${SECRET.slice(17)}`,
    'SessionToken: >-',
    ...chunks(TOKEN, 60).map((c) => `  ${c}`),
    'Expiration: 2026-12-05T16:00:00Z',
  ],
  alibaba: [
    'alibaba:',
    '  AccessKeyId: STS.dpRaBoN37wH1j9TqTo6jPASkT',
    '  AccessKeySecret: >-',
    `    ${ALI_SECRET}`,
    '  SecurityToken: |',
    `    ${ALI_TOKEN}`,
    '  Expiration: "2026-12-05T16:00:00Z"',
  ],
  'list-with-blank-line': ['creds:', '  - "aws_secret_access_key": |+', '', `      ${SECRET}`, '', '  - next: 1'],
  'quoted-printable': [
    '{"Code": "Success", "LastUpdated": "2026-12-05T10:00:00Z", "Type": "AWS-HMA=',
    `C", "AccessKeyId": "ASIAAXZZHM3GZU2CKEF7", "SecretAccessKey": "${SECRET.slice(0, 12)}=`,
    `${SECRET.slice(12)}", "Token": "${TOKEN.slice(0, 25)}=`,
    ...chunks(TOKEN.slice(25), 75).map((c, i, a) => (i < a.length - 1 ? `${c}=` : `${c}", "Expiratio=`)),
    'n": "2026-12-05T16:00:00Z"}',
  ],
  // The soft line break parts the key's name: the value on the next line is known by the name joined.
  'quoted-printable-key-name': [
    '{"Code": "Success", "Type": "AWS-HMAC", "SecretAcc=',
    `essKey": "${SECRET}", "Expiration": "2026-12-05T16:00:00Z"}`,
  ],
};

async function redacted(name: string, lines: string[]): Promise<string> {
  const input = join(dir, `${name}.log`);
  const output = join(dir, `${name}.out`);
  writeFileSync(input, `${lines.join('\n')}\n`);
  await redact({ inputs: [input], output }, () => {});
  return readFileSync(output, 'utf8');
}

describe('a secret split over lines by its format', () => {
  for (const [name, lines] of Object.entries(CASES))
    it(`${name}: every piece is masked by redact and in a record's field`, async () => {
      const out = await redacted(name, lines);
      const joined = out.replace(/=\n/g, '');
      for (const s of SECRETS) {
        assert.equal(holdsPiece(out, s), null, out);
        assert.equal(holdsPiece(joined, s), null, joined);
        // A record's field is masked line by line like a stream's block scalar; joining lines a mail's soft breaks
        // cut is for streams only (a field is one value, not wrapped text).
        if (!name.startsWith('quoted-printable'))
          assert.equal(holdsPiece(new Masker().maskString(lines.join('\n')), s), null, 'record field');
      }
      const kept = out.split('\n');
      assert.equal(kept.length, lines.length + 1);
      // Keys, indents and blank lines are kept.
      lines.forEach((l, i) => {
        const key = /^\s*(?:- )?"?[A-Za-z_]+"?:/.exec(l);
        if (key) assert.ok(kept[i]!.startsWith(key[0]), kept[i]);
        assert.equal(/^\s*/.exec(kept[i]!)![0], /^\s*/.exec(l)![0]);
      });
    });

  it('a block scalar of a key that names no secret, or holding prose, is kept', async () => {
    const lines = [
      'description: |',
      '  MwYbtNNPI4hZGL1DXzGG7ZgRuPqsG4aWNBdLx9Qa',
      'SecretAccessKey: |',
      '  stored in the vault under prod/web',
      'notes: >-',
      '  Please rotate it.',
    ];
    assert.equal(await redacted('benign', lines), `${lines.join('\n')}\n`);
  });
});
