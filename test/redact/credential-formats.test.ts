/**
 * Credential formats found in real logs, each a line as its writer prints it (SDK reprs, CLI output, XML, CSV,
 * access logs), with generated credentials: after masking no 12-character piece of a secret is left. And the
 * look-alikes next to them (digests, commit ids, other applications' secrets) are left as they were.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Masker } from '../../src/core/secrets/masker.ts';
import { type GeneratedCredentials, generatedCredentials, holdsPiece } from '../support/secret-docs.ts';

/** Masks `lines` as one stream. */
function masked(lines: string[]): string {
  const m = new Masker();
  return lines.map((l) => m.line(l)).join('\n');
}

/**
 * The ways a reader gets a secret back from masked output: as written, with the lines joined (a wrapped value),
 * percent- and \\u-escapes undone, and each line's base64 decoded at every alignment.
 */
function readings(out: string): string[] {
  const joined = out.replace(/\r?\n[ \t>]*/g, '');
  const unescaped = (s: string) =>
    decodeURIComponent(
      s
        .replace(/\\u([0-9a-fA-F]{4})/g, (_m, h: string) => String.fromCharCode(Number.parseInt(h, 16)))
        .replace(/%(?![0-9A-Fa-f]{2})/g, '%25'),
    );
  const base64 = out.split('\n').flatMap((l) => {
    const run = l.replace(/^[ \t>]+/, '');
    return [0, 1, 2, 3].map((k) => Buffer.from(run.slice(k), 'base64').toString('latin1'));
  });
  return [out, joined, unescaped(out), unescaped(joined), ...base64];
}

function assertNoPiece(out: string, secrets: string[], what: string): void {
  const texts = readings(out);
  for (const s of secrets)
    for (const t of texts) {
      const left = holdsPiece(t, s);
      assert.equal(left, null, `${what}: ${left} survives in ${out}`);
    }
}

type Case = [
  name: string,
  lines: (c: GeneratedCredentials) => string[],
  secrets: (c: GeneratedCredentials) => string[],
];

function run(cases: Case[], seed: number): void {
  for (const [i, [name, lines, secrets]] of cases.entries())
    test(name, () => {
      // Several credentials per case: a secret's characters decide which escapes and alphabets a line shows.
      for (let k = 0; k < 8; k++) {
        const c = generatedCredentials(seed + i * 100 + k);
        assertNoPiece(masked(lines(c)), secrets(c), name);
      }
    });
}

const secret = (c: GeneratedCredentials) => [c.awsSecret];
const all = (c: GeneratedCredentials) => [c.awsKeyId, c.awsSecret, c.awsToken.slice(16)];

describe('an AWS secret key named by its key id next to it, in any order and with any key names', () => {
  run(
    [
      [
        'boto3 ReadOnlyCredentials repr',
        (c) => [`ReadOnlyCredentials(access_key='${c.awsKeyId}', secret_key='${c.awsSecret}', token='${c.awsToken}')`],
        all,
      ],
      [
        'Python dict with access_key and secret_key',
        (c) => [`creds={'access_key': '${c.awsKeyId}', 'secret_key': '${c.awsSecret}'}`],
        all,
      ],
      ['key= then secret=', (c) => [`2026-12-05T06:00:00Z WARN key=${c.awsKeyId} secret=${c.awsSecret}`], all],
      ['id= then ;secret=', (c) => [`id=${c.awsKeyId};secret=${c.awsSecret}`], all],
      ['AccessKey= then ; Secret=', (c) => [`AccessKey=${c.awsKeyId}; Secret=${c.awsSecret}`], all],
      ['key id & secret', (c) => [`cred=${c.awsKeyId}&${c.awsSecret}`], all],
      [
        'Java BasicSessionCredentials toString',
        (c) => [
          `BasicSessionCredentials{awsAccessKey='${c.awsKeyId}', awsSecretKey='${c.awsSecret}', sessionToken='${c.awsToken}'}`,
        ],
        all,
      ],
      [
        'AWS CLI text output (the expiry between key id and secret)',
        (c) => [`CREDENTIALS\t${c.awsKeyId}\t2026-12-05T11:00:00+00:00\t${c.awsSecret}\t${c.awsToken}`],
        all,
      ],
      [
        'an access-log SSRF line with the secret percent-encoded before the key id',
        (c) => [
          `203.0.113.7 - - [05/Dec/2026:06:00:00 +0000] "GET /f?url=http://169.254.169.254/latest/meta-data/iam/security-credentials/web&s=${encodeURIComponent(c.awsSecret)}&k=${c.awsKeyId} HTTP/1.1" 200 512 "-" "curl/8"`,
        ],
        all,
      ],
      ['secret before the key id, comma-separated', (c) => [`${c.awsSecret}, ${c.awsKeyId}`], all],
      [
        'Alibaba secret after its STS key id, under a name of its own (Python kwargs)',
        (c) => [`client = AcsClient(ak='${c.aliKeyId}', secret='${c.aliSecret}', sts_token='${c.aliToken}')`],
        (c) => [c.aliKeyId, c.aliSecret, c.aliToken.slice(4)],
      ],
    ],
    1400,
  );
});

