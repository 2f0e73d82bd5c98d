/**
 * The enforcing metadata proxy: one listener per upstream endpoint (after a redirect Node cannot read the original
 * destination, so the port says which endpoint the client dialled), caller attribution once per connection, a
 * policy decision per request, responses streamed back, and one record per request. Bodies are never logged.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { isIPv4, isIPv6 } from 'node:net';
import { performance } from 'node:perf_hooks';
import { Writable } from 'node:stream';
import { matchEndpoint } from '../../core/endpoints/lookup.ts';
import type { PathClass } from '../../core/model/hit.ts';
import { AWS_TOKEN_HEADER, AWS_TTL_HEADER, isTokenRequest, tokenTtlSeconds } from '../../core/policy/aws-semantics.ts';
import { DecisionCache } from '../../core/policy/decision-cache.ts';
import { newRateState } from '../../core/policy/rate-limit.ts';
import type { ProxyOutcome } from '../../core/policy/records.ts';
import { policyPath } from '../../core/policy/target-check.ts';
import type { CallerIdentity, Decision, Policy, PolicyRequest } from '../../core/policy/types.ts';
import type { ConnectionEnds } from './caller/attribute.ts';
import type { Exchange, ResponseHandler, UpstreamError } from './h1-client.ts';
import { TokenLedger } from './token-ledger.ts';
import { downstreamHeaders, openUpstream, type Upstream, upstreamHead, upstreamHeaders } from './upstream.ts';

export interface ListenSpec {
  host: string;
  port: number;
  upstream: string;
}

export interface CallerAttribution {
  attribute(c: ConnectionEnds): Promise<CallerIdentity>;
}

export interface ProxyServerOptions {
  listeners: ListenSpec[];
  /** Read on every request, so a reload (SIGHUP) takes effect at once. */
  policy: () => Policy;
  attribution: CallerAttribution;
  /** Every request's outcome, after the response finished. */
  onOutcome: (o: ProxyOutcome) => void;
  nowMs?: () => number;
  /** Client must send complete headers within this time (slowloris). Default 5000. */
  headersTimeoutMs?: number;
  /** Whole request within this time. Default 10000. */
  requestTimeoutMs?: number;
  /** Upstream must answer with headers within this time, else 504. Default 5000. */
  upstreamTimeoutMs?: number;
  /** Idle keep-alive connections are closed after this time. Default 5000. */
  keepAliveTimeoutMs?: number;
  /** Largest request head accepted (431 beyond). Default 8192. */
  maxHeaderSize?: number;
}

export interface RunningProxy {
  /** Where each listener ended up (port 0 resolved). */
  readonly addresses: Array<{ host: string; port: number; upstream: string }>;
  close(): Promise<void>;
}

const CLIENT_ERROR_STATUS: Record<string, [number, string]> = {
  HPE_HEADER_OVERFLOW: [431, 'Request Header Fields Too Large'],
  ERR_HTTP_REQUEST_TIMEOUT: [408, 'Request Timeout'],
};

const AWS_401 =
  '<?xml version="1.0" encoding="iso-8859-1"?>\n<html><head><title>401 - Unauthorized</title></head><body><h1>401 - Unauthorized</h1></body></html>\n';

function hostKind(host: string): 'ipv4' | 'ipv6' | 'hostname' {
  return isIPv4(host) ? 'ipv4' : isIPv6(host) ? 'ipv6' : 'hostname';
}

type Classified = { provider: string | null; service: string | null; pathClass: PathClass };

/** Which service a path on this upstream addresses. An upstream that is not a catalogued address (a test fake on
 * loopback) is read as the shared 169.254.169.254, where the path names the provider. Cached per path: clients ask
 * for the same few paths over and over. */
function classifier(up: Upstream): (path: string) => Classified {
  const host = up.url.hostname.replace(/^\[|\]$/g, '');
  const kind = hostKind(host);
  const cache = new Map<string, Classified>();
  return (path) => {
    let c = cache.get(path);
    if (!c) {
      const m = matchEndpoint(host, kind, up.port, path) ?? matchEndpoint('169.254.169.254', 'ipv4', 80, path);
      c = m
        ? { provider: m.provider, service: m.service, pathClass: m.pathClass }
        : { provider: null, service: null, pathClass: 'other' };
      if (cache.size >= 1024) cache.clear();
      cache.set(path, c);
    }
    return c;
  };
}

function flatHeaders(req: IncomingMessage): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(req.headers)) out[k] = Array.isArray(v) ? v.join(', ') : v;
  return out;
}

