/**
 * The enforcing metadata proxy: one listener per upstream endpoint (after a redirect Node cannot read the original
 * destination, so the port says which endpoint the client dialled), caller attribution once per connection, a
 * policy decision per request, responses streamed back, and one record per request. Bodies are never logged.
 */
import { STATUS_CODES } from 'node:http';
import { isIPv4, isIPv6 } from 'node:net';
import { performance } from 'node:perf_hooks';
import { matchEndpoint } from '../../core/endpoints/lookup.ts';
import type { HttpRequestError, RequestHead } from '../../core/http/request-head.ts';
import type { PathClass } from '../../core/model/hit.ts';
import { AWS_TOKEN_HEADER, AWS_TTL_HEADER, isTokenRequest, tokenTtlSeconds } from '../../core/policy/aws-semantics.ts';
import { canonicalTarget } from '../../core/policy/canonical-path.ts';
import { decide } from '../../core/policy/decide.ts';
import { newRateState } from '../../core/policy/rate-limit.ts';
import type { ProxyOutcome } from '../../core/policy/records.ts';
import type { CallerIdentity, Decision, Policy, PolicyRequest } from '../../core/policy/types.ts';
import type { ConnectionEnds } from './caller/attribute.ts';
import type { Exchange, ResponseHandler, UpstreamError } from './h1-client.ts';
import { type H1Connection, type H1Handler, H1Server } from './h1-server.ts';
import { TokenLedger } from './token-ledger.ts';
import { openUpstream, type Upstream, upstreamHead } from './upstream.ts';

export interface ListenSpec {
  host: string;
  port: number;
  upstream: string;
}

export interface CallerAttribution {
  attribute(c: ConnectionEnds): Promise<CallerIdentity>;
  /** The connection attributed with these ends has closed. */
  release?(c: ConnectionEnds): void;
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
  /** Largest request body accepted (413 beyond). Default 65536: metadata clients send none. */
  maxBodyBytes?: number;
}

export interface RunningProxy {
  /** Where each listener ended up (port 0 resolved). */
  readonly addresses: Array<{ host: string; port: number; upstream: string }>;
  close(): Promise<void>;
}

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

function refusalBody(d: Decision): string {
  return `imdsguard: ${d.action === 'deny' ? 'refused' : d.action}: ${d.reason} (rule "${d.rule}")\n`;
}

/** The header lines of a refusal, per status (they do not depend on the request otherwise). */
function refusalHeaders(status: number, path: string): string {
  const type = status === 401 ? 'text/html' : 'text/plain; charset=utf-8';
  const allow = status === 405 ? `allow: ${path === '/latest/api/token' ? 'OPTIONS, PUT' : 'GET, HEAD'}\r\n` : '';
  return `content-type: ${type}\r\nx-imdsguard-decision: deny\r\n${allow}`;
}

/** Upstream response headers as lines for the client, and the body length they declare; cached per head object
 * (the upstream client shares one object between identical heads and never changes it). */
interface DownstreamHead {
  lines: string;
  length: number;
}
const downstreamHeads = new WeakMap<Record<string, string | string[]>, DownstreamHead>();
function downstreamHead(headers: Record<string, string | string[]>): DownstreamHead {
  let d = downstreamHeads.get(headers);
  if (d) return d;
  let lines = '';
  let length = -1;
  for (const k in headers) {
    const v = headers[k]!;
    if (k === 'content-length') {
      length = Number(v);
      continue;
    }
    if (typeof v === 'string') lines += `${k}: ${v}\r\n`;
    else for (const one of v) lines += `${k}: ${one}\r\n`;
  }
  d = { lines, length };
  downstreamHeads.set(headers, d);
  return d;
}

type Finish = (
  started: number,
  request: PolicyRequest,
  caller: CallerIdentity,
  decision: Decision,
  status: number,
  upstreamError?: string,
) => void;

interface RequestTemplate {
  path: string;
  /** The canonical target sent upstream (the form the policy judged). */
  upstreamTarget: string;
  classified: Classified;
  /** The head sent upstream for this request without a body. */
  upstreamHead: string;
}

