/**
 * Built-ins replaced by application code before a request, so that every check written with them would answer
 * "not a metadata address" or "allowed": String, Array, Set, Map, RegExp, URL, JSON, Reflect and Function.prototype
 * methods, `Symbol.species`, accessors on `Object.prototype`, Node's `net.isIP` and an accessor for
 * `Error.prepareStackTrace`. Each replacement lies only about what the guard looks at (the managed
 * identity endpoint on loopback, Azure Arc at 127.0.0.1:40342, and the package the guard is told to allow) and
 * passes everything else on, so Node and the clients keep working. A fresh process (the built guard, as users run
 * it) installs the guard, replaces them, and asks for the endpoint by node:http, net, fetch, a raw TCP handle, and
 * Node's original connect if any replaced function was handed it. Unguarded, each attempt reaches the port
 * (ECONNREFUSED: nothing listens there); guarded, each is refused and recorded.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { constants, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

const GUARD_MODULE = new URL('../../dist/guard/index.js', import.meta.url);
const why = existsSync(GUARD_MODULE) ? null : 'dist/ is not built (npm run build)';
if (why && process.env.CI === 'true') throw new Error(`intrinsics tests cannot run under CI: ${why}`);

const ARC = 'http://127.0.0.1:40342/metadata/identity/oauth2/token?resource=https://management.azure.com';
/** A real installed SDK file, its hash and the line of its request call: what forged call sites would claim. */
const SDK_FILE = createRequire(import.meta.url).resolve('@smithy/credential-provider-imds');
const SDK = '@smithy/credential-provider-imds';

