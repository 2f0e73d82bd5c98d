/**
 * Runs inside the test network namespace: installs the guard, then makes each named request through one client
 * library and prints one JSON line per case: {case, outcome: 'ok'|'error', code?, status?, body?}.
 * Usage: node --import tsx test/guard/_clients.ts CASE [CASE…]   (guard settings from IMDSGUARD_GUARD_* variables)
 */
import http from 'node:http';
import { createRequire } from 'node:module';
import net from 'node:net';
import { networkInterfaces } from 'node:os';
import tls from 'node:tls';
import vm from 'node:vm';
import type * as Guard from '../../src/guard/index.ts';

// Some cases really connect to metadata addresses (allowlisted SDKs, monitor mode): only ever inside a test's own
// network namespace (which has nothing but lo), never from the machine's.
if (Object.keys(networkInterfaces()).some((name) => name !== 'lo')) {
  console.error('_clients.ts must run inside a test network namespace (ip netns exec …)');
  process.exit(2);
}

// The built package when the test asks for it (worker threads load the guard's register module from there).
const { guardInstalled, installGuard } = (await import(
  process.env.IMDSGUARD_TEST_GUARD_MODULE ?? '../../src/guard/index.ts'
)) as typeof Guard;
const findings: unknown[] = [];
const guard = installGuard({ onFinding: (f) => findings.push(f) });

type Result = { outcome: 'ok' | 'error'; code?: string; status?: number; body?: string; message?: string };

function httpGet(url: string, headers: Record<string, string> = {}): Promise<Result> {
  return new Promise((resolve) => {
    const req = http.get(url, { headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ outcome: 'ok', status: res.statusCode ?? 0, body: body.slice(0, 200) }));
    });
    req.on('error', (e: NodeJS.ErrnoException) =>
      resolve({ outcome: 'error', code: e.code ?? '', message: e.message }),
    );
  });
}

function rawConnect(host: string, port: number, useTls = false): Promise<Result> {
  return new Promise((resolve) => {
    const s = useTls ? tls.connect({ host, port, rejectUnauthorized: false }) : net.connect({ host, port });
    s.once(useTls ? 'secureConnect' : 'connect', () => {
      s.destroy();
      resolve({ outcome: 'ok' });
    });
    s.once('error', (e: NodeJS.ErrnoException) =>
      resolve({ outcome: 'error', code: e.code ?? '', message: e.message }),
    );
  });
}

async function viaFetch(url: string, init?: RequestInit): Promise<Result> {
  try {
    const r = await fetch(url, init);
    return { outcome: 'ok', status: r.status, body: (await r.text()).slice(0, 200) };
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    return { outcome: 'error', code: err.code ?? '', message: err.message };
  }
}

async function viaAxios(url: string): Promise<Result> {
  const { default: axios } = await import('axios');
  try {
    const r = await axios.get(url, { responseType: 'text', validateStatus: () => true, proxy: false });
    return { outcome: 'ok', status: r.status, body: String(r.data).slice(0, 200) };
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    return { outcome: 'error', code: err.code ?? '', message: err.message };
  }
}

async function viaGot(url: string): Promise<Result> {
  const { default: got } = await import('got');
  try {
    const r = await got(url, { throwHttpErrors: false, retry: { limit: 0 } });
    return { outcome: 'ok', status: r.statusCode, body: r.body.slice(0, 200) };
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    return { outcome: 'error', code: err.code ?? '', message: err.message };
  }
}

async function viaNodeFetch(url: string): Promise<Result> {
  const { default: nodeFetch } = await import('node-fetch');
  try {
    const r = await nodeFetch(url);
    return { outcome: 'ok', status: r.status, body: (await r.text()).slice(0, 200) };
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    return { outcome: 'error', code: err.code ?? '', message: err.message };
  }
}

async function awsSdk(): Promise<Result> {
  const { fromInstanceMetadata } = await import('@aws-sdk/credential-providers');
  try {
    const c = await fromInstanceMetadata({ timeout: 2000, maxRetries: 0 })();
    return { outcome: 'ok', body: c.accessKeyId };
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    return { outcome: 'error', code: err.code ?? err.name, message: err.message };
  }
}

async function gcpSdk(): Promise<Result> {
  const { GoogleAuth } = await import('google-auth-library');
  try {
    const auth = new GoogleAuth({ scopes: ['https://www.googleapis.com/auth/cloud-platform'] });
    const t = await auth.getAccessToken();
    return { outcome: 'ok', body: String(t) };
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    return { outcome: 'error', code: err.code ?? err.name, message: err.message };
  }
}