type Conn = H1Connection<CallerIdentity | Promise<CallerIdentity>>;

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
  private readonly conn: Conn;
  private readonly started: number;
  private readonly request: PolicyRequest;
  private readonly caller: CallerIdentity;
  private readonly decision: Decision;
  private readonly ttl: number | null;
  private readonly finish: Finish;
  private readonly ledger: TokenLedger;
  private readonly nowMs: () => number;
  constructor(
    conn: Conn,
    started: number,
    request: PolicyRequest,
    caller: CallerIdentity,
    decision: Decision,
    ttl: number | null,
    finish: Finish,
    ledger: TokenLedger,
    nowMs: () => number,
  ) {
    this.conn = conn;
    this.started = started;
    this.request = request;
    this.caller = caller;
    this.decision = decision;
    this.ttl = ttl;
    this.finish = finish;
    this.ledger = ledger;
    this.nowMs = nowMs;
    conn.onAbort = () => this.clientGone();
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
    const d = downstreamHead(headers);
    this.conn.beginResponse(status, STATUS_CODES[status] ?? 'Status', d.lines, d.length);
    this.status = status;
    this.capture = this.ttl !== null && status === 200;
  }

  onData(chunk: Buffer, last: boolean): boolean {
    if (this.capture && this.tokenText.length < 4096) this.tokenText += chunk.toString('latin1');
    if (this.conn.sendBody(chunk, last)) {
      if (last) this.end();
      return true;
    }
    // Backpressure (a large body, a slow client): wait for the client; its leaving aborts the upstream (onAbort).
    this.conn.onDrain(() => this.exchange?.resume());
    return false;
  }

  onEnd(): void {
    this.conn.endResponse();
    this.end();
  }

  onError(err: UpstreamError): void {
    if (this.done) return;
    if (this.status === 0) {
      this.status = upstreamFailure(this.conn, err.code, err.name, err.code);
      this.end(err.code);
      return;
    }
    this.conn.abort();
    this.end(err.code);
  }
}

/** Answer 502 (unreachable) or 504 (timed out) for an upstream that failed before its response head. */
function upstreamFailure(conn: Conn, code: string | undefined, name: string, what: string | undefined): number {
  const timeout = /timeout/i.test(code ?? '') || /timeout/i.test(name);
  const status = timeout ? 504 : 502;
  const body = `imdsguard: metadata endpoint ${timeout ? 'timed out' : 'unreachable'} (${what})\n`;
  conn.respond(status, 'content-type: text/plain; charset=utf-8\r\n', body);
  return status;
}

function internalError(conn: Conn, e: unknown): void {
  if (conn.answering) conn.respond(500, 'content-type: text/plain\r\n', 'imdsguard: internal error\n');
  process.emitWarning(`proxy: ${(e as Error).message}`);
}

