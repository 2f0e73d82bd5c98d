/**
 * Leak findings for secrets that only the masking engine sees whole: a YAML block scalar's value on the lines under
 * its key, a value or a key's name cut by a quoted-printable soft line break, and a value JSON-escaped inside a
 * logged JSON string (every character as `\uXXXX`, or escaped twice by a container runtime's log wrapper). Each is
 * a finding of its own kind, with the value masked and hashed, and no piece of it in any finding.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { openSink, SINK_FORMATS } from '../../src/adapters/sinks/open-sink.ts';
import { secretHash } from '../../src/core/secrets/mask.ts';
import { holdsPiece } from '../support/secret-docs.ts';
import { scanFiles } from './helpers.ts';

const dir = mkdtempSync(join(tmpdir(), 'imdsguard-leaks-split-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const KEY_ID = 'ASIAAXZZHM3GZU2CKEF7';
const SECRET = 'MwYbtNNPI//4hZG/+L1DXzGG7ZgRuPqsG4aWNBdL';
const ALI_SECRET = 'DFEjf9GoTbZhSYl2Thy1hw2BDDpekd';
const TOKEN = `IQoJb3JpZ2luX2VjcD0nO9lN/Q5Nap46DUNJ9ngnkM39t4J76B6kBb/8Ni9l${'It/UO+5/JlEzSxF24yxhnBXr2LitmY38pbiBvKCcpvLU/3RaycBHpC0zK4Ca'.repeat(3)}`;
const SALT = 'imdsguard-secret-hash-v1';
const every = (s: string) => [...s].map((c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`).join('');

interface Case {
  lines: string[];
  /** Line number → the secrets (kind and value) its finding must list. */
  expect: Record<number, Array<[string, string]>>;
}

const CASES: Record<string, Case> = {
  // A service printing the configuration it loaded, as `kubectl logs` shows it.
  'yaml block scalars in a config dump': {
    lines: [
      '2026-12-05T10:00:01.123Z INFO loaded /etc/app/credentials.yaml:',
      'aws:',
      '  region: eu-west-1',
      `  AccessKeyId: ${KEY_ID}`,
      '  SecretAccessKey: >-',
      `    ${SECRET.slice(0, 17)}`,
      `    ${SECRET.slice(17)}`,
      '  SessionToken: |',
      `    ${TOKEN}`,
      'alibaba:',
      '  AccessKeySecret: |',
      `    ${ALI_SECRET}`,
      '2026-12-05T10:00:01.125Z INFO listening on :8080',
    ],
    expect: {
      4: [['aws-access-key-id', KEY_ID]],
      6: [['aws-secret-access-key', SECRET]],
      9: [['aws-session-token', TOKEN]],
      12: [['alibaba-access-key-secret', ALI_SECRET]],
    },
  },
  // A mail archived by an MTA with its body quoted-printable: `=` ends a line that goes on (76 columns).
  'quoted-printable soft line breaks in a mailed credentials document': {
    lines: [
      'From ops@example.com Sat Dec  5 10:00:02 2026',
      'Subject: instance credentials',
      'Content-Type: application/json; charset="utf-8"',
      'Content-Transfer-Encoding: quoted-printable',
      '',
      '{"Code": "Success", "LastUpdated": "2026-12-05T10:00:00Z", "Type": "AWS-HMA=',
      `C", "AccessKeyId": "${KEY_ID}", "SecretAccessKey": "${SECRET.slice(0, 12)}=`,
      `${SECRET.slice(12)}", "Expiration": "2026-12-05T16:00:00Z"}`,
      '',
      `{"Code": "Success", "AccessKeyId": "ASIAQ3EGU7LR2WNPQX7Z", "SecretAcc=`,
      `essKey": "${SECRET.split('').reverse().join('')}", "Expiration": "2026-12-05T16:00:00Z"}`,
    ],
    expect: {
      7: [
        ['aws-access-key-id', KEY_ID],
        ['aws-secret-access-key', SECRET],
      ],
      10: [['aws-access-key-id', 'ASIAQ3EGU7LR2WNPQX7Z']],
      11: [['aws-secret-access-key', SECRET.split('').reverse().join('')]],
    },
  },
  // An application's JSON log line quoting a document it received, every character escaped (a serialiser that
  // escapes everything outside [A-Za-z0-9]), and a Docker json-file record wrapping a pino line (escaped twice).
  'JSON-escaped values in JSON log lines': {
    lines: [
      `{"level":30,"time":1764928800000,"msg":"metadata response","body":"{\\"SecretAccessKey\\":\\"${every(SECRET)}\\"}"}`,
      `{"log":"{\\"level\\":30,\\"msg\\":\\"creds\\",\\"body\\":\\"{\\\\\\"AccessKeySecret\\\\\\":\\\\\\"${ALI_SECRET}\\\\\\"}\\"}\\n","stream":"stdout","time":"2026-12-05T10:00:03.000000001Z"}`,
    ],
    expect: {
      1: [['aws-secret-access-key', SECRET]],
      2: [['alibaba-access-key-secret', ALI_SECRET]],
    },
  },
};