const LIES = `
const apply = Reflect.apply;
const net = require('node:net');
const { syncBuiltinESMExports } = require('node:module');
// What the lies are about.
const has = String.prototype.includes;
const about = (v) => typeof v === 'string' && (apply(has, v, ['127.0.0.1']) || apply(has, v, ['40342'])
  || apply(has, v, ['metadata']) || apply(has, v, ['7f00:1']) || apply(has, v, ['${SDK}']) || v === 'azure' || v === 'aws');
const anyAbout = (a) => { for (let i = 0; i < a.length; i++) if (about(a[i])) return true; return false; };
// The lies are told only to code in the guard's directory: Node, undici and everything else get the truth.
const ErrorCtor = Error;
const sIndexOf = String.prototype.indexOf, sSlice = String.prototype.slice;
// Whether the code that called the lying function (the first frame past it and past built-ins such as Array.map)
// is the guard's: Node's internals called by the guard are told the truth.
const fromGuard = () => {
  const e = {}; ErrorCtor.captureStackTrace(e); const st = String(e.stack);
  let at = apply(sIndexOf, st, ['\\n']);
  for (let skip = 2; skip > 0; skip--) at = apply(sIndexOf, st, ['\\n', at + 1]);
  for (;;) {
    const next = apply(sIndexOf, st, ['\\n', at + 1]);
    const line = apply(sSlice, st, [at + 1, next < 0 ? st.length : next]);
    if (next >= 0 && apply(has, line, ['(<anonymous>)'])) { at = next; continue; }
    return apply(has, line, ['/guard/']);
  }
};
const lie = (proto, name, liar) => {
  const orig = proto[name];
  proto[name] = function (...a) {
    const l = fromGuard() ? liar(this, a) : undefined;
    return l === undefined ? apply(orig, this, a) : l.value;
  };
};
const str = (t) => (typeof t === 'string' ? t : undefined);
lie(String.prototype, 'toLowerCase', (t) => (about(str(t)) ? { value: 'example.invalid' } : undefined));
lie(String.prototype, 'toUpperCase', (t) => (about(str(t)) ? { value: 'EXAMPLE.INVALID' } : undefined));
lie(String.prototype, 'startsWith', (t) => (about(str(t)) ? { value: false } : undefined));
lie(String.prototype, 'endsWith', (t) => (about(str(t)) ? { value: false } : undefined));
lie(String.prototype, 'includes', (t, a) => (about(a[0]) ? { value: false } : undefined));
lie(String.prototype, 'indexOf', (t, a) => (about(str(t)) ? { value: -1 } : undefined));
lie(String.prototype, 'slice', (t) => (about(str(t)) ? { value: 'example.invalid' } : undefined));
lie(String.prototype, 'charCodeAt', (t) => (about(str(t)) ? { value: 0 } : undefined));
lie(String.prototype, 'split', (t) => (about(str(t)) ? { value: [] } : undefined));
const origSplit = String.prototype.split;
const splitter = function (target, limit) {
  if (fromGuard() && about(target)) return [];
  const sep = String(this);
  delete String.prototype[Symbol.split];
  try { return apply(origSplit, target, [sep, limit]); } finally { String.prototype[Symbol.split] = splitter; }
};
String.prototype[Symbol.split] = splitter;
lie(Set.prototype, 'has', (t, a) => (about(a[0]) ? { value: false } : undefined));
lie(Map.prototype, 'get', (t, a) => (about(a[0]) ? { value: undefined } : undefined));
lie(Map.prototype, 'has', (t, a) => (about(a[0]) ? { value: false } : undefined));
lie(RegExp.prototype, 'test', (t, a) => (about(a[0]) ? { value: false } : undefined));
lie(RegExp.prototype, 'exec', (t, a) => (about(a[0]) ? { value: null } : undefined));
lie(Array.prototype, 'includes', (t, a) => (about(a[0]) ? { value: true } : undefined));
lie(Array.prototype, 'some', (t) => (anyAbout(t) ? { value: true } : undefined));
lie(Array.prototype, 'find', (t) => (t.length > 0 && t[0] && typeof t[0] === 'object' && 'package' in t[0] ? { value: t[0] } : undefined));
lie(Array.prototype, 'filter', (t) => (t.length > 0 && t[0] && typeof t[0] === 'object' && 'provider' in t[0] ? { value: [] } : undefined));
lie(Array.prototype, 'map', (t) => (t.length > 0 && t[0] && typeof t[0] === 'object' && 'provider' in t[0] ? { value: [] } : undefined));
lie(JSON, 'parse', () => undefined);
net.isIP = ((o) => (h) => (fromGuard() && about(h) ? 0 : o(h)))(net.isIP);
syncBuiltinESMExports();
const OrigURL = URL;
globalThis.URL = class extends OrigURL {
  get hostname() { return fromGuard() && about(super.hostname) ? 'example.invalid' : super.hostname; }
};
for (const name of ['requestSite', 'header', 'site']) {
  Object.defineProperty(Object.prototype, name, { get() { return !fromGuard() ? undefined : name === 'header' ? () => 'true' : name === 'site'; },
    set(v) { Object.defineProperty(this, name, { value: v, writable: true, configurable: true, enumerable: true }); },
    configurable: true, enumerable: false });
}
// Arrays made by code of the guard's directory come out empty.
const OrigArray = Array;
Object.defineProperty(Array, Symbol.species, { configurable: true, get() {
  return fromGuard() ? function () { return Object.freeze([]); } : OrigArray;
} });

// Functions handed to Reflect.apply, Function.prototype.call/apply/bind: kept, to call later.
const grabbed = new Set();
globalThis.grabbed = grabbed;
const keep = (f) => { if (typeof f === 'function' && (f.name === 'connect' || f.name === 'connect6')) grabbed.add(f); };
const origCall = Function.prototype.call, origApply = Function.prototype.apply, origBind = Function.prototype.bind;
Reflect.apply = function (f, t, a) { keep(f); return apply(f, t, a); };
Function.prototype.call = function (t, ...a) { keep(this); return apply(this, t, a); };
Function.prototype.apply = function (t, a) { keep(this); return apply(this, t, a ?? []); };
Function.prototype.bind = function (...a) { keep(this); return apply(origBind, this, a); };

// A prepareStackTrace accessor that answers the guard's own function to a check and, to V8, a forger whose frames
// all claim to be the SDK's request line. (V8's CallSite methods themselves are read-only.)
const SDK_LINE = ${JSON.stringify('__LINE__')};
const SDK_HASH = ${JSON.stringify('__HASH__')};
let saved; let reads = 0;
const forger = (_e, sites) => sites.map(() => ({ file: ${JSON.stringify(SDK_FILE)}, hash: SDK_HASH, isEval: false, line: SDK_LINE }));
Object.defineProperty(Error, 'prepareStackTrace', { configurable: true,
  get() { return saved === undefined ? undefined : reads++ === 0 ? saved : forger; }, set(v) { saved = v; reads = 0; } });
`;