describe('an AWS secret key named by its key name, in every spelling and separator', () => {
  run(
    [
      ['secret_key=', (c) => [`secret_key=${c.awsSecret}`], secret],
      ['AWS_SECRET_KEY=', (c) => [`AWS_SECRET_KEY=${c.awsSecret}`], secret],
      ['Java secretKey=', (c) => [`credentials: {accessKey=null, secretKey=${c.awsSecret}}`], secret],
      ['Java awsSecretKey=', (c) => [`awsSecretKey='${c.awsSecret}'`], secret],
      ['boto2 aws_secret_key = ', (c) => [`aws_secret_key = ${c.awsSecret}`], secret],
      ['header X-Amz-Secret-Access-Key:', (c) => [`X-Amz-Secret-Access-Key: ${c.awsSecret}`], secret],
      ['kebab-case header', (c) => [`x-secret-access-key: ${c.awsSecret}`], secret],
      ['arrow ->', (c) => [`SecretAccessKey -> ${c.awsSecret}`], secret],
      ['Go :=', (c) => [`secretAccessKey := "${c.awsSecret}"`], secret],
      ['tabs only', (c) => [`SecretAccessKey\t\t${c.awsSecret}`], secret],
      ['no-break space', (c) => [`SecretAccessKey:\u00a0${c.awsSecret}`], secret],
      ['typographic quotes', (c) => [`SecretAccessKey: \u201c${c.awsSecret}\u201d`], secret],
      [
        'typographic quotes as the UTF-8 bytes redact reads',
        (c) => [Buffer.from(`SecretAccessKey: \u201c${c.awsSecret}\u201d`).toString('latin1')],
        secret,
      ],
      ['brackets', (c) => [`SecretAccessKey=[${c.awsSecret}]`], secret],
      ['AWS CLI table', (c) => [`||  SecretAccessKey |  ${c.awsSecret}  ||`], secret],
      ['aws configure set', (c) => [`  512  aws configure set aws_secret_access_key ${c.awsSecret}`], secret],
      ['--secret-key flag', (c) => [`aws --secret-key ${c.awsSecret} s3 ls`], secret],
    ],
    1500,
  );
});

