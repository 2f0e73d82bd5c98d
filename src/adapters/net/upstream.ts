/**
 * Re-originate a request to the real metadata endpoint: hop-by-hop headers dropped, Host set to the endpoint,
 * nothing added (in particular no X-Forwarded-For, which the EC2 service refuses on token requests).
 * Requests without a body (all a metadata client sends) go through the lean keep-alive client in h1-client.ts;
 * the rare request with a body goes through undici, which streams it.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { isIP } from 'node:net';
import { Pool } from 'undici';
import { H1Pool } from './h1-client.ts';

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authorization',
  'proxy-authenticate',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'host',
]);

export interface Upstream {
  readonly url: URL;
  /** The endpoint's address when the URL names an IP literal (what clients dialled before the redirect). */
  readonly ip: string | undefined;
  readonly port: number;
  /** host[:port] as sent in Host. */
  readonly authority: string;
  /** Bodiless requests. */
  readonly h1: H1Pool;
  /** Requests with a body (created on first use). */
  bodyPool(): Pool;
  close(): Promise<void>;
}

export interface UpstreamOptions {
  connectTimeoutMs?: number;
  connections?: number;
  /** Headers (and, for the lean client, each silence in the body) within this time. Default 5000. */
  timeoutMs?: number;
}

export function openUpstream(raw: string, opts: UpstreamOptions = {}): Upstream {
  const url = new URL(raw);
  if (url.protocol !== 'http:')
    throw new Error(`Upstream "${raw}" must be http:// (metadata services speak plain HTTP)`);
  if (url.pathname !== '/' || url.search) throw new Error(`Upstream "${raw}" must name an origin only, without a path`);
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const port = url.port ? Number(url.port) : 80;
  const connections = opts.connections ?? 128;
  const h1 = new H1Pool({
    host,
    port,
    connections,
    connectTimeoutMs: opts.connectTimeoutMs ?? 2000,
    headersTimeoutMs: opts.timeoutMs ?? 5000,
    bodyTimeoutMs: opts.timeoutMs ?? 5000,
    keepAliveTimeoutMs: 4000,
  });
  let pool: Pool | undefined;
  return {
    url,
    ip: isIP(host) ? host : undefined,
    port,
    authority: url.host,
    h1,
    bodyPool() {
      pool ??= new Pool(url.origin, {
        connections,
        connectTimeout: opts.connectTimeoutMs ?? 2000,
        keepAliveTimeout: 4000,
        pipelining: 1,
      });
      return pool;
    },
    async close() {
      await h1.close();
      await pool?.close().catch(() => undefined);
    },
  };
}

/**
 * The request head for the upstream (request line, headers, blank line) from the headers as Node parsed them:
 * hop-by-hop headers (and those named in Connection) removed, Host replaced. Node's parser has already refused
 * CR, LF and NUL in the method, target and header values.
 */
export function upstreamHead(method: string, target: string, h: IncomingHttpHeaders, authority: string): string {
  const conn = h.connection;
  let extra: Set<string> | undefined;
  if (typeof conn === 'string')
    for (const n of conn.split(',')) {
      const name = n.trim().toLowerCase();
      if (!name || name === 'close' || name === 'keep-alive') continue;
      extra ??= new Set();
      extra.add(name);
    }
  let head = `${method} ${target} HTTP/1.1\r\nhost: ${authority}\r\n`;
  for (const k in h) {
    const v = h[k];
    if (v === undefined || HOP_BY_HOP.has(k) || extra?.has(k)) continue;
    if (typeof v === 'string') head += `${k}: ${v}\r\n`;
    else for (const one of v) head += `${k}: ${one}\r\n`;
  }
  return `${head}\r\n`;
}

/** Request headers for the upstream: hop-by-hop headers (and those named in Connection) removed, Host replaced. */
export function upstreamHeaders(h: IncomingHttpHeaders, authority: string): Record<string, string | string[]> {
  const drop = new Set(HOP_BY_HOP);
  const conn = h.connection;
  if (typeof conn === 'string') for (const n of conn.split(',')) drop.add(n.trim().toLowerCase());
  const out: Record<string, string | string[]> = { host: authority };
  for (const [k, v] of Object.entries(h)) {
    if (v === undefined || drop.has(k)) continue;
    out[k] = v;
  }
  return out;
}

/** Response headers for the client: hop-by-hop ones removed (Node sets its own framing). */
export function downstreamHeaders(h: Record<string, string | string[] | undefined>): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(h)) {
    if (v === undefined || (HOP_BY_HOP.has(k) && k !== 'host')) continue;
    out[k] = v;
  }
  return out;
}