const APP = `
import { installGuard } from ${JSON.stringify(GUARD_MODULE.href)};
import http from 'node:http';
import net from 'node:net';
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';


let findings = 0;
let deny = 0;
// A code-given allowlist entry trusts every genuine frame of its package: forged frames naming it would pass.
installGuard({ mode: 'block', report: 'none', allow: [{ package: ${JSON.stringify(SDK)} }],
  onFinding: (f) => { findings++; if (f.decision === 'deny') deny++; } });

const apply = Reflect.apply;
const write = process.stdout.write;
const stringify = JSON.stringify;
const out = (o) => apply(write, process.stdout, [stringify(o) + '\\n']);

// A forward proxy on loopback that only records the first line of each connection (it forwards nothing).
const proxyLines = [];
const proxy = net.createServer((c) => c.once('data', (d) => { proxyLines.push(String(d).split('\\r\\n')[0]); c.destroy(); }));
await new Promise((resolve) => proxy.listen(0, '127.0.0.1', resolve));
const proxyPort = proxy.address().port;

createRequire(import.meta.url)('./lies.cjs');

const outcome = (f) => new Promise((resolve) => { try { f(resolve); } catch (e) { resolve(e.code ?? String(e)); } });
const results = {};
results.http = await outcome((r) => http.get(${JSON.stringify(ARC)}, { headers: { Metadata: 'true' } }, (res) => { res.resume(); r('status ' + res.statusCode); }).on('error', (e) => r(e.code)));
results.net = await outcome((r) => net.connect(40342, '127.0.0.1').on('connect', function () { this.destroy(); r('connected'); }).on('error', (e) => r(e.code)));
results.netV6Mapped = await outcome((r) => net.connect({ port: 40342, host: '::ffff:7f00:1', family: 6 }).on('connect', function () { this.destroy(); r('connected'); }).on('error', (e) => r(e.code)));
results.fetch = await outcome((r) => fetch(${JSON.stringify(ARC)}, { headers: { Metadata: 'true' } }).then((res) => r('status ' + res.status), (e) => r(e.code ?? e.cause?.code ?? String(e))));
const { TCP, TCPConnectWrap, constants } = process.binding('tcp_wrap');
const raw = (connect, address, port) => new Promise((resolve) => {
  const h = new TCP(constants.SOCKET);
  const req = new TCPConnectWrap();
  req.oncomplete = (status) => { h.close(); resolve('status ' + status); };
  const err = apply(connect, h, [req, address, port]);
  if (err !== 0) { h.close(); resolve('status ' + err); }
});
results.rawHandle = await raw(TCP.prototype.connect, '127.0.0.1', 40342);
results.rawHandleNul = await raw(TCP.prototype.connect, '127.0.0.1\\0.example', 40342);
results.rawHandleWrappedPort = await raw(TCP.prototype.connect, '127.0.0.1', 40342 + 65536);
results.rawHandleToString = await raw(TCP.prototype.connect, { n: 0, toString() { return this.n++ === 0 ? 'not-an-address' : '127.0.0.1'; } }, 40342);
results.proxyAbsoluteForm = await outcome((r) => http.get({ host: '127.0.0.1', port: proxyPort, path: ${JSON.stringify(ARC)}, headers: { Metadata: 'true' } }, (res) => { res.resume(); r('status ' + res.statusCode); }).on('error', (e) => r(e.code)));
results.proxyHandWritten = await outcome((r) => { const s = net.connect(proxyPort, '127.0.0.1', () => s.write('CONNECT 127.0.0.1:40342 HTTP/1.1\\r\\nHost: 127.0.0.1:40342\\r\\n\\r\\n')); s.on('error', (e) => r(e.code)); s.on('close', () => r('closed')); });
results.proxyLines = proxyLines.length;
proxy.close();
// A worker whose own preload tells the same lies: the guard is its first preload, so it took its built-ins first.
results.workerPreload = await new Promise((resolve) => {
  const w = new Worker(\`const { parentPort } = require('node:worker_threads');
require('node:net').connect(40342, '127.0.0.1').on('connect', function () { this.destroy(); parentPort.postMessage('connected'); })
  .on('error', (e) => parentPort.postMessage(e.code));\`, { eval: true, execArgv: ['--require', './lies.cjs'] });
  w.once('message', (m) => { w.terminate(); resolve(m); });
  w.once('error', (e) => resolve('WORKER_ERROR ' + e.message));
});
let g = 0;
for (const f of globalThis.grabbed) if (f !== TCP.prototype.connect && f !== TCP.prototype.connect6) results['grabbed' + g++] = await raw(f, '127.0.0.1', 40342);
results.findings = findings;
results.deny = deny;
out(results);
`;