async function azureSdk(): Promise<Result> {
  const { ManagedIdentityCredential } = await import('@azure/identity');
  try {
    const cred = new ManagedIdentityCredential();
    const t = await cred.getToken('https://management.azure.com/.default');
    return { outcome: 'ok', body: t.token };
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    return { outcome: 'error', code: err.code ?? err.name, message: err.message };
  }
}

/**
 * An allowlisted caller that uses fetch: a module under node_modules/fake-sdk (the test writes it and allowlists
 * it with IMDSGUARD_GUARD_ALLOW), then the app's own fetch to the same origin, which undici would serve on the
 * kept-alive socket the SDK opened.
 */
async function fetchReuse(): Promise<Result> {
  const dir = process.env.FAKE_SDK_DIR;
  if (!dir) return { outcome: 'error', code: 'NO_FAKE_SDK' };
  const sdk = (await import(`${dir}/node_modules/fake-sdk/index.mjs`)) as { get(url: string): Promise<number> };
  const url = `http://169.254.169.254${AWS_CREDS}`;
  const first = await sdk.get(url);
  // Let undici return the connection to its pool (it is handed back a moment after the body ends).
  await new Promise((res) => setTimeout(res, 100));
  const r = await viaFetch(url);
  return { ...r, message: `sdk status ${first}; ${r.message ?? ''}` };
}

/**
 * The app's request queued behind the AWS SDK's at the agent's maxSockets: node:http hands it the socket the SDK's
 * request frees, without a connect(). The message says whether it really was queued and what the SDK got.
 */
async function awsSdkHandoff(): Promise<Result> {
  const { fromInstanceMetadata } = await import('@aws-sdk/credential-providers');
  const agent = http.globalAgent;
  const prevMax = agent.maxSockets;
  agent.maxSockets = 1;
  try {
    const sdk = fromInstanceMetadata({ timeout: 3000, maxRetries: 0 })().then(
      (c) => `sdk ${c.accessKeyId}`,
      (e: Error) => `sdk failed: ${e.message}`,
    );
    // Wait until the SDK holds the agent's only socket to the service, then ask for the same endpoint.
    const deadline = Date.now() + 3000;
    while (!Object.keys(agent.sockets).some((k) => k.startsWith('169.254.169.254:80')) && Date.now() < deadline)
      await new Promise((r) => setImmediate(r));
    const app = httpGet(`http://169.254.169.254${AWS_CREDS}fake-imds-role`);
    const queued = Object.values(agent.requests).reduce((n, q) => n + (q?.length ?? 0), 0);
    const [sdkSays, r] = await Promise.all([sdk, app]);
    return { ...r, message: `${sdkSays}; queued ${queued}; ${r.message ?? ''}` };
  } finally {
    agent.maxSockets = prevMax;
  }
}

const PROXY = 'http://127.0.0.1:3128';

/** A request line written by hand on a plain socket to the proxy, as https-proxy-agent writes its CONNECT. */
function rawProxyLine(line: string, how: 'whole' | 'split' | 'corked' = 'whole'): Promise<Result> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port: 3128 }, () => {
      const head = `${line}\r\nHost: 169.254.169.254\r\nConnection: close\r\n\r\n`;
      // Split after the method's first three letters: `CON` + `NECT …`, `GET` + ` http://…`.
      if (how === 'whole') s.write(head);
      else {
        if (how === 'corked') s.cork();
        for (const part of [head.slice(0, 3), head.slice(3, 12), head.slice(12)]) s.write(part);
        if (how === 'corked') s.uncork();
      }
      if (line.startsWith('CONNECT '))
        s.write(`GET ${AWS_CREDS} HTTP/1.1\r\nHost: 169.254.169.254\r\nConnection: close\r\n\r\n`);
    });
    let text = '';
    s.setEncoding('utf8');
    s.on('data', (d) => (text += d));
    s.on('end', () => resolve({ outcome: 'ok', status: Number(text.split(' ')[1]), body: text.slice(-200) }));
    s.on('error', (e: NodeJS.ErrnoException) => resolve({ outcome: 'error', code: e.code ?? '', message: e.message }));
  });
}

/**
 * Lines a client did not build, on sockets that node:http owns: a CONNECT written on the socket of an ordinary
 * request, and a request line put into node:http's private `_header` after the guard saw the real one.
 */