describe('XML and CSV documents', () => {
  run(
    [
      [
        'STS AssumeRole XML',
        (c) => [
          `<AssumeRoleResult><Credentials><AccessKeyId>${c.awsKeyId}</AccessKeyId><SecretAccessKey>${c.awsSecret}</SecretAccessKey><SessionToken>${c.awsToken}</SessionToken></Credentials>`,
        ],
        all,
      ],
      [
        'STS XML, the secret key alone',
        (c) => [`<Credentials><SecretAccessKey>${c.awsSecret}</SecretAccessKey></Credentials>`],
        secret,
      ],
      [
        'Alibaba STS XML',
        (c) => [
          `<Credentials><AccessKeySecret>${c.aliSecret}</AccessKeySecret><AccessKeyId>${c.aliKeyId}</AccessKeyId><SecurityToken>${c.aliToken}</SecurityToken></Credentials>`,
        ],
        (c) => [c.aliSecret, c.aliKeyId, c.aliToken.slice(4)],
      ],
      [
        'a JSON document in a CSV field (quotes doubled)',
        (c) => [
          `2026-12-05,"{""AccessKeyId"": ""${c.awsKeyId}"", ""SecretAccessKey"": ""${c.awsSecret}"", ""Token"": ""${c.awsToken}""}"`,
        ],
        all,
      ],
    ],
    1600,
  );
});

describe('look-alikes are left as they were', () => {
  const c = generatedCredentials(1700);
  const hex40 = '9f86d081884c7d659a2feaa0c55ad015a3bf4f1b';
  const b64 = 'Qk9x7Zk2Lm9Np4Rs6Tu8Vw1Xy3Za5bC7dE9fG2h1';
  test('40-character values without a key name or key id: digests, commit ids, blobs, other secrets', () => {
    for (const line of [
      `git commit ${hex40} nonce ${b64}`,
      `blob=${b64} etag=d41d8cd98f00b204e9800998ecf8427e`,
      `{"client_secret":"${b64}"}`,
      `secret_key_id=${b64}`,
      `AKIAIOSFODNN7EXAMPLE ${b64}`,
    ])
      assert.equal(masked([line]), line);
  });
  test('a hex digest next to a key id is not read as its secret key', () => {
    const out = masked([`key=${c.awsKeyId} sha=${hex40}`, `${hex40} ${c.awsKeyId}`]);
    assert.equal(holdsPiece(out, c.awsKeyId), null);
    assert.equal(out.split(hex40).length, 3, out);
  });
});

const doc = (c: GeneratedCredentials) =>
  JSON.stringify({ AccessKeyId: c.awsKeyId, SecretAccessKey: c.awsSecret, Token: c.awsToken });
/** The document IMDS returns, as json.dumps writes it. */
const imdsDoc = (c: GeneratedCredentials) =>
  JSON.stringify({
    Code: 'Success',
    LastUpdated: '2026-12-05T05:00:00Z',
    Type: 'AWS-HMAC',
    AccessKeyId: c.awsKeyId,
    SecretAccessKey: c.awsSecret,
    Token: c.awsToken,
    Expiration: '2026-12-05T11:00:00Z',
  })
    .replace(/","/g, '", "')
    .replace(/":"/g, '": "');
