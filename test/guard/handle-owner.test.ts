/**
 * A grant is a socket's, and the TCP handle check finds a handle's socket through net's owner mark — a property
 * anyone can set. An allowlisted package (installed in the application's node_modules) gets a token from the managed
 * identity endpoint on loopback (Azure Arc, 127.0.0.1:40342, where the fake metadata service of this test listens);
 * the application keeps that socket (diagnostics channel `net.client.socket`) and then connects raw TCP handles to
 * the endpoint: one whose owner mark names the SDK's socket, and one also put into that socket as its handle. A
 * fresh process runs the built guard, as users do; each raw connect must be refused and recorded.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { constants } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type ArcSdkApp, arcSdkApp } from './_arc-sdk-app.ts';

const GUARD_MODULE = new URL('../../dist/guard/index.js', import.meta.url);
const why = existsSync(GUARD_MODULE) ? null : 'dist/ is not built (npm run build)';
if (why && process.env.CI === 'true') throw new Error(`handle owner tests cannot run under CI: ${why}`);

const TOKEN_PATH = '/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https://management.azure.com/';

const SDK = `const http = require('node:http');
exports.token = () => new Promise((r) => http.get('http://127.0.0.1:40342${TOKEN_PATH}', { headers: { Metadata: 'true' } }, (res) => { res.resume(); res.on('end', () => r('status ' + res.statusCode)); }).on('error', (e) => r(e.code)));
`;

const APP = `import { installGuard } from ${JSON.stringify(GUARD_MODULE.href)};
import dc from 'node:diagnostics_channel';
import { createRequire } from 'node:module';
import net from 'node:net';

const findings = [];
installGuard({ mode: 'block', report: 'none', allow: [{ package: 'arc-client', providers: ['azure'] }],
  onFinding: (f) => findings.push(f.rule.id + ' ' + f.decision) });
const sockets = [];
dc.subscribe('net.client.socket', ({ socket }) => sockets.push(socket));
const out = { sdk: await createRequire(import.meta.url)('arc-client').token() };
const granted = sockets.at(-1);
// net's owner mark, found on any socket's handle.
const probe = new net.Socket();
probe.connect(9, '127.0.0.1').on('error', () => {});
const owner = Object.getOwnPropertySymbols(probe._handle).find((s) => s.description === 'owner_symbol');
probe.destroy();
const { TCP, TCPConnectWrap, constants } = process.binding('tcp_wrap');
const raw = (prepare) => new Promise((resolve) => {
  const h = new TCP(constants.SOCKET);
  prepare(h);
  const req = new TCPConnectWrap();
  req.oncomplete = (status) => { h.close(); resolve('status ' + status); };
  const err = h.connect(req, '127.0.0.1', 40342);
  if (err !== 0) { h.close(); resolve('status ' + err); }
});
out.markedOwner = await raw((h) => { h[owner] = granted; });
out.swappedIn = await raw((h) => { h[owner] = granted; granted._handle = h; });
out.findings = findings;
console.log(JSON.stringify(out));
process.exit(0);
`;

describe("a raw TCP handle that names an SDK's granted socket as its owner", { skip: why ?? false }, () => {
  let home: string;
  let fixture: ArcSdkApp | undefined;
  before(async () => {
    fixture = await arcSdkApp('handle-owner-', SDK, { file: 'app.mjs', source: APP });
    ({ home } = fixture);
  });
  after(async () => {
    await fixture?.close();
  });

  test('is refused and recorded, the SDK itself still gets its token', async () => {
    const stdout = await new Promise<string>((resolve, reject) => {
      execFile(process.execPath, [join(home, 'app.mjs')], { cwd: home, timeout: 60_000 }, (err, o, e) =>
        err ? reject(new Error(`${err.message}\n${e}`)) : resolve(o),
      );
    });
    const r = JSON.parse(stdout) as { sdk: string; markedOwner: string; swappedIn: string; findings: string[] };
    assert.equal(r.sdk, 'status 200', stdout);
    const EACCES = `status ${-constants.errno.EACCES}`;
    assert.equal(r.markedOwner, EACCES, stdout);
    assert.equal(r.swappedIn, EACCES, stdout);
    assert.deepEqual(r.findings, ['guard-metadata-connection deny', 'guard-metadata-connection deny'], stdout);
  });
});