function httpSocketTamper(how: 'write' | 'header'): Promise<Result> {
  return new Promise((resolve) => {
    const fail = (e: NodeJS.ErrnoException) => resolve({ outcome: 'error', code: e.code ?? '', message: e.message });
    const req = http.request({ host: '127.0.0.1', port: 3128, path: '/', method: 'GET' });
    req.on('error', fail);
    if (how === 'write') {
      req.on('socket', (s) => {
        s.on('error', fail);
        s.write(`CONNECT 169.254.169.254:80 HTTP/1.1\r\nHost: 169.254.169.254:80\r\n\r\n`);
        s.write(`GET ${AWS_CREDS} HTTP/1.1\r\nHost: 169.254.169.254\r\nConnection: close\r\n\r\n`);
        // Bytes as they come (node:http's own parser reads them too, so no decoding is set on the socket).
        let text = '';
        s.on('data', (d: Buffer) => (text += d.toString('latin1')));
        s.on('close', () => resolve({ outcome: 'ok', status: Number(text.split(' ')[1]), body: text.slice(-200) }));
      });
      return;
    }
    req.on('response', (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ outcome: 'ok', status: res.statusCode ?? 0, body: body.slice(0, 200) }));
    });
    req.flushHeaders = () => {};
    (req as unknown as { _implicitHeader(): void })._implicitHeader();
    const r = req as unknown as { _header: string };
    r._header = r._header.replace('GET / HTTP/1.1', `GET http://169.254.169.254${AWS_CREDS} HTTP/1.1`);
    req.end();
  });
}

/** A request written for a forward proxy: absolute-form target, or CONNECT then a request through the tunnel. */
function viaProxyRaw(method: 'GET' | 'CONNECT', target: string): Promise<Result> {
  return new Promise((resolve) => {
    const req = http.request({ host: '127.0.0.1', port: 3128, method, path: target });
    const fail = (e: NodeJS.ErrnoException) => resolve({ outcome: 'error', code: e.code ?? '', message: e.message });
    req.on('error', fail);
    req.on('response', (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ outcome: 'ok', status: res.statusCode ?? 0, body: body.slice(0, 200) }));
    });
    req.on('connect', (_res, socket) => {
      const host = target.split(':')[0];
      socket.write(`GET ${AWS_CREDS} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
      let body = '';
      socket.setEncoding('utf8');
      socket.on('data', (d) => (body += d));
      socket.on('end', () => resolve({ outcome: 'ok', status: Number(body.split(' ')[1]), body: body.slice(0, 200) }));
      socket.on('error', fail);
    });
    req.end();
  });
}

async function viaAxiosEnvProxy(url: string): Promise<Result> {
  const { default: axios } = await import('axios');
  try {
    // No proxy option: axios takes HTTP_PROXY from the environment, as applications deployed behind one do.
    const r = await axios.get(url, { responseType: 'text', validateStatus: () => true });
    return { outcome: 'ok', status: r.status, body: String(r.data).slice(0, 200) };
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    return { outcome: 'error', code: err.code ?? '', message: err.message };
  }
}

async function viaUndici(url: string, how: 'proxy-agent' | 'env' | 'global-fetch'): Promise<Result> {
  const undici = await import('undici');
  try {
    let r: { status: number; text(): Promise<string> };
    if (how === 'global-fetch')
      r = await fetch(url, { dispatcher: new undici.ProxyAgent(PROXY) } as unknown as RequestInit);
    else {
      const dispatcher = how === 'env' ? new undici.EnvHttpProxyAgent() : new undici.ProxyAgent(PROXY);
      r = await undici.fetch(url, { dispatcher });
    }
    return { outcome: 'ok', status: r.status, body: (await r.text()).slice(0, 200) };
  } catch (e) {
    let err = e as NodeJS.ErrnoException & { cause?: unknown };
    // undici's fetch reports connection failures as `TypeError: fetch failed` with the reason as its cause.
    for (let i = 0; i < 4 && err.code === undefined && err.cause; i++) err = err.cause as typeof err;
    return { outcome: 'error', code: err.code ?? '', message: err.message };
  }
}

/** Options whose getters answer the check one thing and net another (a harmless address first, then the service). */
function netGetterOptions(): Promise<Result> {
  // Four reads happen before net's own in lookupAndConnect: the Socket constructor's, then a check that reads the
  // host three times. A check that reads once and hands net its own copy leaves net nothing else to read.
  let reads = 0;
  const opts = {
    get host() {
      return ++reads <= 4 ? '127.0.0.1' : '169.254.169.254';
    },
    get port() {
      return reads <= 4 ? 8080 : 80;
    },
  };
  return new Promise((resolve) => {
    const s = net.connect(opts as net.NetConnectOpts);
    s.once('connect', () => {
      const where = `${s.remoteAddress}:${s.remotePort}`;
      s.destroy();
      resolve({ outcome: 'ok', message: `connected to ${where}` });
    });
    s.once('error', (e: NodeJS.ErrnoException) =>
      resolve({ outcome: 'error', code: e.code ?? '', message: e.message }),
    );
  });
}

/** Application code compiled under the AWS SDK's file name: a vm script, or eval/new Function with a sourceURL. */
function spoofedCaller(how: 'vm' | 'function'): Promise<Result> {
  const sdkFile = createRequire(import.meta.url).resolve('@smithy/credential-provider-imds');
  const body = `return new Promise((resolve) => {
    const req = http.get(url, (res) => { res.resume(); res.on('end', () => resolve({ outcome: 'ok', status: res.statusCode })); });
    req.on('error', (e) => resolve({ outcome: 'error', code: e.code, message: e.message }));
  });`;
  const fn =
    how === 'vm'
      ? (vm.runInThisContext(`(function (http, url) { ${body} })`, { filename: sdkFile }) as (
          h: typeof http,
          u: string,
        ) => Promise<Result>)
      : (new Function('http', 'url', `${body}\n//# sourceURL=${sdkFile}`) as (
          h: typeof http,
          u: string,
        ) => Promise<Result>);
  return fn(http, `http://169.254.169.254${AWS_CREDS}`);
}