function refusalBody(d: Decision): string {
  return `imdsguard: ${d.action === 'deny' ? 'refused' : d.action}: ${d.reason} (rule "${d.rule}")\n`;
}

const STATUS_TEXT: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  405: 'Method Not Allowed',
  429: 'Too Many Requests',
};

type Finish = (
  started: number,
  request: PolicyRequest,
  caller: CallerIdentity,
  decision: Decision,
  status: number,
  upstreamError?: string,
) => void;

/**
 * One request on its way through the lean upstream client: the response head and body go to the client as they
 * come, and the outcome is recorded once, whatever happens. A class rather than closures: nothing is allocated per
 * request beyond this object.
 */
class Forwarding implements ResponseHandler {
  exchange: Exchange | undefined;
  private status = 0;
  private capture = false;
  private tokenText = '';
  private done = false;
  private readonly res: ServerResponse;
  private readonly started: number;
  private readonly request: PolicyRequest;
  private readonly caller: CallerIdentity;
  private readonly decision: Decision;
  private readonly ttl: number | null;
  private readonly finish: Finish;
  private readonly ledger: TokenLedger;
  private readonly nowMs: () => number;
  constructor(
    res: ServerResponse,
    started: number,
    request: PolicyRequest,
    caller: CallerIdentity,
    decision: Decision,
    ttl: number | null,
    finish: Finish,
    ledger: TokenLedger,
    nowMs: () => number,
  ) {
    this.res = res;
    this.started = started;
    this.request = request;
    this.caller = caller;
    this.decision = decision;
    this.ttl = ttl;
    this.finish = finish;
    this.ledger = ledger;
    this.nowMs = nowMs;
  }

  private end(upstreamError?: string): void {
    if (this.done) return;
    this.done = true;
    // The token is read (to remember its digest) but never logged or stored.
    if (this.capture && this.tokenText && this.ttl !== null) this.ledger.add(this.tokenText, this.ttl, this.nowMs());
    this.finish(this.started, this.request, this.caller, this.decision, this.status, upstreamError);
  }

  private clientGone(): void {
    if (this.done) return;
    this.exchange?.abort();
    this.end('CLIENT_CLOSED');
  }

  onHead(status: number, headers: Record<string, string | string[]>): void {
    this.res.writeHead(status, headers);
    this.status = status;
    this.capture = this.ttl !== null && status === 200;
  }

  onData(chunk: Buffer, last: boolean): boolean {
    if (this.capture && this.tokenText.length < 4096) this.tokenText += chunk.toString('latin1');
    if (last) {
      this.res.end(chunk);
      return true;
    }
    if (this.res.write(chunk)) return true;
    // Backpressure (a large body, a slow client): wait for the client, and give up on the upstream if it leaves.
    this.res.once('drain', () => this.exchange?.resume());
    this.res.once('close', () => this.clientGone());
    return false;
  }

  onEnd(): void {
    if (!this.res.writableEnded) this.res.end();
    this.end();
  }

  onError(err: UpstreamError): void {
    if (this.done) return;
    if (this.status === 0 && !this.res.headersSent) {
      this.status = upstreamFailure(this.res, err.code, err.name, err.code);
      this.res.once('close', () => this.end(err.code));
      return;
    }
    this.res.destroy();
    this.end(err.code);
  }
}

/** Answer 502 (unreachable) or 504 (timed out) for an upstream that failed before its response head. */
function upstreamFailure(
  res: ServerResponse,
  code: string | undefined,
  name: string,
  what: string | undefined,
): number {
  const timeout = /timeout/i.test(code ?? '') || /timeout/i.test(name);
  const status = timeout ? 504 : 502;
  const body = `imdsguard: metadata endpoint ${timeout ? 'timed out' : 'unreachable'} (${what})\n`;
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(body) });
  res.end(body);
  return status;
}

function internalError(res: ServerResponse): (e: unknown) => void {
  return (e) => {
    if (!res.headersSent) {
      res.writeHead(500, { 'content-type': 'text/plain' });
      res.end(`imdsguard: internal error\n`);
    } else res.destroy();
    process.emitWarning(`proxy: ${(e as Error).message}`);
  };
}

