import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { redact } from '../../src/app/redact.ts';
import { scanFiles } from './helpers.ts';

// A real `curl -v` trace of the IMDSv2 flow, captured from curl itself against a server on 127.0.0.1 that answers
// like the EC2 metadata service with fake credentials, then scanned and redacted as an application log.

const curlMissing = spawnSync('curl', ['--version']).status !== 0;
const skip = curlMissing ? (process.env.CI ? false : 'curl is not installed (.ci/run installs it)') : false;

const dir = mkdtempSync(join(tmpdir(), 'imdsguard-curl-'));
const ROLE = 'fake-trace-role';
const b32 = (n: number) => Array.from(randomBytes(n), (b) => 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567'[b & 31]).join('');
const creds = {
  Code: 'Success',
  LastUpdated: '2026-11-23T05:10:00Z',
  Type: 'AWS-HMAC',
  AccessKeyId: `ASIAFAKE${b32(12)}`,
  SecretAccessKey: `Fake${randomBytes(27).toString('base64').slice(0, 36)}`,
  Token: `IQoJb3JpZ2luX2VjE${randomBytes(480).toString('base64')}`,
  Expiration: '2026-11-23T11:10:00Z',
};
const imdsToken = `AQAEA${randomBytes(42).toString('base64')}`;
let server: Server;
let base = '';

before(async () => {
  server = createServer((req, res) => {
    if (req.method === 'PUT' && req.url === '/latest/api/token') {
      res.writeHead(200, { 'content-type': 'text/plain', 'x-aws-ec2-metadata-token-ttl-seconds': '21600' });
      res.end(imdsToken);
    } else if (
      req.url === `/latest/meta-data/iam/security-credentials/${ROLE}` &&
      req.headers['x-aws-ec2-metadata-token'] === imdsToken
    ) {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end(JSON.stringify(creds, null, 2).replace(/": /g, '" : '));
    } else {
      res.writeHead(401);
      res.end();
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(() => {
  server?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('a real curl -v trace of the IMDSv2 credential flow', { skip, timeout: 60_000 }, () => {
  it('scan finds every line holding a secret, names the role, and redact leaves none', async () => {
    // Asynchronous: the server answers from this same process, so a synchronous child would wait forever.
    const run = promisify(execFile);
    const opts = { encoding: 'latin1' as const, timeout: 10_000 };
    const curl = async (args: string[]) =>
      (await run('curl', ['-sv', '--max-time', '5', '--stderr', '-', ...args], opts)).stdout;
    const token = (
      await run(
        'curl',
        [
          '-s',
          '--max-time',
          '5',
          '-X',
          'PUT',
          `${base}/latest/api/token`,
          '-H',
          'X-aws-ec2-metadata-token-ttl-seconds: 21600',
        ],
        opts,
      )
    ).stdout;
    assert.equal(token, imdsToken);
    const trace = [
      '2026-11-23T05:10:00Z DEBUG refreshing instance credentials',
      await curl(['-X', 'PUT', `${base}/latest/api/token`, '-H', 'X-aws-ec2-metadata-token-ttl-seconds: 21600']),
      await curl([
        `${base}/latest/meta-data/iam/security-credentials/${ROLE}`,
        '-H',
        `X-aws-ec2-metadata-token: ${token}`,
      ]),
      '2026-11-23T05:10:01Z DEBUG done',
      '',
    ].join('\n');
    const file = join(dir, 'trace.log');
    writeFileSync(file, trace, 'latin1');
    const lines = trace.split('\n');
    const holding = (v: string) => lines.flatMap((l, i) => (l.includes(v) ? [i + 1] : []));
    const expected = [
      ...new Set([imdsToken, creds.AccessKeyId, creds.SecretAccessKey, creds.Token].flatMap(holding)),
    ].sort((a, b) => a - b);
    assert.ok(expected.length >= 5, `the trace shows the token twice and three credential lines:\n${trace}`);

    const r = await scanFiles([file], { logFormat: 'text' });
    const leaks = r.findings.filter((f) => f.rule.id.startsWith('credential-exposure'));
    assert.deepEqual(
      leaks.map((f) => f.origin.line),
      expected,
    );
    for (const f of leaks.filter((x) => x.secret?.kind !== 'aws-imdsv2-session-token')) {
      assert.equal(f.secret?.owner, `role ${ROLE}`);
      assert.equal(f.secret?.expires, '2026-11-23T11:10:00.000Z');
      assert.equal(f.evidence?.document, 'aws-imds-credentials');
    }
    const all = JSON.stringify(r.findings);
    for (const v of [imdsToken, creds.AccessKeyId, creds.SecretAccessKey, creds.Token]) assert.ok(!all.includes(v));

    const out = join(dir, 'trace.redacted.log');
    await redact({ inputs: [file], output: out }, () => {});
    const red = readFileSync(out, 'latin1');
    assert.equal(red.split('\n').length, lines.length);
    for (const v of [imdsToken, creds.AccessKeyId, creds.SecretAccessKey, creds.Token]) assert.ok(!red.includes(v));
    const again = await scanFiles([out], { logFormat: 'text' });
    assert.deepEqual(
      again.findings.filter((f) => f.rule.id.startsWith('credential-exposure')),
      [],
    );
  });
});
