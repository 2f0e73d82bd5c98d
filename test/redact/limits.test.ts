/**
 * The documented limits of the masking engine (docs/credential-leaks.md, "Limits"), each shown: these inputs still
 * hold a secret after masking. When one of them starts being masked, this test fails and the statement of limits
 * must be updated with it.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { gunzipSync, gzipSync } from 'node:zlib';
import { redact, utf16Order } from '../../src/app/redact.ts';
import { Masker } from '../../src/core/secrets/masker.ts';
import { LeakTracker } from '../../src/core/secrets/tracker.ts';
import { generatedCredentials, holdsPiece } from '../support/secret-docs.ts';

const ID = 'ASIAQ3EGU7LR2WNPQX7Z';
const SECRET = 'Fk9x/Zk2Lm9Np4Rs6Tu8Vw1Xy3Za5bC7dE9fG+h1';
const DOC = JSON.stringify({ AccessKeyId: ID, SecretAccessKey: SECRET });

/** Masks `lines` as one stream and says whether the secret key survives, as written or decoded by `undo`. */
function survives(lines: string[], undo: (s: string) => string = (s) => s): boolean {
  const m = new Masker();
  const out = lines.map((l) => m.line(l)).join('\n');
  return holdsPiece(undo(out), SECRET) !== null || holdsPiece(out, SECRET) !== null;
}

const rot13 = (s: string) =>
  s.replace(/[a-z]/gi, (c) => {
    const base = c <= 'Z' ? 65 : 97;
    return String.fromCharCode(base + ((c.charCodeAt(0) - base + 13) % 26));
  });

function base32(bytes: Buffer): string {
  const A = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const b of bytes) bits += b.toString(2).padStart(8, '0');
  let out = '';
  for (let i = 0; i < bits.length; i += 5) out += A[Number.parseInt(bits.slice(i, i + 5).padEnd(5, '0'), 2)];
  return out;
}

test('limit: compressed or enciphered text is not undone (gzip then base64, ROT13, reversed, base32)', () => {
  assert.ok(survives([`body=${gzipSync(DOC).toString('base64')}`], () => DOC));
  assert.ok(survives([`msg=${rot13(DOC)}`], rot13));
  assert.ok(survives([[...DOC].reverse().join('')], (s) => [...s].reverse().join('')));
  assert.ok(survives([`d=${base32(Buffer.from(DOC))}`], () => DOC));
});

test('limit: escapes no log format writes are not undone (octal \\NNN, ES2015 \\u{…})', () => {
  const octal = [...DOC].map((c) => `\\${c.charCodeAt(0).toString(8).padStart(3, '0')}`).join('');
  assert.ok(
    survives([octal], (s) => s.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(Number.parseInt(o, 8)))),
  );
  const es6 = DOC.replace(/[A-Za-z0-9]/g, (c) => `\\u{${c.charCodeAt(0).toString(16)}}`);
  assert.ok(
    survives([es6], (s) =>
      s.replace(/\\u\{([0-9a-f]+)\}/g, (_m, h: string) => String.fromCharCode(Number.parseInt(h, 16))),
    ),
  );
});

test('limit: more than six layers on top of each other are not undone', () => {
  const layered = (n: number) => {
    let t = DOC;
    for (let i = 0; i < n; i++) t = Buffer.from(t).toString('base64');
    return `d=${t}`;
  };
  // Base64 seven times: each layer a whole new text, and the engine stops at six.
  assert.equal(new Masker().line(layered(7)), layered(7));
  assert.notEqual(new Masker().line(layered(6)), layered(6));
});

test('limit: an AWS secret key seen first with neither its key name nor its key id near it is not recognised', () => {
  assert.ok(survives([`2026-12-05T05:00:00Z INFO rotated to ${SECRET} ok`]));
  // Once recognised anywhere in the input, every later occurrence is masked.
  assert.ok(!survives([DOC, `2026-12-05T05:00:00Z INFO rotated to ${SECRET} ok`]));
});

test('limit: scan reports leaks visible as written or through escapes, not inside base64, hex or entities', () => {
  // Masked in every output all the same (the sinks mask through the engine): only the leak finding is missing.
  const tracker = new LeakTracker<undefined>({ salt: 'limits' });
  const lines = [`INFO plain ${DOC}`, `INFO encoded ${Buffer.from(DOC).toString('base64')}`];
  const leaks = [...lines.flatMap((l) => tracker.push(l, undefined)), ...tracker.flush()];
  assert.deepEqual(
    leaks.map((l) => l.line),
    [1],
  );
  assert.equal(holdsPiece(new Masker().line(lines[1]!), SECRET), null);
  assert.notEqual(new Masker().line(lines[1]!), lines[1]);
});

