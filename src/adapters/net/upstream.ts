/**
 * Re-originate a request to the real metadata endpoint: hop-by-hop headers dropped, Host set to the endpoint,
 * nothing added (in particular no X-Forwarded-For, which the EC2 service refuses on token requests).
 * Requests go through the lean keep-alive client in h1-client.ts; a body (read whole by the front end) is sent
 * with a Content-Length of its decoded size.
 */
import { isIP } from 'node:net';
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
  readonly h1: H1Pool;
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
  return {
    url,
    ip: isIP(host) ? host : undefined,
    port,
    authority: url.host,
    h1,
    async close() {
      await h1.close();
    },
  };
}

/**
 * The request head for the upstream (request line, headers, blank line) from the fields as the client sent them
 * (names lower-cased, duplicates kept, in order): hop-by-hop fields (and those named in Connection) removed, Host
 * replaced, Expect dropped (the body is already read), and Content-Length set to the decoded body's length when the
 * client framed a body at all. The parser has already refused CR, LF and NUL in the method, target and values.
 */
export function upstreamHead(
  method: string,
  target: string,
  fields: readonly string[],
  authority: string,
  body: Buffer | null,
): string {
  let extra: Set<string> | undefined;
  let framed = false;
  for (let i = 0; i < fields.length; i += 2) {
    const k = fields[i]!;
    if (k === 'content-length' || k === 'transfer-encoding') framed = true;
    else if (k === 'connection')
      for (const n of fields[i + 1]!.split(',')) {
        const name = n.trim().toLowerCase();
        if (!name || name === 'close' || name === 'keep-alive') continue;
        extra ??= new Set();
        extra.add(name);
      }
  }
  let head = `${method} ${target} HTTP/1.1\r\nhost: ${authority}\r\n`;
  for (let i = 0; i < fields.length; i += 2) {
    const k = fields[i]!;
    if (HOP_BY_HOP.has(k) || k === 'content-length' || k === 'expect' || extra?.has(k)) continue;
    head += `${k}: ${fields[i + 1]}\r\n`;
  }
  if (framed || body !== null) head += `content-length: ${body?.length ?? 0}\r\n`;
  return `${head}\r\n`;
}