export async function startProxyServer(opts: ProxyServerOptions): Promise<RunningProxy> {
  const nowMs = opts.nowMs ?? Date.now;
  const ledger = new TokenLedger();
  const rate = newRateState();
  const servers: Array<H1Server<CallerIdentity | Promise<CallerIdentity>>> = [];
  const upstreams: Upstream[] = [];
  const addresses: RunningProxy['addresses'] = [];

  for (const spec of opts.listeners) {
    const up = openUpstream(spec.upstream, { timeoutMs: opts.upstreamTimeoutMs ?? 5000 });
    upstreams.push(up);
    const endsOf = new WeakMap<Conn, ConnectionEnds>();
    /** The caller of a connection: attributed once, when it is accepted; kept on the connection. */
    const identityOf = (conn: Conn): CallerIdentity | Promise<CallerIdentity> => {
      const known = conn.context;
      if (known !== undefined) return known;
      const sock = conn.socket;
      const ends: ConnectionEnds = {
        peerIp: sock.remoteAddress ?? '',
        peerPort: sock.remotePort ?? 0,
        localIp: sock.localAddress ?? '',
        localPort: sock.localPort ?? 0,
        ...(up.ip ? { originalDst: { ip: up.ip, port: up.port } } : {}),
      };
      const p = opts.attribution.attribute(ends);
      if (opts.attribution.release) endsOf.set(conn, ends);
      conn.context = p;
      p.then(
        (c) => {
          conn.context = c;
        },
        () => undefined,
      );
      return p;
    };
    const classify = classifier(up);
    const listenerName = `${spec.host.includes(':') ? `[${spec.host}]` : spec.host}:${spec.port}`;
    const destination = { ip: up.ip ?? up.url.hostname, port: up.port };

    // Requests finishing in the same millisecond share one timestamp string.
    let timeMs = Number.NaN;
    let timeText = '';
    const finish: Finish = (started, request, caller, decision, status, upstreamError) => {
      const now = nowMs();
      if (now !== timeMs) {
        timeMs = now;
        timeText = new Date(now).toISOString();
      }
      opts.onOutcome({
        time: timeText,
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

    /** What a head always comes to on this listener (the server hands out one object per distinct head). */
    const templates = new WeakMap<RequestHead, RequestTemplate>();
    const templateOf = (head: RequestHead): RequestTemplate => {
      let t = templates.get(head);
      if (!t) {
        const c = canonicalTarget(head.target);
        t = {
          path: c.path,
          upstreamTarget: c.upstream,
          classified: classify(c.upstreamPath),
          upstreamHead: upstreamHead(head.method, c.upstream, head.fields, up.authority, null),
        };
        templates.set(head, t);
      }
      return t;
    };

    const handle = (conn: Conn, head: RequestHead, body: Buffer | null, caller: CallerIdentity, started: number) => {
      const target = head.target;
      const t = templateOf(head);
      const headers = head.headers;
      const tokenHeader = headers[AWS_TOKEN_HEADER];
      const c = t.classified;
      const request: PolicyRequest = {
        method: head.method,
        target,
        path: t.path,
        headers,
        provider: c.provider,
        service: c.service,
        pathClass: c.pathClass,
        token: tokenHeader === undefined ? 'none' : ledger.check(tokenHeader, nowMs()),
      };
      const decision = decide(opts.policy(), request, caller, { nowMs: nowMs(), rate });

      if (decision.status !== undefined) {
        const status = decision.status;
        conn.respond(status, refusalHeaders(status, request.path), status === 401 ? AWS_401 : refusalBody(decision));
        finish(started, request, caller, decision, status);
        return;
      }
      // The token is read (to remember its digest) but never logged or stored.
      const ttl = isTokenRequest(request) ? tokenTtlSeconds(headers[AWS_TTL_HEADER]) : null;
      const f = new Forwarding(conn, started, request, caller, decision, ttl, finish, ledger, nowMs);
      f.exchange = up.h1.request(
        request.method,
        body === null
          ? t.upstreamHead
          : upstreamHead(request.method, t.upstreamTarget, head.fields, up.authority, body),
        f,
        body,
      );
    };

    const guarded = (conn: Conn, head: RequestHead, body: Buffer | null, caller: CallerIdentity, started: number) => {
      if (!conn.answering) return;
      try {
        handle(conn, head, body, caller, started);
      } catch (e) {
        internalError(conn, e);
      }
    };

    const handler: H1Handler<CallerIdentity | Promise<CallerIdentity>> = {
      // Start attribution as soon as the connection is accepted, in parallel with reading the request.
      onConnection: (conn) => void identityOf(conn),
      onClose: (conn) => {
        const ends = endsOf.get(conn);
        if (ends) opts.attribution.release?.(ends);
      },
      onRequest: (conn, req) => {
        const started = performance.now();
        const id = identityOf(conn);
        // Keep-alive: the caller is known from the connection's first request; no promise, no microtask.
        if (!(id instanceof Promise)) guarded(conn, req.head, req.body, id, started);
        else
          id.then(
            (caller) => guarded(conn, req.head, req.body, caller, started),
            (e) => internalError(conn, e),
          );
      },
      onClientError: (conn, err: HttpRequestError, head) => {
        // A request that never parsed is still a request: answer once the caller is known (the client's socket
        // must still be open for that), bounded so a slow attribution cannot hold the socket.
        const started = performance.now();
        let answered = false;
        const answer = () => {
          if (answered) return;
          answered = true;
          conn.reject(err);
        };
        const cap = setTimeout(answer, 250);
        void Promise.resolve(identityOf(conn)).then((caller) => {
          clearTimeout(cap);
          answer();
          const target = head?.target ?? '/';
          const request: PolicyRequest = {
            method: head?.method ?? 'UNKNOWN',
            target,
            path: head ? canonicalTarget(target).path : '/',
            headers: {},
            provider: null,
            service: null,
            pathClass: 'other',
            token: 'none',
          };
          const decision: Decision = {
            action: 'deny',
            status: err.status,
            reason: `malformed request (${err.code}: ${err.message})`,
            rule: 'http-parser',
            report: false,
            severity: 'low',
          };
          finish(started, request, caller, decision, err.status);
        });
      },
    };

    const server = new H1Server(
      {
        host: spec.host,
        port: spec.port,
        keepAliveTimeoutMs: opts.keepAliveTimeoutMs ?? 5000,
        headersTimeoutMs: opts.headersTimeoutMs ?? 5000,
        requestTimeoutMs: opts.requestTimeoutMs ?? 10_000,
        maxHeaderSize: opts.maxHeaderSize ?? 8192,
        maxBodyBytes: opts.maxBodyBytes ?? 64 * 1024,
      },
      handler,
    );
    const bound = await server.listen();
    servers.push(server);
    addresses.push({ host: spec.host, port: bound.port, upstream: spec.upstream });
  }

  return {
    addresses,
    async close() {
      await Promise.all(servers.map((s) => s.close()));
      await Promise.all(upstreams.map((u) => u.close()));
    },
  };
}