/** A TCP handle from process.binding('tcp_wrap'), connected by hand: no net.Socket, no connect() of net. */
function tcpWrap(): Promise<Result> {
  type Handle = { connect(req: object, address: string, port: number): number; close(): void };
  const b = (process as unknown as { binding(n: string): Record<string, unknown> }).binding('tcp_wrap') as {
    TCP: new (type: number) => Handle;
    TCPConnectWrap: new () => { oncomplete?: (status: number) => void };
    constants: { SOCKET: number };
  };
  return new Promise((resolve) => {
    const h = new b.TCP(b.constants.SOCKET);
    const req = new b.TCPConnectWrap();
    req.oncomplete = (status) => {
      h.close();
      resolve(status === 0 ? { outcome: 'ok' } : { outcome: 'error', code: `uv ${status}` });
    };
    const err = h.connect(req, '169.254.169.254', 80);
    if (err !== 0) {
      h.close();
      resolve({ outcome: 'error', code: `uv ${err}` });
    }
  });
}

/** A worker thread started after the guard: its own request to the service. */
async function workerRequest(): Promise<Result> {
  const { Worker } = await import('node:worker_threads');
  const code = `import http from 'node:http'; import { parentPort } from 'node:worker_threads';
    http.get('http://169.254.169.254${AWS_CREDS}', (res) => { res.resume(); parentPort.postMessage({ outcome: 'ok', status: res.statusCode }); })
      .on('error', (e) => parentPort.postMessage({ outcome: 'error', code: e.code, message: e.message }));`;
  const w = new Worker(new URL(`data:text/javascript,${encodeURIComponent(code)}`));
  return workerResult(w);
}

/** The same from an `eval` worker (CommonJS code, which Node starts without any --import). */
async function workerEvalRequest(): Promise<Result> {
  const { Worker } = await import('node:worker_threads');
  const code = `const http = require('node:http'); const { parentPort } = require('node:worker_threads');
    http.get('http://169.254.169.254${AWS_CREDS}', (res) => { res.resume(); parentPort.postMessage({ outcome: 'ok', status: res.statusCode }); })
      .on('error', (e) => parentPort.postMessage({ outcome: 'error', code: e.code, message: e.message }));`;
  return workerResult(new Worker(code, { eval: true }));
}

async function workerResult(w: import('node:worker_threads').Worker): Promise<Result> {
  try {
    return await new Promise<Result>((resolve) => {
      w.once('message', (m: Result) => resolve(m));
      w.once('error', (e: NodeJS.ErrnoException) =>
        resolve({ outcome: 'error', code: 'WORKER_ERROR', message: e.message }),
      );
    });
  } finally {
    await w.terminate();
  }
}