test('limit: a value cut where its line goes on (not at the line end) has its rest on the next line left', () => {
  // The cut falls inside a percent-encoded document in an access-log request, and the line goes on after it.
  const c = generatedCredentials(2100);
  const d = encodeURIComponent(JSON.stringify({ AccessKeyId: c.awsKeyId, SecretAccessKey: c.awsSecret }));
  const at = d.indexOf('%', d.indexOf('SecretAccessKey') + 30) + 1;
  const lines = [`203.0.113.7 - - "GET /x?d=${d.slice(0, at)} HTTP/1.1" 200 512`, d.slice(at)];
  const m = new Masker();
  const out = lines.map((l) => m.line(l)).join('\n');
  assert.notEqual(holdsPiece(decodeURIComponent(out.replace(/%(?![0-9A-F]{2})/gi, '%25')), c.awsSecret), null);
});

test("limit: container runtimes' partial lines (CRI P/F, Docker's 16 KiB split) are not joined", () => {
  const c = generatedCredentials(2200);
  const d = JSON.stringify({ AccessKeyId: c.awsKeyId, SecretAccessKey: c.awsSecret });
  const at = d.indexOf(c.awsSecret) + 20;
  const m = new Masker();
  const out = [`2026-12-05T06:00:00.1Z stdout P ${d.slice(0, at)}`, `2026-12-05T06:00:00.1Z stdout F ${d.slice(at)}`]
    .map((l) => m.line(l))
    .join('\n');
  assert.notEqual(holdsPiece(out, c.awsSecret), null);
});

test('limit: UTF-16 without a byte-order mark is told by the NUL bytes of its first KiB', () => {
  // CJK only, none of it U+xx00: no NUL byte, so it is read as bytes. Sixteen blanks in its first KiB are enough.
  const cjk = '日志调试凭证处理请求结束'.repeat(60);
  const blanks = (n: number) => [...cjk].map((ch, i) => (i % 30 === 29 && i < n * 30 ? ' ' : ch)).join('');
  assert.equal(utf16Order(Buffer.from(cjk, 'utf16le')), null);
  assert.equal(utf16Order(Buffer.from(blanks(16), 'utf16le')), 'le');
  assert.equal(utf16Order(Buffer.from(blanks(15), 'utf16le')), null);
});

test('limit: a line over 1 MiB is not decoded (a whole document percent-encoded in it is left)', () => {
  const c = generatedCredentials(1407);
  // Every character percent-encoded: nothing of the document is readable without decoding.
  const doc = [...JSON.stringify({ AccessKeyId: c.awsKeyId, SecretAccessKey: c.awsSecret })]
    .map((ch) => `%${ch.charCodeAt(0).toString(16).padStart(2, '0').toUpperCase()}`)
    .join('');
  const line = (pad: number) => `${'L'.repeat(pad - doc.length - 1)} ${doc}`;
  const over = new Masker().line(line((1 << 20) + 1));
  assert.notEqual(holdsPiece(decodeURIComponent(over), c.awsSecret), null);
  const under = new Masker().line(line(1 << 20));
  assert.equal(holdsPiece(decodeURIComponent(under), c.awsSecret), null);
});

test('limit: a record split by syslog, whose rest opens with the same syslog prefix, is not joined', () => {
  const c = generatedCredentials(2300);
  const d = JSON.stringify({ AccessKeyId: c.awsKeyId, SecretAccessKey: c.awsSecret });
  const at = d.indexOf(c.awsSecret) + 20;
  const m = new Masker();
  const out = [`Dec  5 10:00:01 web1 app[4242]: ${d.slice(0, at)}`, `Dec  5 10:00:01 web1 app[4242]: ${d.slice(at)}`]
    .map((l) => m.line(l))
    .join('\n');
  assert.notEqual(holdsPiece(out, c.awsSecret), null);
});

test('limit: a token with neither key nor known prefix wrapped at fewer than 64 columns is not joined', () => {
  // An Entra ID token (a JWT) printed alone and wrapped at 64 columns: no line holds it whole.
  const lines = readFileSync(join(import.meta.dirname, '../fixtures/masking/azure-jwt-wrap64.log'), 'latin1')
    .trimEnd()
    .split('\n');
  const m = new Masker();
  assert.deepEqual(
    lines.map((l) => m.line(l)),
    lines,
  );
});