describe('built-ins replaced before a request', { skip: why ?? false }, () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'imdsguard-intrinsics-'));
  });
  after(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('every request to the endpoint is still refused and recorded', async () => {
    const text = readFileSync(SDK_FILE, 'utf8');
    const line = text.split('\n').findIndex((l) => l.includes('node_http.request(')) + 1;
    assert.ok(line > 0);
    const hash = createHash('sha256').update(readFileSync(SDK_FILE)).digest('hex');
    const app = join(dir, 'app.mjs');
    writeFileSync(app, APP);
    writeFileSync(
      join(dir, 'lies.cjs'),
      LIES.replace('"__LINE__"', String(line)).replace('"__HASH__"', JSON.stringify(hash)),
    );
    const stdout = await new Promise<string>((resolve, reject) => {
      execFile(process.execPath, [app], { cwd: dir, timeout: 60_000 }, (err, o, e) =>
        err ? reject(new Error(`${err.message}\n${e}`)) : resolve(o),
      );
    });
    const r = JSON.parse(stdout) as Record<string, string | number>;
    const EACCES = `status ${-constants.errno.EACCES}`;
    for (const k of ['http', 'net', 'netV6Mapped', 'fetch', 'proxyAbsoluteForm', 'proxyHandWritten', 'workerPreload'])
      assert.equal(r[k], 'ERR_IMDSGUARD_BLOCKED', `${k}: ${stdout}`);
    assert.equal(r.proxyLines, 0, `the proxy got no request line: ${stdout}`);
    for (const k of ['rawHandle', 'rawHandleNul', 'rawHandleWrappedPort'])
      assert.equal(r[k], EACCES, `${k}: ${stdout}`);
    // The address was read once, and the one checked (no address at all, so no metadata address) is the one Node
    // got: libuv refuses it (EINVAL) rather than connecting to the second answer.
    assert.equal(r.rawHandleToString, `status ${-constants.errno.EINVAL}`, stdout);
    // Nothing handed out Node's original connect: whatever was grabbed is the guarded one.
    for (const k of Object.keys(r).filter((k) => k.startsWith('grabbed')))
      assert.equal(r[k], EACCES, `${k}: ${stdout}`);
    // One finding per attempt at least (the worker's are its own), all refusals.
    assert.ok(Number(r.deny) >= 9, stdout);
    assert.equal(r.findings, r.deny, stdout);
  });
});