/** Another module tries to turn the guard off or to monitor mode, then asks for the credentials. */
async function takeOver(): Promise<Result> {
  const seen: string[] = [];
  const view = guardInstalled() as unknown as Record<string, unknown>;
  seen.push(`view.uninstall=${typeof view.uninstall}`, `view.reconfigure=${typeof view.reconfigure}`);
  try {
    installGuard({ mode: 'monitor' });
    seen.push('reinstall accepted');
  } catch {
    seen.push('reinstall refused');
  }
  try {
    (view as { mode: string }).mode = 'monitor';
  } catch {
    // frozen
  }
  const r = await httpGet(`http://169.254.169.254${AWS_CREDS}`);
  return { ...r, message: `${seen.join(', ')}; mode ${guard.mode}; ${r.message ?? ''}` };
}

/**
 * The application hands the AWS SDK an object whose getter is a bound built-in that requests
 * the metadata service: no application frame is left between the SDK's frame and the request. The error of the
 * app's request has no listener of the app's own, so it is caught at the process.
 */
function launder(how: 'getter-http' | 'getter-fetch' | 'profile'): Promise<Result> {
  const url = `http://169.254.169.254${AWS_CREDS}`;
  return new Promise((resolve) => {
    const done = (r: Result) => {
      process.off('uncaughtException', onError);
      process.off('unhandledRejection', onError);
      resolve(r);
    };
    const onError = (e: unknown) => {
      const err = e as NodeJS.ErrnoException & { cause?: NodeJS.ErrnoException };
      done({ outcome: 'error', code: err.cause?.code ?? err.code ?? '', message: err.message });
    };
    process.on('uncaughtException', onError);
    process.on('unhandledRejection', onError);
    const got = (res: http.IncomingMessage) => {
      res.resume();
      done({ outcome: 'ok', status: res.statusCode ?? 0 });
    };
    const req = http.get as (u: string, cb: (res: http.IncomingMessage) => void) => http.ClientRequest;
    const bound =
      how === 'getter-fetch'
        ? Reflect.apply.bind(Reflect, fetch, globalThis, [url])
        : Reflect.apply.bind(Reflect, req, http, [url, got]);
    void (async () => {
      if (how === 'profile') {
        const { fromInstanceMetadata } = await import('@aws-sdk/credential-providers');
        // Read by @smithy/credential-provider-imds (allowlisted) when the provider is built.
        const init = { timeout: 500, maxRetries: 0 };
        Object.defineProperty(init, 'profile', { get: bound });
        await fromInstanceMetadata(init)().catch(() => undefined);
        return;
      }
      const { providerConfigFromInit } = await import('@smithy/credential-provider-imds');
      const init = {};
      Object.defineProperty(init, 'timeout', { get: bound });
      const { timeout } = providerConfigFromInit(init) as unknown as { timeout: unknown };
      if (how === 'getter-fetch')
        (timeout as Promise<Response>).then((r) => done({ outcome: 'ok', status: r.status }), onError);
    })();
  });
}