export async function startProxyServer(opts: ProxyServerOptions): Promise<RunningProxy> {
  const nowMs = opts.nowMs ?? Date.now;
  const ledger = new TokenLedger();
  const rate = newRateState();
  const servers: Server[] = [];
  const upstreams: Upstream[] = [];
  const addresses: RunningProxy['addresses'] = [];

  for (const spec of opts.listeners) {
    const up = openUpstream(spec.upstream, { timeoutMs: opts.upstreamTimeoutMs ?? 5000 });
    upstreams.push(up);
    const identities = new WeakMap<Socket, Promise<CallerIdentity>>();
    const resolved = new WeakMap<Socket, CallerIdentity>();
    const identityOf = (sock: Socket): Promise<CallerIdentity> => {
      let p = identities.get(sock);
      if (!p) {
        p = opts.attribution.attribute({
          peerIp: sock.remoteAddress ?? '',
          peerPort: sock.remotePort ?? 0,
          localIp: sock.localAddress ?? '',
          localPort: sock.localPort ?? 0,
          ...(up.ip ? { originalDst: { ip: up.ip, port: up.port } } : {}),
        });
        identities.set(sock, p);
        p.then((c) => resolved.set(sock, c)).catch(() => undefined);
      }
      return p;
    };
    const classify = classifier(up);
    // Per listener: the same target classifies differently on another endpoint. Rate limits stay shared.
    const decisions = new DecisionCache(rate);
    const listenerName = `${spec.host.includes(':') ? `[${spec.host}]` : spec.host}:${spec.port}`;
    const destination = { ip: up.ip ?? up.url.hostname, port: up.port };

    const finish = (
      started: number,
      request: PolicyRequest,
      caller: CallerIdentity,
      decision: Decision,
      status: number,
      upstreamError?: string,
    ) => {
      opts.onOutcome({
        time: new Date(nowMs()).toISOString(),
        request,
        caller,
        decision,
        destination,
        status,
        latencyMs: performance.now() - started,
        listener: listenerName,
        ...(upstreamError ? { upstreamError } : {}),
      });
    };

    /** Requests with a body (rare: metadata clients send none) go through undici, which streams the body up. */
    const forwardWithBody = async (
      req: IncomingMessage,
      res: ServerResponse,
      started: number,
      request: PolicyRequest,
      caller: CallerIdentity,
      decision: Decision,
      ttl: number | null,
    ): Promise<void> => {
      let tokenText = '';
      let status = 0;
      let upstreamError: string | undefined;
      try {
        // stream(): the response body goes straight into the client's response, chunk by chunk, never whole.
        await up.bodyPool().stream(
          {
            path: request.target,
            method: request.method as 'GET',
            headers: upstreamHeaders(req.headers, up.authority),
            body: req,
            headersTimeout: opts.upstreamTimeoutMs ?? 5000,
            bodyTimeout: opts.upstreamTimeoutMs ?? 5000,
          },
          ({ statusCode, headers: h }) => {
            status = statusCode;
            res.writeHead(statusCode, downstreamHeaders(h as Record<string, string | string[] | undefined>));
            if (ttl === null || statusCode !== 200) return res;
            return new Writable({
              write(chunk: Buffer, _enc, cb) {
                if (tokenText.length < 4096) tokenText += chunk.toString('latin1');
                res.write(chunk, cb);
              },
              final(cb) {
                res.end(cb);
              },
            });
          },
        );
        if (ttl !== null && tokenText) ledger.add(tokenText, ttl, nowMs());
      } catch (e) {
        const err = e as NodeJS.ErrnoException;
        upstreamError = err.code ?? err.message;
        if (status === 0 && !res.headersSent) {
          status = upstreamFailure(res, err.code, err.name, upstreamError);
          res.once('close', () => finish(started, request, caller, decision, status, upstreamError));
          return;
        }
        res.destroy();
      }
      finish(started, request, caller, decision, status, upstreamError);
    };

    /** Bodiless requests: the lean keep-alive client; the response is passed on chunk by chunk as it arrives. */
    const forward = (
      req: IncomingMessage,
      res: ServerResponse,
      started: number,
      request: PolicyRequest,
      caller: CallerIdentity,
      decision: Decision,
      ttl: number | null,
    ): void => {
      const f = new Forwarding(res, started, request, caller, decision, ttl, finish, ledger, nowMs);
      f.exchange = up.h1.request(
        request.method,
        upstreamHead(request.method, request.target, req.headers, up.authority),
        f,
      );
    };

    const handle = (req: IncomingMessage, res: ServerResponse, caller: CallerIdentity, started: number): void => {
      const target = req.url ?? '/';
      const path = policyPath(target);
      const headers = req.headers as Record<string, string | undefined>;
      const tokenHeader = headers[AWS_TOKEN_HEADER];
      const request: PolicyRequest = {
        method: req.method ?? 'GET',
        target,
        path,
        // Node joins repeated headers into one string; only set-cookie stays a list, and a request has no business
        // sending it, but the policy sees strings only.
        headers: headers['set-cookie'] === undefined ? headers : flatHeaders(req),
        ...classify(path),
        token: tokenHeader === undefined ? 'none' : ledger.check(tokenHeader, nowMs()),
      };
      const decision = decisions.decide(opts.policy(), request, caller, nowMs());

      if (decision.status !== undefined) {
        req.resume();
        const status = decision.status;
        const body = status === 401 ? AWS_401 : refusalBody(decision);
        res.writeHead(status, STATUS_TEXT[status], {
          'content-type': status === 401 ? 'text/html' : 'text/plain; charset=utf-8',
          'content-length': Buffer.byteLength(body),
          'x-imdsguard-decision': 'deny',
          ...(status === 405 ? { allow: request.path === '/latest/api/token' ? 'OPTIONS, PUT' : 'GET, HEAD' } : {}),
        });
        res.end(body);
        res.once('close', () => finish(started, request, caller, decision, status));
        return;
      }

      const cl = req.headers['content-length'];
      const hasBody = (cl !== undefined && cl !== '0') || req.headers['transfer-encoding'] !== undefined;
      // The token is read (to remember its digest) but never logged or stored.
      const ttl = isTokenRequest(request) ? tokenTtlSeconds(headers[AWS_TTL_HEADER]) : null;
      if (hasBody) void forwardWithBody(req, res, started, request, caller, decision, ttl).catch(internalError(res));
      else forward(req, res, started, request, caller, decision, ttl);
    };

    const server = createServer(
      {
        keepAliveTimeout: opts.keepAliveTimeoutMs ?? 5000,
        headersTimeout: opts.headersTimeoutMs ?? 5000,
        requestTimeout: opts.requestTimeoutMs ?? 10_000,
        maxHeaderSize: opts.maxHeaderSize ?? 8192,
        connectionsCheckingInterval: Math.min(1000, opts.headersTimeoutMs ?? 1000),
      },
      (req, res) => {
        const started = performance.now();
        const sock = req.socket;
        // Keep-alive: the caller is known from the connection's first request; no promise, no microtask.
        const known = resolved.get(sock);
        if (known) {
          try {
            handle(req, res, known, started);
          } catch (e) {
            internalError(res)(e);
          }
          return;
        }
        identityOf(sock)
          .then((caller) => handle(req, res, caller, started))
          .catch(internalError(res));
      },
    );
    // Start attribution as soon as the connection is accepted, in parallel with reading the request.
    server.on('connection', (sock: Socket) => {
      void identityOf(sock);
    });
    server.on('clientError', (err: NodeJS.ErrnoException, sock: Socket) => {
      const [status, text] = CLIENT_ERROR_STATUS[err.code ?? ''] ?? [400, 'Bad Request'];
      if (err.code === 'ECONNRESET' || !sock.writable || sock.destroyed) {
        sock.destroy();
        return;
      }
      // A request that never parsed is still a request: answer once the caller is known (the client's socket
      // must still be open for that), bounded so a slow attribution cannot hold the socket.
      const started = performance.now();
      let answered = false;
      const answer = () => {
        if (answered) return;
        answered = true;
        if (sock.writable && !sock.destroyed)
          sock.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
        else sock.destroy();
      };
      const cap = setTimeout(answer, 250);
      void identityOf(sock).then((caller) => {
        clearTimeout(cap);
        answer();
        const request: PolicyRequest = {
          method: 'UNKNOWN',
          target: '/',
          path: '/',
          headers: {},
          provider: null,
          service: null,
          pathClass: 'other',
          token: 'none',
        };
        const decision: Decision = {
          action: 'deny',
          status,
          reason: `malformed request (${err.code ?? err.message})`,
          rule: 'http-parser',
          report: false,
          severity: 'low',
        };
        finish(started, request, caller, decision, status);
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: spec.host, port: spec.port, ipv6Only: spec.host.includes(':'), backlog: 4096 }, () => {
        server.off('error', reject);
        resolve();
      });
    });
    servers.push(server);
    addresses.push({ host: spec.host, port: (server.address() as AddressInfo).port, upstream: spec.upstream });
  }

  return {
    addresses,
    async close() {
      await Promise.all(
        servers.map(
          (s) =>
            new Promise<void>((resolve) => {
              s.close(() => resolve());
              s.closeAllConnections();
            }),
        ),
      );
      await Promise.all(upstreams.map((u) => u.close()));
    },
  };
}