test('limit: zero-width characters or fullwidth forms inside a known secret hide it', () => {
  const zw = SECRET.replace(/(.{8})/g, '$1\u200b');
  assert.ok(survives([DOC, `later: ${zw}`], (s) => s.replace(/\u200b/g, '')));
  const full = [...SECRET].map((ch) => String.fromCharCode(ch.charCodeAt(0) + 0xfee0)).join('');
  const narrow = (s: string) =>
    [...s].map((ch) => (ch.charCodeAt(0) > 0xff00 ? String.fromCharCode(ch.charCodeAt(0) - 0xfee0) : ch)).join('');
  assert.ok(survives([DOC, `again ${full}`], narrow));
});

test('limit: UTF-32 text and gzip inside gzip are not undone by redact', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'imdsguard-limits-'));
  try {
    const utf32 = Buffer.alloc(DOC.length * 4);
    for (const [i, ch] of [...DOC].entries()) utf32.writeUInt32LE(ch.charCodeAt(0), i * 4);
    const inputs = { 'utf32.log': utf32, 'double.log.gz': gzipSync(gzipSync(`${DOC}\n`)) };
    for (const [name, bytes] of Object.entries(inputs)) {
      const input = join(dir, name);
      const output = join(dir, `${name}.out`);
      writeFileSync(input, bytes);
      await redact({ inputs: [input], output }, () => {});
      const out = readFileSync(output);
      // redact reads a .gz file's content (here the inner gzip, left as it is) and writes it uncompressed.
      const text = name.startsWith('utf32')
        ? out.toString('latin1').replace(/\0/g, '')
        : gunzipSync(out).toString('latin1');
      assert.notEqual(holdsPiece(text, SECRET), null, name);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('limit: a value hard-wrapped at fewer than 16 columns is not joined past its first lines', () => {
  // Middle lines of a hard wrap are read as a value's only from 16 columns on (narrower ones may be a word).
  const c = generatedCredentials(2400);
  const doc = `export AWS_SESSION_TOKEN=${c.awsToken}`;
  const wrapped = (w: number) => doc.match(new RegExp(`.{1,${w}}`, 'g'))!;
  const m = (lines: string[]) => {
    const masker = new Masker();
    return lines.map((l) => masker.line(l)).join('');
  };
  assert.notEqual(holdsPiece(m(wrapped(15)), c.awsToken.slice(16)), null);
  assert.equal(holdsPiece(m(wrapped(16)), c.awsToken.slice(16)), null);
});

test('limit: a value on a line before the line that names it (YAML value then name, an HTML row reversed) is left', () => {
  const c = generatedCredentials(2500);
  for (const lines of [
    [`- value: ${c.awsSecret}`, '  name: AWS_SECRET_ACCESS_KEY'],
    [`<tr><td>${c.awsSecret}</td>`, '<td>SecretAccessKey</td></tr>'],
  ]) {
    const m = new Masker();
    assert.notEqual(holdsPiece(lines.map((l) => m.line(l)).join('\n'), c.awsSecret), null, lines[0]);
  }
});

test('limit: a secret key known only by its key id is not joined when the key id starts over 48 characters before the cut', () => {
  // The AWS CLI's text output (`CREDENTIALS <key id> <expiry> <secret>`) with an expiry in microseconds, cut right
  // before the secret key: the kept end of the line before holds the expiry, not the key id.
  const c = generatedCredentials(2600);
  const lines = [`CREDENTIALS\t${c.awsKeyId}\t2026-12-05T12:00:00.000000+00:00\t`, `${c.awsSecret}\t${c.awsToken}`];
  const m = new Masker();
  const out = lines.map((l) => m.line(l)).join('');
  assert.notEqual(holdsPiece(out, c.awsSecret), null);
  assert.equal(holdsPiece(out, c.awsKeyId), null);
  // With the expiry in seconds the key id is near enough, and the secret key is masked.
  const near = [`CREDENTIALS\t${c.awsKeyId}\t2026-12-05T12:00:00Z\t`, `${c.awsSecret}\t${c.awsToken}`];
  const n = new Masker();
  assert.equal(holdsPiece(near.map((l) => n.line(l)).join(''), c.awsSecret), null);
});