const AWS_CREDS = '/latest/meta-data/iam/security-credentials/';
const CASES: Record<string, () => Promise<Result>> = {
  'http-ip': () => httpGet(`http://169.254.169.254${AWS_CREDS}`),
  'http-name': () => httpGet(`http://rebind.guard.test${AWS_CREDS}`),
  'http-ipv6': () => httpGet(`http://[fd00:ec2::254]${AWS_CREDS}`),
  'http-gcp-name': () =>
    httpGet('http://metadata.google.internal/computeMetadata/v1/instance/id', { 'Metadata-Flavor': 'Google' }),
  'http-decimal': () => httpGet(`http://2852039166${AWS_CREDS}`),
  'http-ecs': () => httpGet('http://169.254.170.2/v2/credentials/x'),
  'http-benign': () => httpGet('http://127.0.0.1:8080/latest/meta-data/'),
  'http-benign-name': () => httpGet('http://benign.guard.test:8080/latest/meta-data/'),
  'fetch-ip': () => viaFetch(`http://169.254.169.254${AWS_CREDS}`),
  'fetch-name': () => viaFetch(`http://rebind.guard.test${AWS_CREDS}`),
  'fetch-gcp-header': () =>
    viaFetch('http://169.254.169.254/computeMetadata/v1/instance/service-accounts/default/token', {
      headers: { 'Metadata-Flavor': 'Google' },
    }),
  'http-azure': () =>
    httpGet('http://169.254.169.254/metadata/identity/oauth2/token?api-version=2018-02-01&resource=x', {
      Metadata: 'true',
    }),
  'fetch-benign': () => viaFetch('http://benign.guard.test:8080/latest/meta-data/'),
  'axios-name': () => viaAxios(`http://rebind.guard.test${AWS_CREDS}`),
  'axios-benign': () => viaAxios('http://127.0.0.1:8080/latest/meta-data/'),
  'got-name': () => viaGot(`http://rebind.guard.test${AWS_CREDS}`),
  'got-benign': () => viaGot('http://127.0.0.1:8080/latest/meta-data/'),
  'node-fetch-name': () => viaNodeFetch(`http://rebind.guard.test${AWS_CREDS}`),
  'node-fetch-benign': () => viaNodeFetch('http://127.0.0.1:8080/latest/meta-data/'),
  'net-ip': () => rawConnect('169.254.169.254', 80),
  'net-name': () => rawConnect('rebind.guard.test', 80),
  'tls-name': () => rawConnect('rebind.guard.test', 443, true),
  'net-benign': () => rawConnect('127.0.0.1', 8080),
  'aws-sdk': awsSdk,
  'fetch-reuse': fetchReuse,
  'gcp-sdk': gcpSdk,
  'azure-sdk': azureSdk,
  'aws-sdk-handoff': awsSdkHandoff,
  'http-absolute-proxy': () => viaProxyRaw('GET', `http://169.254.169.254${AWS_CREDS}`),
  'http-absolute-proxy-decimal': () => viaProxyRaw('GET', `http://2852039166${AWS_CREDS}`),
  'http-absolute-proxy-gcp-name': () => viaProxyRaw('GET', 'http://metadata.google.internal/computeMetadata/v1/'),
  'http-connect-proxy': () => viaProxyRaw('CONNECT', '169.254.169.254:80'),
  'raw-connect-proxy': () => rawProxyLine('CONNECT 169.254.169.254:80 HTTP/1.1'),
  'raw-absolute-proxy': () => rawProxyLine(`GET http://169.254.169.254${AWS_CREDS} HTTP/1.1`),
  'raw-connect-proxy-split': () => rawProxyLine('CONNECT 169.254.169.254:80 HTTP/1.1', 'split'),
  'raw-absolute-proxy-corked': () => rawProxyLine(`GET http://169.254.169.254${AWS_CREDS} HTTP/1.1`, 'corked'),
  'http-socket-connect-write': () => httpSocketTamper('write'),
  'http-header-tamper': () => httpSocketTamper('header'),
  'http-absolute-proxy-benign': () => viaProxyRaw('GET', 'http://benign.guard.test:8080/latest/meta-data/'),
  'axios-env-proxy': () => viaAxiosEnvProxy(`http://169.254.169.254${AWS_CREDS}`),
  'axios-env-proxy-benign': () => viaAxiosEnvProxy('http://benign.guard.test:8080/latest/meta-data/'),
  'undici-proxy-agent': () => viaUndici(`http://169.254.169.254${AWS_CREDS}`, 'proxy-agent'),
  'undici-env-proxy': () => viaUndici(`http://169.254.169.254${AWS_CREDS}`, 'env'),
  'fetch-proxy-dispatcher': () => viaUndici(`http://169.254.169.254${AWS_CREDS}`, 'global-fetch'),
  'undici-proxy-benign': () => viaUndici('http://benign.guard.test:8080/latest/meta-data/', 'proxy-agent'),
  'net-getter-options': netGetterOptions,
  'vm-spoofed-caller': () => spoofedCaller('vm'),
  'function-spoofed-caller': () => spoofedCaller('function'),
  'tcp-wrap': tcpWrap,
  'launder-getter-http': () => launder('getter-http'),
  'launder-getter-fetch': () => launder('getter-fetch'),
  'launder-profile': () => launder('profile'),
  'worker-request': workerRequest,
  'worker-eval-request': workerEvalRequest,
  'take-over': takeOver,
};

// Loading an SDK under tsx takes seconds on a loaded machine; a case that needs longer than this is stuck.
const CASE_TIMEOUT_MS = 25_000;
for (const name of process.argv.slice(2)) {
  const run = CASES[name];
  if (!run) throw new Error(`unknown case "${name}"`);
  const before = findings.length;
  const r = await Promise.race([
    run(),
    new Promise<Result>((res) => setTimeout(() => res({ outcome: 'error', code: 'CASE_TIMEOUT' }), CASE_TIMEOUT_MS)),
  ]);
  const fs = findings.slice(before) as Array<{ decision?: string; provider?: string; evidence?: { via?: string } }>;
  process.stdout.write(
    `${JSON.stringify({ case: name, ...r, findings: fs.map((f) => ({ decision: f.decision, provider: f.provider, via: f.evidence?.via })) })}\n`,
  );
}
process.exit(0);
