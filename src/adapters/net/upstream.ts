/**
 * Re-originate a request to the real metadata endpoint through node:http's keep-alive agent: hop-by-hop headers
 * dropped, Host set to the endpoint, nothing added (in particular no X-Forwarded-For, which the EC2 service refuses
 * on token requests). The request is relayed only after the policy decided on it; the proxy refuses requests whose
 * Connection header names other fields (relay-check.ts), so nothing the policy read is dropped here.
 */
import { Agent, type ClientRequest, type IncomingMessage, type OutgoingHttpHeaders, request } from 'node:http';
import { isIP } from 'node:net';

/** Fields that belong to one connection, not to the request (RFC 9110 §7.6.1), and Host, which is replaced. */
export const HOP_BY_HOP = new Set([
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
  /**
   * Send one request. `rawHeaders` as node:http hands them over (name, value, …); `body` is the request body read
   * whole (null: none). The response or the error is handed to `onResponse`/`onError` exactly once.
   */
  send(
    method: string,
    target: string,
    rawHeaders: readonly string[],
    body: Buffer | null,
    onResponse: (res: IncomingMessage) => void,
    onError: (err: NodeJS.ErrnoException) => void,
  ): { abort(): void };
  close(): Promise<void>;
}

export interface UpstreamOptions {
  connections?: number;
  /** No response head, or a silence in the body, this long: the request fails with code UPSTREAM_TIMEOUT. */
  timeoutMs?: number;
}

/** The request's fields for the upstream: hop-by-hop fields, Content-Length and Expect dropped; duplicates kept. */
export function upstreamHeaders(
  rawHeaders: readonly string[],
  authority: string,
  body: Buffer | null,
): OutgoingHttpHeaders {
  const out: Record<string, string | string[]> = { host: authority };
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const k = rawHeaders[i]!.toLowerCase();
    if (HOP_BY_HOP.has(k) || k === 'content-length' || k === 'expect') continue;
    const v = rawHeaders[i + 1]!;
    const prev = out[k];
    out[k] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
  }
  if (body !== null) out['content-length'] = String(body.length);
  return out;
}

export function openUpstream(raw: string, opts: UpstreamOptions = {}): Upstream {
  const url = new URL(raw);
  if (url.protocol !== 'http:')
    throw new Error(`Upstream "${raw}" must be http:// (metadata services speak plain HTTP)`);
  if (url.pathname !== '/' || url.search) throw new Error(`Upstream "${raw}" must name an origin only, without a path`);
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const port = url.port ? Number(url.port) : 80;
  const timeoutMs = opts.timeoutMs ?? 5000;
  const agent = new Agent({ keepAlive: true, maxSockets: opts.connections ?? 128, scheduling: 'lifo' });
  const authority = url.host;
  return {
    url,
    ip: isIP(host) ? host : undefined,
    port,
    authority,
    send(method, target, rawHeaders, body, onResponse, onError) {
      const headers = upstreamHeaders(rawHeaders, authority, body);
      let current: ClientRequest | undefined;
      let settled = false;
      const fail = (e: NodeJS.ErrnoException) => {
        if (settled) return;
        settled = true;
        onError(e);
      };
      const attempt = (mayRetry: boolean) => {
        let answered = false;
        const req = request({ host, port, method, path: target, agent, setHost: false, headers }, (res) => {
          answered = true;
          settled = true;
          onResponse(res);
        });
        current = req;
        req.setTimeout(timeoutMs, () => {
          const e: NodeJS.ErrnoException = new Error(`no answer within ${timeoutMs} ms`);
          e.code = 'UPSTREAM_TIMEOUT';
          fail(e);
          req.destroy(e);
        });
        req.on('error', (e: NodeJS.ErrnoException) => {
          // A kept-alive connection the service closed just as it was reused fails before any answer: the request
          // most likely never reached the service, so it is sent once more on a new connection (as node:http's docs advise).
          if (mayRetry && !answered && !settled && req.reusedSocket && e.code === 'ECONNRESET') attempt(false);
          else fail(e);
        });
        req.end(body ?? undefined);
      };
      attempt(true);
      return {
        abort() {
          settled = true;
          current?.destroy();
        },
      };
    },
    async close() {
      agent.destroy();
    },
  };
}