/** An Azure managed identity's access token (its signature drawn from the generated Google token's characters). */
function managedIdentityJwt(c: GeneratedCredentials): string {
  const b64u = (s: string) => Buffer.from(s).toString('base64url');
  const payload = {
    aud: 'https://management.azure.com/',
    iss: 'https://sts.windows.net/72f988bf-86f1-41af-91ab-2d7cd011db47/',
    xms_mirid:
      '/subscriptions/0b1f6471-1bf0-4dda-aec3-111122223333/resourcegroups/rg1/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-1',
    exp: 1795420000,
  };
  return `${b64u(JSON.stringify({ typ: 'JWT', alg: 'RS256' }))}.${b64u(JSON.stringify(payload))}.${c.gcpToken.slice(5).repeat(2)}`;
}
const cutAt = (s: string, i: number) => [s.slice(0, i), s.slice(i)];
const jsonEveryChar = (s: string) =>
  [...s].map((ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`).join('');
const mime = (s: string, prefix: string) =>
  Buffer.from(s)
    .toString('base64')
    .match(/.{1,76}/g)!
    .map((l) => prefix + l);

describe('values a writer wrapped or split over lines', () => {
  run(
    [
      [
        'CRLF lines cut inside the secret key',
        (c) => cutAt(doc(c), doc(c).indexOf(c.awsSecret) + 20).map((l) => `${l}\r`),
        all,
      ],
      [
        'a percent-encoded document cut inside an escape of the secret key',
        (c) => {
          const d = encodeURIComponent(doc(c));
          const at = d.indexOf('%', d.indexOf(encodeURIComponent(c.awsSecret)) + 4) + 1;
          return cutAt(`203.0.113.7 - - "GET /x?d=${d}`, at + '203.0.113.7 - - "GET /x?d='.length);
        },
        all,
      ],
      [
        'a document with every character \\u-escaped, cut inside an escape of the secret key',
        (c) => {
          const d = jsonEveryChar(imdsDoc(c));
          return cutAt(d, d.indexOf(jsonEveryChar(c.awsSecret)) + 5 * 6 + 3);
        },
        all,
      ],
      [
        'an indented continuation line',
        (c) => {
          const [a, b] = cutAt(doc(c), doc(c).indexOf(c.awsSecret) + 20);
          return [a!, `    ${b}`];
        },
        all,
      ],
      [
        'a Google access token wrapped after 40 characters',
        (c) => [`Authorization: Bearer ${c.gcpToken.slice(0, 40)}`, c.gcpToken.slice(40)],
        (c) => [c.gcpToken.slice(5)],
      ],
      [
        "Python pprint's split string literals",
        (c) => {
          const parts = c.awsToken.match(/.{1,70}/g)!;
          return [
            `{'AccessKeyId': '${c.awsKeyId}',`,
            ` 'SecretAccessKey': '${c.awsSecret}',`,
            ` 'Token': ('${parts[0]}'`,
            ...parts.slice(1, -1).map((p) => `           '${p}'`),
            `           '${parts.at(-1)}')}`,
          ];
        },
        all,
      ],
      [
        "Node util.inspect's string literals joined with +",
        (c) => {
          const parts = c.awsToken.match(/.{1,72}/g)!;
          return [
            `{ AccessKeyId: '${c.awsKeyId}',`,
            `  SecretAccessKey: '${c.awsSecret}',`,
            '  Token:',
            ...parts.slice(0, -1).map((p) => `   '${p}' +`),
            `   '${parts.at(-1)}' }`,
          ];
        },
        all,
      ],
      ['the key on one line, its value on the next', (c) => ['SecretAccessKey:', `  ${c.awsSecret}`], secret],
      [
        "an Azure managed identity's JWT cut inside its claims",
        (c) => {
          const token = managedIdentityJwt(c);
          return [`{"access_token":"${token.slice(0, 300)}`, `${token.slice(300)}","client_id":"x"}`];
        },
        (c) => [managedIdentityJwt(c).split('.')[2]!],
      ],
      ['MIME base64 of a document, indented', (c) => mime(imdsDoc(c), '    '), all],
      ['MIME base64 of a document, quoted with "> "', (c) => mime(imdsDoc(c), '> '), all],
    ],
    1800,
  );

  test('the line after a key alone or after a whole token is left as it was', () => {
    const c = generatedCredentials(1900);
    for (const lines of [
      ['SecretAccessKey:', '  (not set)'],
      ['SecretAccessKey:', '    at com.example.Config.load(Config.java:42)'],
      [`Authorization: Bearer ${c.gcpToken}`, 'Host: storage.googleapis.com'],
      [`{'Token': ('${c.awsToken.slice(0, 70)}'`, '2026-12-05T06:00:00Z INFO next'],
      [`Authorization: Bearer ${managedIdentityJwt(c)}`, 'Host: management.azure.com'],
    ]) {
      const out = masked(lines).split('\n');
      assert.equal(out[1], lines[1]);
    }
  });
});

test('base64 of a JSON document at a line end is not taken for a cut JWT: the next line is left as it is', () => {
  const doc = Buffer.from(JSON.stringify({ user: 'app', note: 'nothing secret here at all' })).toString('base64url');
  const next = 'commit 0000000000000000000000000000000000000000 merged';
  assert.equal(masked([`payload=${doc}`, next]).split('\n')[1], next);
});
