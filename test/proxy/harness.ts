/** Test harness: the fake metadata service and the proxy on loopback, with real caller attribution. */
import { realpathSync } from 'node:fs';
import { type Agent, request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { connect } from 'node:net';
import { Attributor } from '../../src/adapters/net/caller/attribute.ts';
import {
  type CallerAttribution,
  type ProxyServerOptions,
  type RunningProxy,
  startProxyServer,
} from '../../src/adapters/net/proxy-server.ts';
import { parsePolicy } from '../../src/core/policy/load.ts';
import type { ProxyOutcome } from '../../src/core/policy/records.ts';
import type { Policy } from '../../src/core/policy/types.ts';
import { type FakeImdsServerOptions, type RunningFakeImds, startFakeImds } from '../fake-imds/server.ts';

/** The executable of this very process (the client in loopback tests). */
export const SELF_EXE = realpathSync(process.execPath);

export const LOOPBACK_POLICY = `
defaults:
  imdsv2_only: true
  reject_forwarded: true
  other_namespaces: deny
  unknown_caller: deny
rules:
  - name: this test process may read everything
    match: { exe: ${JSON.stringify(SELF_EXE)} }
    action: allow
  - name: everything else is refused
    match: {}
    action: deny
`;

export interface Harness {
  fake: RunningFakeImds;
  proxy: RunningProxy;
  port: number;
  outcomes: ProxyOutcome[];
  attributor: Attributor | undefined;
  setPolicy(text: string): void;
  close(): Promise<void>;
}

export async function startHarness(
  o: {
    policy?: string;
    fake?: FakeImdsServerOptions;
    attribution?: CallerAttribution;
    upstream?: string;
    headersTimeoutMs?: number;
    upstreamTimeoutMs?: number;
    keepAliveTimeoutMs?: number;
    /** Any other front-end option (limits, caps). */
    server?: Partial<ProxyServerOptions>;
  } = {},
): Promise<Harness> {
  const fake = await startFakeImds(o.fake ?? {});
  let policy: Policy = parsePolicy(o.policy ?? LOOPBACK_POLICY, 'test-policy.yaml');
  const attributor = o.attribution ? undefined : await Attributor.create();
  const outcomes: ProxyOutcome[] = [];
  const proxy = await startProxyServer({
    listeners: [{ host: '127.0.0.1', port: 0, upstream: o.upstream ?? fake.url }],
    policy: () => policy,
    attribution: o.attribution ?? attributor!,
    onOutcome: (x) => outcomes.push(x),
    ...(o.headersTimeoutMs ? { headersTimeoutMs: o.headersTimeoutMs } : {}),
    ...(o.upstreamTimeoutMs ? { upstreamTimeoutMs: o.upstreamTimeoutMs } : {}),
    ...(o.keepAliveTimeoutMs ? { keepAliveTimeoutMs: o.keepAliveTimeoutMs } : {}),
    ...o.server,
  });
  return {
    fake,
    proxy,
    port: proxy.addresses[0]!.port,
    outcomes,
    attributor,
    setPolicy(text) {
      policy = parsePolicy(text, 'test-policy.yaml');
    },
    async close() {
      await proxy.close();
      attributor?.close();
      await fake.close();
    },
  };
}

export interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** One HTTP request to 127.0.0.1:port (a fresh connection unless an agent is given). */
export function call(
  port: number,
  method: string,
  path: string,
  headers: Record<string, string> = {},
  agent?: Agent,
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, method, path, headers, agent: agent ?? false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        body += c;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/** Raw bytes to the proxy; resolves with whatever came back when the server closed (or after `waitMs`). */
export function raw(port: number, text: string, waitMs = 5000): Promise<{ data: string; closedAfterMs: number }> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const s = connect(port, '127.0.0.1');
    let data = '';
    const t = setTimeout(() => {
      s.destroy();
      resolve({ data, closedAfterMs: Number.POSITIVE_INFINITY });
    }, waitMs);
    s.on('data', (c) => {
      data += c.toString('latin1');
    });
    s.on('close', () => {
      clearTimeout(t);
      resolve({ data, closedAfterMs: Date.now() - started });
    });
    s.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code !== 'ECONNRESET') reject(e);
    });
    s.write(text);
  });
}

export async function token(port: number, ttl = '60', agent?: Agent): Promise<string> {
  const r = await call(port, 'PUT', '/latest/api/token', { 'X-aws-ec2-metadata-token-ttl-seconds': ttl }, agent);
  if (r.status !== 200) throw new Error(`token PUT gave ${r.status}: ${r.body}`);
  return r.body;
}
