import assert from 'node:assert/strict';
import { test } from 'node:test';
import { applyMasks, detectLine, newDetectState } from './detect.ts';
import { decodeSecretText } from './encoding.ts';
import { classifyJwt, decodeJwtPayload } from './jwt.ts';
import { mask, secretHash } from './mask.ts';
import { maskRecord } from './masker.ts';
import { IpPseudonymiser } from './pseudonymise.ts';
import { LeakTracker } from './tracker.ts';

const ID = 'ASIAFAKEQ3EGU7LR2WNP';
const SECRET = 'Fake9x/Zk2Lm9Np4Rs6Tu8Vw1Xy3Za5bC7dE9fGh';

function kinds(line: string, state = newDetectState()): string[] {
  return detectLine(line, state).map((m) => m.kind);
}

function jwt(payload: object): string {
  const b = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
  return `${b({ alg: 'RS256', typ: 'JWT' })}.${b(payload)}.c2lnbmF0dXJlLW5vdC1jaGVja2Vk`;
}

test('mask() keeps four characters at each end, ASCII only', () => {
  assert.equal(mask(ID), 'ASIA****2WNP');
  assert.equal(mask('short-secret'), 'sh****');
  assert.equal(mask('abc/def+ghi=jklmnopqr=='), 'abcd****opqr');
});

test('secretHash() is stable under one salt and differs under another', () => {
  assert.equal(secretHash(SECRET, 'a'), secretHash(SECRET, 'a'));
  assert.notEqual(secretHash(SECRET, 'a'), secretHash(SECRET, 'b'));
  assert.match(secretHash(SECRET, 'a'), /^hmac-sha256:[0-9a-f]{24}$/);
});

test('decodeSecretText() undoes percent, double percent and JSON escapes', () => {
  assert.equal(decodeSecretText('a%2Fb%252Bc%3D'), 'a/b+c=');
  assert.equal(decodeSecretText('a\\/b\\\\/c\\u002fd'), 'a/b/c/d');
});

test('detectLine() checks the form of key ids', () => {
  assert.deepEqual(kinds(`id ${ID}`), ['aws-access-key-id']);
  assert.deepEqual(kinds('id ASIAFAKEQ3EGU7LR2WN1'), [], 'digit 1 is not base32');
  assert.deepEqual(kinds('id ASIAFAKEQ3EGU7LR2WNPX'), [], 'too long');
  assert.deepEqual(kinds('id asiafakeq3egu7lr2wnp'), [], 'lower case');
  assert.deepEqual(kinds('id AROAFAKEQ3EGU7LR2WNP'), [], 'role ids are identifiers, not credentials');
  assert.deepEqual(
    kinds('AKIAIOSFODNN7EXAMPLE wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY'),
    [],
    'documentation examples',
  );
});

test('detectLine() finds a secret by its key name in JSON, repr, env and query forms', () => {
  for (const line of [
    `{"SecretAccessKey":"${SECRET}"}`,
    `{'SecretAccessKey': '${SECRET}'}`,
    `AWS_SECRET_ACCESS_KEY=${SECRET}`,
    `?aws_secret_access_key=${encodeURIComponent(SECRET)}&x=1`,
    JSON.stringify({ m: JSON.stringify({ secretAccessKey: SECRET }) }),
  ]) {
    const m = detectLine(line, newDetectState());
    assert.equal(m.length, 1, line);
    assert.equal(m[0]!.kind, 'aws-secret-access-key');
    assert.equal(m[0]!.value, SECRET);
  }
  assert.deepEqual(kinds(`{"client_secret":"${SECRET}"}`), [], 'other secrets are not metadata credentials');
});

test('detectLine() reads a bare "Token" as an AWS session token only in an AWS document', () => {
  const value = Buffer.from(Array.from({ length: 120 }, (_, i) => (i * 37 + 11) % 256)).toString('base64');
  assert.deepEqual(kinds(`{"token":"${value}"}`), [], 'an application token');
  const st = newDetectState();
  detectLine(`  "AccessKeyId" : "${ID}",`, st);
  assert.deepEqual(kinds(`  "Token" : "${value}",`, st), ['aws-session-token']);
});

test('detectLine() masks every line of a multi-line PEM private key', () => {
  const st = newDetectState();
  const lines = [
    '-----BEGIN PRIVATE KEY-----',
    'MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7',
    'Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV4',
    '-----END PRIVATE KEY-----',
    'after',
  ];
  assert.deepEqual(
    lines.map((l) => detectLine(l, st).length),
    [0, 1, 1, 0, 0],
  );
});