describe('scan: leak findings for values split over lines or escaped', () => {
  for (const [name, c] of Object.entries(CASES))
    it(`${name}: a finding per line, each secret masked and hashed, none of it in any finding`, async () => {
      const file = join(dir, `${name.replace(/\W+/g, '-')}.log`);
      writeFileSync(file, `${c.lines.join('\n')}\n`);
      const r = await scanFiles([file]);
      const leaks = r.findings.filter((f) => f.rule.id.startsWith('credential-exposure'));
      const got = Object.fromEntries(
        leaks.map((f) => [
          f.origin.line,
          ((f.evidence?.secrets ?? []) as Array<{ kind: string; masked: string; hash: string }>).map((s) => [
            s.kind,
            s.masked,
            s.hash,
          ]),
        ]),
      );
      const want = Object.fromEntries(
        Object.entries(c.expect).map(([line, secrets]) => [
          line,
          secrets.map(([kind, v]) => [kind, `${v.slice(0, 4)}****${v.slice(-4)}`, secretHash(v, SALT)]),
        ]),
      );
      assert.deepEqual(got, want);
      const all = JSON.stringify(r.findings);
      for (const v of [SECRET, ALI_SECRET, TOKEN, SECRET.split('').reverse().join('')])
        assert.equal(holdsPiece(all, v), null);
    });
});

describe('scan: no 8-character piece of a secret in any sink, the leak cause quoting a coloured table cell', () => {
  it('an SSRF whose request holds an ANSI-coloured CLI table cell, then the leak: every format is clean', async () => {
    const E = '\u001b';
    const cell = `${E}[1;32m| SecretAccessKey ${E}[0m| ${E}[33m${SECRET.slice(0, 10)}${E}[0m${SECRET.slice(10, 30)}${E}[31m${SECRET.slice(30)}${E}[0m |`;
    const file = join(dir, 'ansi-table.log');
    writeFileSync(
      file,
      [
        `192.0.2.7 - - [21/Nov/2026:09:14:04 +0000] "GET /fetch?url=http://169.254.169.254/latest/meta-data/iam/security-credentials/web&t=${encodeURIComponent(cell)} HTTP/1.1" 200 512 "-" "curl/8"`,
        `192.0.2.7 - - [21/Nov/2026:09:14:05 +0000] "GET /debug?SecretAccessKey=${encodeURIComponent(SECRET)} HTTP/1.1" 200 10 "-" "curl/8"`,
        '',
      ].join('\n'),
    );
    const pieces: string[] = [];
    for (let i = 4; i + 8 <= SECRET.length - 4; i++) pieces.push(SECRET.slice(i, i + 8));
    const r = await scanFiles([file]);
    const leak = r.findings.find((f) => f.rule.id === 'credential-exposure-aws');
    assert.ok(leak?.related?.[0]?.note?.includes('most likely cause'), 'the leak names its SSRF');
    // The check catches the secret: the input, its escapes undone, fails it.
    const input = decodeURIComponent(readFileSync(file, 'utf8'))
      .replaceAll(E, '')
      .replace(/\[[0-9;]*m/g, '');
    assert.ok(pieces.every((p) => input.includes(p)));
    for (const format of SINK_FORMATS) {
      const out = join(dir, `ansi-table.${format}`);
      const sink = await openSink(format, out, { nowMs: () => 0 });
      for (const f of r.findings) await sink.write(f);
      await sink.close();
      const text = readFileSync(out, 'utf8');
      // As written, and with the percent and JSON escapes a reader would undo.
      const views = [text, text.replace(/\\\//g, '/'), decodeURIComponent(text.replace(/%(?![0-9A-Fa-f]{2})/g, '%25'))];
      for (const v of views)
        for (const p of pieces) assert.ok(!v.includes(p), `${format} holds ${p.slice(0, 3)}… of the secret`);
    }
  });
});
