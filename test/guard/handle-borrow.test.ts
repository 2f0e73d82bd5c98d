/**
 * A grant is for the TCP handle net makes for the SDK's connection. net makes it in `connect()` and connects it
 * from the next tick (or on the DNS answer); a `net.client.socket` diagnostics-channel subscriber sees the SDK's
 * socket before that and can queue a `process.nextTick` that runs first: it puts a raw handle of its own into the
 * socket, marked as the socket's, and connects it to the managed identity endpoint on loopback (Azure Arc,
 * 127.0.0.1:40342, where the fake metadata service of this test listens) to ask for a token of its choosing. The
 * allowlisted package (installed in the application's node_modules) connects by address and by the catalogue name
 * `localhost`. A fresh process runs the built guard as users do (`--import …/guard/register`): the raw handle must
 * be refused and recorded, and the service must never see the application's request.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { RunningFakeImds } from '../fake-imds/server.ts';
import { type ArcSdkApp, arcSdkApp } from './_arc-sdk-app.ts';

const REGISTER = new URL('../../dist/guard/register.js', import.meta.url);
const why = existsSync(REGISTER) ? null : 'dist/ is not built (npm run build)';
if (why && process.env.CI === 'true') throw new Error(`handle borrow tests cannot run under CI: ${why}`);

const TOKEN = '/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https://management.azure.com/';

const SDK = `const http = require('node:http');
exports.token = (host) => new Promise((r) => http.get('http://' + host + ':40342${TOKEN}', { headers: { Metadata: 'true' } }, (res) => { res.resume(); res.on('end', () => r('status ' + res.statusCode)); }).on('error', (e) => r(e.code)));
`;

const APP = `import dc from 'node:diagnostics_channel';
import { createRequire } from 'node:module';
const { TCP, TCPConnectWrap, constants } = process.binding('tcp_wrap');
const { WriteWrap } = process.binding('stream_wrap');
const host = process.argv[2];
const out = { raw: 'not completed' };
let armed = true;
dc.subscribe('net.client.socket', ({ socket }) => {
  if (!armed) return;
  armed = false;
  // Queued before net's own deferred connect of the handle it just made.
  process.nextTick(() => {
    const owner = Object.getOwnPropertySymbols(socket._handle).find((s) => s.description === 'owner_symbol');
    const h = new TCP(constants.SOCKET);
    h[owner] = socket;
    socket._handle = h;
    socket.connecting = false;
    const req = new TCPConnectWrap();
    req.oncomplete = (status) => {
      out.raw = 'status ' + status;
      if (status !== 0) return;
      h.onread = () => {
        out.read = true;
      };
      h.readStart();
      const w = new WriteWrap();
      w.handle = h;
      w.oncomplete = () => {};
      h.writeUtf8String(w, 'GET /metadata/identity/oauth2/token?resource=app-chosen HTTP/1.1\\r\\nHost: x\\r\\nMetadata: true\\r\\nConnection: close\\r\\n\\r\\n');
    };
    try {
      out.connect = h.connect(req, '127.0.0.1', 40342);
    } catch (e) {
      out.connect = e.code;
    }
  });
});
out.sdk = await createRequire(import.meta.url)('arc-client').token(host);
await new Promise((r) => setTimeout(r, 300));
console.log(JSON.stringify(out));
process.exit(0);
`;

describe("a raw handle put into an SDK's socket before net connects it", { skip: why ?? false }, () => {
  let home: string;
  let imds: RunningFakeImds;
  let fixture: ArcSdkApp | undefined;
  before(async () => {
    fixture = await arcSdkApp('handle-borrow-', SDK, { file: 'app.mjs', source: APP });
    ({ home, imds } = fixture);
  });
  after(async () => {
    await fixture?.close();
  });

  for (const host of ['127.0.0.1', 'localhost']) {
    test(`does not get the SDK's grant (SDK connecting to ${host})`, async () => {
      imds.seen.length = 0;
      const report = join(home, `findings-${host}.jsonl`);
      const stdout = await new Promise<string>((resolve, reject) => {
        execFile(
          process.execPath,
          ['--import', REGISTER.href, join(home, 'app.mjs'), host],
          {
            cwd: home,
            timeout: 60_000,
            env: { ...process.env, IMDSGUARD_GUARD_ALLOW: 'arc-client:azure', IMDSGUARD_GUARD_REPORT: report },
          },
          (err, o, e) => (err ? reject(new Error(`${err.message}\n${e}`)) : resolve(o)),
        );
      });
      const r = JSON.parse(stdout) as { raw: string; connect: unknown; sdk: string };
      assert.notEqual(r.raw, 'status 0', stdout);
      const paths = imds.seen.map((s) => s.target);
      assert.ok(!paths.some((p) => p.includes('app-chosen')), JSON.stringify(paths));
      const findings = readFileSync(report, 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { rule: { id: string }; decision: string });
      assert.ok(
        findings.some((f) => f.rule.id === 'guard-metadata-connection' && f.decision === 'deny'),
        JSON.stringify(findings),
      );
    });
  }
});
