/**
 * Re-originate a request to the real metadata endpoint: hop-by-hop headers dropped, Host set to the endpoint,
 * nothing added (in particular no X-Forwarded-For, which the EC2 service refuses on token requests).
 */
import type { IncomingHttpHeaders } from 'node:http';
import { isIP } from 'node:net';
import { Pool } from 'undici';

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
  readonly pool: Pool;
}

export interface UpstreamOptions {
  connectTimeoutMs?: number;
  connections?: number;
}

export function openUpstream(raw: string, opts: UpstreamOptions = {}): Upstream {
  const url = new URL(raw);
  if (url.protocol !== 'http:')
    throw new Error(`Upstream "${raw}" must be http:// (metadata services speak plain HTTP)`);
  if (url.pathname !== '/' || url.search) throw new Error(`Upstream "${raw}" must name an origin only, without a path`);
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const port = url.port ? Number(url.port) : 80;
  return {
    url,
    ip: isIP(host) ? host : undefined,
    port,
    authority: url.host,
    pool: new Pool(url.origin, {
      connections: opts.connections ?? 128,
      connectTimeout: opts.connectTimeoutMs ?? 2000,
      keepAliveTimeout: 4000,
      pipelining: 1,
    }),
  };
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