test('applyMasks() replaces only the spans', () => {
  const line = `{"AccessKeyId":"${ID}","x":"y"}`;
  const m = detectLine(line, newDetectState());
  assert.equal(
    applyMasks(line, m, (s) => mask(s.value)),
    '{"AccessKeyId":"ASIA****2WNP","x":"y"}',
  );
});

test('classifyJwt() names Azure managed identities and ignores user tokens', () => {
  const mi = jwt({
    iss: 'https://sts.windows.net/t/',
    xms_mirid: '/subscriptions/s/resourcegroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id1',
    oid: 'o',
    appid: 'a',
    exp: 1_800_000_000,
  });
  const id = classifyJwt(mi);
  assert.equal(id?.kind, 'azure-managed-identity-token');
  assert.match(id?.owner ?? '', /userAssignedIdentities\/id1$/);
  assert.equal(id?.expires, '2027-01-15T08:00:00.000Z');
  assert.equal(classifyJwt(jwt({ iss: 'https://sts.windows.net/t/', idtyp: 'user', upn: 'u@x' })), null);
  assert.equal(classifyJwt(jwt({ iss: 'https://auth.example', sub: 'user-1' })), null);
  assert.equal(
    classifyJwt(jwt({ iss: 'https://accounts.google.com', email: 'sa@p.iam.gserviceaccount.com' }))?.kind,
    'gcp-identity-token',
  );
  assert.equal(classifyJwt(jwt({ iss: 'https://accounts.google.com', email: 'jane@gmail.com' })), null);
  assert.equal(
    classifyJwt(jwt({ iss: 'authService.oracle.com', 'opc-instance': 'ocid1.instance.oc1..x' }))?.owner,
    'ocid1.instance.oc1..x',
  );
  assert.equal(decodeJwtPayload('not.a.jwt'), null);
});

test('LeakTracker attaches the role from the request path and the expiry that follows the token', () => {
  const t = new LeakTracker<null>({ salt: 's' });
  const lines = [
    '> GET /latest/meta-data/iam/security-credentials/web-role HTTP/1.1',
    '{',
    `  "AccessKeyId" : "${ID}",`,
    `  "SecretAccessKey" : "${SECRET}",`,
    '  "Expiration" : "2026-11-23T11:10:00Z"',
    '}',
    `later, another key ${ID.replace('FAKE', 'ZZZZ')}`,
  ];
  const leaks = [...lines.flatMap((l) => t.push(l, null)), ...t.flush()];
  assert.deepEqual(
    leaks.map((l) => [l.line, l.owner, l.expires]),
    [
      [3, 'role web-role', '2026-11-23T11:10:00.000Z'],
      [4, 'role web-role', '2026-11-23T11:10:00.000Z'],
      [7, undefined, undefined],
    ],
  );
});

test('maskRecord() masks secrets in every string of a finding and leaves the rest as it was', () => {
  const f = {
    target: { raw: `/fetch?url=http://169.254.169.254/&k=${ID}&s=${encodeURIComponent(SECRET)}` },
    list: ['plain', `{"SecretAccessKey":"${SECRET}"}`],
    n: 3,
  };
  const s = maskRecord(f);
  assert.equal(s.target.raw, '/fetch?url=http://169.254.169.254/&k=ASIA****2WNP&s=Fake****9fGh');
  assert.deepEqual(s.list, ['plain', '{"SecretAccessKey":"Fake****9fGh"}']);
  assert.equal(s.n, 3);
  const clean = { a: 'nothing here', b: [1, 2] };
  assert.equal(maskRecord(clean), clean, 'unchanged records are returned as they are');
});

test('IpPseudonymiser replaces client addresses only', () => {
  const p = new IpPseudonymiser(Buffer.from('k'));
  const line =
    '203.0.113.7:52311 [23/Nov/2026:05:10:01 +0000] "GET http://10.0.0.5/x" "Chrome/131.0.0.0" 2a02:1810:1::5 fd00:ec2::254 ::1 v1.2.3.4.5';
  const out = p.line(line);
  const first = out.split(':')[0]!;
  assert.match(first, /^2(4\d|5[0-5])\.\d+\.\d+\.\d+$/);
  assert.ok(out.includes(`${first}:52311 [23/Nov/2026:05:10:01 +0000]`), 'port and clock kept');
  assert.ok(out.includes('http://10.0.0.5/x') && out.includes('Chrome/131.0.0.0'), 'URLs and versions kept');
  assert.ok(!out.includes('2a02:1810:1::5') && out.includes(' fd00:ec2::254 ::1 '), 'metadata and loopback kept');
  assert.ok(out.endsWith('v1.2.3.4.5'));
  assert.equal(p.line('203.0.113.7').split(':')[0], first, 'stable');
  assert.equal(p.replaced, 3);
});
