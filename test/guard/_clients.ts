/**
 * Runs inside the test network namespace: installs the guard, then makes each named request through one client
 * library and prints one JSON line per case: {case, outcome: 'ok'|'error', code?, status?, body?}.
 * Usage: node --import tsx test/guard/_clients.ts CASE [CASE…]   (guard settings from IMDSGUARD_GUARD_* variables)
 */
import http from 'node:http';
import net from 'node:net';
import { networkInterfaces } from 'node:os';
import tls from 'node:tls';
import { installGuard } from '../../src/guard/index.ts';

// Some cases really connect to metadata addresses (allowlisted SDKs, monitor mode): only ever inside a test's own
// network namespace (which has nothing but lo), never from the machine's.
if (Object.keys(networkInterfaces()).some((name) => name !== 'lo')) {
  console.error('_clients.ts must run inside a test network namespace (ip netns exec …)');
  process.exit(2);
}

const findings: unknown[] = [];
installGuard({ onFinding: (f) => findings.push(f) });

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
};

for (const name of process.argv.slice(2)) {
  const run = CASES[name];
  if (!run) throw new Error(`unknown case "${name}"`);
  const before = findings.length;
  const r = await Promise.race([
    run(),
    new Promise<Result>((res) => setTimeout(() => res({ outcome: 'error', code: 'CASE_TIMEOUT' }), 8000)),
  ]);
  const fs = findings.slice(before) as Array<{ decision?: string; provider?: string; evidence?: { via?: string } }>;
  process.stdout.write(
    `${JSON.stringify({ case: name, ...r, findings: fs.map((f) => ({ decision: f.decision, provider: f.provider, via: f.evidence?.via })) })}\n`,
  );
}
process.exit(0);
