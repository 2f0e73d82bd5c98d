/**
 * The enforcing metadata proxy: one node:http listener per upstream endpoint (after a redirect Node cannot read the
 * original destination, so the port says which endpoint the client dialled), caller attribution when a connection
 * is accepted and a re-check of it on every further request, a policy decision per request, responses streamed
 * back, and one record per request. Bodies are never logged. Requests are parsed by llhttp in strict mode, then checked by head-check.ts where llhttp is lenient.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse, STATUS_CODES } from 'node:http';
import { createServer as createNetServer, isIPv4, isIPv6, type Server as NetServer, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { matchEndpoint } from '../../core/endpoints/lookup.ts';
import { HttpRequestError, headProblem, requestLineProblem } from '../../core/http/head-check.ts';
import type { PathClass } from '../../core/model/hit.ts';
import { AWS_TOKEN_HEADER, AWS_TTL_HEADER, isTokenRequest, tokenTtlSeconds } from '../../core/policy/aws-semantics.ts';
import { canonicalTarget } from '../../core/policy/canonical-path.ts';
import { decide } from '../../core/policy/decide.ts';
import { newRateState } from '../../core/policy/rate-limit.ts';
import type { ProxyOutcome } from '../../core/policy/records.ts';
import type { CallerIdentity, Decision, Policy, PolicyRequest } from '../../core/policy/types.ts';
import type { ConnectionEnds } from './caller/attribute.ts';
import { TokenLedger } from './token-ledger.ts';
import { HOP_BY_HOP, openUpstream, type Upstream } from './upstream.ts';

export interface ListenSpec {
  host: string;
  port: number;
  upstream: string;
}

export interface CallerAttribution {
  attribute(c: ConnectionEnds): Promise<CallerIdentity>;
  /** The caller of a connection attributed earlier, as it is now (each further request on it). Returns `previous`
   * itself when nothing changed. Without it, a connection keeps its first identity. */
  recheck?(c: ConnectionEnds, previous: CallerIdentity): CallerIdentity | Promise<CallerIdentity>;
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
  /** Client must send complete headers within this time (slowloris), else 408. Default 5000. */
  headersTimeoutMs?: number;
  /** Whole request within this time. Default 10000. */
  requestTimeoutMs?: number;
  /** Upstream must answer (and not fall silent in its body) within this time, else 504. Default 5000. */
  upstreamTimeoutMs?: number;
  /** Idle keep-alive connections are closed after this time. Default 5000. */
  keepAliveTimeoutMs?: number;
  /** Largest request head accepted (431 beyond). Default 8192. */
  maxHeaderSize?: number;
  /** Most header fields accepted (431 beyond). Default 100. */
  maxHeaderFields?: number;
  /** Largest request body accepted (413 beyond). Default 65536: metadata clients send none. */
  maxBodyBytes?: number;
  /** Open connections accepted from one peer address; more are answered 503 and closed. Default 1024
   * (processes of this host all reach the proxy from one address, so this bounds them together). */
  maxConnectionsPerPeer?: number;
}

export interface RunningProxy {
  /** Where each listener ended up (port 0 resolved). */
  readonly addresses: Array<{ host: string; port: number; upstream: string }>;
  /**
   * Stop: accept no more connections, close idle ones, let the requests in flight finish (their connections closed
   * after the answer) for up to `drainMs` (default 0: cut them at once), then close what is left; resolves once
   * every request's record has been handed to onOutcome. Requests cut off are recorded with upstream error
   * PROXY_STOPPED.
   */
  close(drainMs?: number): Promise<{ cut: number }>;
}

/** How long close() waits for the records of requests still being attributed once their connections are gone. */
const RECORD_WAIT_MS = 2000;

const AWS_401 =
  '<?xml version="1.0" encoding="iso-8859-1"?>\n<html><head><title>401 - Unauthorized</title></head><body><h1>401 - Unauthorized</h1></body></html>\n';

function hostKind(host: string): 'ipv4' | 'ipv6' | 'hostname' {
  return isIPv4(host) ? 'ipv4' : isIPv6(host) ? 'ipv6' : 'hostname';
}

type Classified = { provider: string | null; service: string | null; pathClass: PathClass };

/** Which service a path on this upstream addresses. An upstream that is not a catalogued address (a test fake on
 * loopback) is read as the shared 169.254.169.254, where the path names the provider. */
function classifier(up: Upstream): (path: string) => Classified {
  const host = up.url.hostname.replace(/^\[|\]$/g, '');
  const kind = hostKind(host);
  return (path) => {
    const m = matchEndpoint(host, kind, up.port, path) ?? matchEndpoint('169.254.169.254', 'ipv4', 80, path);
    return m
      ? { provider: m.provider, service: m.service, pathClass: m.pathClass }
      : { provider: null, service: null, pathClass: 'other' };
  };
}

/** Lower-cased names → values, repeated fields joined with ", " (RFC 9110 §5.3), from the raw list. */
function headerMap(raw: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i < raw.length; i += 2) {
    const k = raw[i]!.toLowerCase();
    const prev = out[k];
    out[k] = prev === undefined ? raw[i + 1]! : `${prev}, ${raw[i + 1]}`;
  }
  return out;
}

function refusalBody(d: Decision): string {
  return `imdsguard: ${d.action === 'deny' ? 'refused' : d.action}: ${d.reason} (rule "${d.rule}")\n`;
}

/** Answer locally; `close` also ends the connection (after a malformed request nothing behind it is read). */
function answer(res: ServerResponse, status: number, body: string, headers: Record<string, string>, close = false) {
  if (res.headersSent || res.destroyed) return;
  const h: Record<string, string | number> = {
    'content-type': 'text/plain; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    ...headers,
  };
  if (close) h.connection = 'close';
  res.writeHead(status, h);
  res.end(body);
}

function refuse(res: ServerResponse, d: Decision, path: string): void {
  const status = d.status!;
  const headers: Record<string, string> = { 'x-imdsguard-decision': 'deny' };
  if (status === 401) headers['content-type'] = 'text/html';
  if (status === 405) headers.allow = path === '/latest/api/token' ? 'OPTIONS, PUT' : 'GET, HEAD';
  answer(res, status, status === 401 ? AWS_401 : refusalBody(d), headers);
}

function parserDecision(err: HttpRequestError): Decision {
  return {
    action: 'deny',
    status: err.status,
    reason: `malformed request (${err.code}: ${err.message})`,
    rule: 'http-parser',
    report: false,
    severity: 'low',
  };
}

/** A request that never reached the policy (parser, body cap, connection cap): its record. */
function bareRequest(method: string, target: string): PolicyRequest {
  return {
    method,
    target,
    path: canonicalTarget(target).path,
    headers: {},
    provider: null,
    service: null,
    pathClass: 'other',
    token: 'none',
  };
}

/** The status a client error from llhttp is answered with. */
function clientErrorStatus(code: string | undefined): number {
  if (code === 'HPE_HEADER_OVERFLOW') return 431;
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT') return 408;
  return 400;
}

export async function startProxyServer(opts: ProxyServerOptions): Promise<RunningProxy> {
  const nowMs = opts.nowMs ?? Date.now;
  const ledger = new TokenLedger();
  const rate = newRateState();
  const servers: Server[] = [];
  const listeners: NetServer[] = [];
  /** Accepted connections whose first bytes have not arrived yet (not handed to node:http). */
  const unread = new Set<Socket>();
  const upstreams: Upstream[] = [];
  const addresses: RunningProxy['addresses'] = [];
  const maxBody = opts.maxBodyBytes ?? 64 * 1024;
  const maxPerPeer = opts.maxConnectionsPerPeer ?? 1024;
  const maxFields = opts.maxHeaderFields ?? 100;
  const headersTimeout = opts.headersTimeoutMs ?? 5000;
  /** Open connections per peer address, across listeners. */
  const perPeer = new Map<string, number>();
  /** Connections refused by the per-peer cap: nothing they send is handled. */
  const capped = new WeakSet<Socket>();
  /** Connections whose request was refused before the policy: answered once and closed; the parser's later
   * complaints about what follows (a body read as chunked, a second request) are not answered again. */
  const ending = new WeakSet<Socket>();
  /** Requests received and not yet answered (their responses not closed). */
  const inflight = new Set<ServerResponse>();
  /** Records still to come for requests whose caller is being attributed. */
  const pendingRecords = new Set<Promise<unknown>>();
  const track = (p: Promise<unknown>) => {
    const t: Promise<unknown> = p.then(
      () => pendingRecords.delete(t),
      () => pendingRecords.delete(t),
    );
    pendingRecords.add(t);
  };
  let onIdle: (() => void) | undefined;
  /** Set by close(): answers say Connection: close; `stopped` once what is left is cut off. */
  let draining = false;
  let stopped = false;

  for (const spec of opts.listeners) {
    const up = openUpstream(spec.upstream, { timeoutMs: opts.upstreamTimeoutMs ?? 5000 });
    upstreams.push(up);
    const classify = classifier(up);
    const listenerName = `${spec.host.includes(':') ? `[${spec.host}]` : spec.host}:${spec.port}`;
    const destination = { ip: up.ip ?? up.url.hostname, port: up.port };

    /** The caller of each connection: attributed when it is accepted, re-checked on each request after that. */
    const callers = new WeakMap<Socket, CallerIdentity | Promise<CallerIdentity>>();
    /** The ends of each attributed connection (the key the attribution knows it by). */
    const endsOf = new WeakMap<Socket, ConnectionEnds>();
    /** A request on the connection whose body is still being read (see onRequest). */
    const bodyBeingRead = new WeakMap<Socket, Promise<void>>();
    /** Bytes read on a connection when its last request began (a timeout with nothing new is an idle close). */
    const readAtRequest = new WeakMap<Socket, number>();

    const settle = (sock: Socket, p: Promise<CallerIdentity>): Promise<CallerIdentity> => {
      callers.set(sock, p);
      p.then(
        (c) => {
          if (callers.get(sock) === p) callers.set(sock, c);
        },
        () => undefined,
      );
      return p;
    };

    /**
     * The caller of a connection as it is now. A connection still being attributed waits for that; one attributed
     * earlier is re-checked (the process may have changed user or program, or passed the socket on since): a
     * keep-alive connection is judged by its current holder, never by whoever opened it.
     */
    const identityOf = (sock: Socket): CallerIdentity | Promise<CallerIdentity> => {
      const known = callers.get(sock);
      if (known instanceof Promise) return known;
      if (known !== undefined) {
        const ends = endsOf.get(sock);
        if (!ends || !opts.attribution.recheck) return known;
        const now = opts.attribution.recheck(ends, known);
        if (now instanceof Promise) return settle(sock, now);
        if (now !== known) callers.set(sock, now);
        return now;
      }
      const ends: ConnectionEnds = {
        peerIp: sock.remoteAddress ?? '',
        peerPort: sock.remotePort ?? 0,
        localIp: sock.localAddress ?? '',
        localPort: sock.localPort ?? 0,
        ...(up.ip ? { originalDst: { ip: up.ip, port: up.port } } : {}),
      };
      endsOf.set(sock, ends);
      const p = settle(sock, opts.attribution.attribute(ends));
      if (opts.attribution.release) sock.once('close', () => opts.attribution.release?.(ends));
      return p;
    };

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

    /** Answer a request refused before the policy, once the caller is known (bounded: never held by attribution). */
    const refuseEarly = (
      sock: Socket,
      started: number,
      request: PolicyRequest,
      decision: Decision,
      send: () => void,
    ) => {
      ending.add(sock);
      let sent = false;
      const once = () => {
        if (sent) return;
        sent = true;
        send();
      };
      const cap = setTimeout(once, 250);
      track(
        Promise.resolve(identityOf(sock)).then(
          (caller) => {
            clearTimeout(cap);
            once();
            finish(started, request, caller, decision, decision.status ?? 400);
          },
          () => {
            clearTimeout(cap);
            once();
          },
        ),
      );
    };

    const forward = (
      req: IncomingMessage,
      res: ServerResponse,
      started: number,
      request: PolicyRequest,
      upstreamTarget: string,
      caller: CallerIdentity,
      decision: Decision,
      body: Buffer | null,
    ) => {
      // The token is read (to remember its digest) but never logged or stored.
      const ttl = isTokenRequest(request) ? tokenTtlSeconds(request.headers[AWS_TTL_HEADER]) : null;
      let status = 0;
      let done = false;
      const end = (upstreamError?: string) => {
        if (done) return;
        done = true;
        finish(started, request, caller, decision, status, upstreamError);
      };
      const gone = () => (stopped ? 'PROXY_STOPPED' : 'CLIENT_CLOSED');
      // The connection ended while the caller was being attributed: nothing to relay.
      if (res.destroyed) {
        end(gone());
        return;
      }
      const upReq = up.send(
        req.method ?? 'GET',
        upstreamTarget,
        req.rawHeaders,
        body,
        (upRes) => {
          status = upRes.statusCode ?? 502;
          const headers: string[] = [];
          const raw = upRes.rawHeaders;
          for (let i = 0; i < raw.length; i += 2)
            if (!HOP_BY_HOP.has(raw[i]!.toLowerCase()) || raw[i]!.toLowerCase() === 'host')
              headers.push(raw[i]!, raw[i + 1]!);
          res.writeHead(status, upRes.statusMessage || STATUS_CODES[status] || 'Status', headers);
          let token = '';
          if (ttl !== null && status === 200)
            upRes.on('data', (c: Buffer) => {
              if (token.length < 4096) token += c.toString('latin1');
            });
          upRes.on('end', () => {
            if (token && ttl !== null) ledger.add(token, ttl, nowMs());
          });
          upRes.pipe(res);
          res.once('finish', () => end());
          upRes.once('error', () => {
            res.destroy();
            end('UPSTREAM_RESET');
          });
        },
        (err) => {
          if (res.headersSent) {
            res.destroy();
            end(err.code ?? 'UPSTREAM_ERROR');
            return;
          }
          const timeout = err.code === 'UPSTREAM_TIMEOUT';
          status = timeout ? 504 : 502;
          answer(
            res,
            status,
            `imdsguard: metadata endpoint ${timeout ? 'timed out' : 'unreachable'} (${err.code})\n`,
            {},
          );
          end(err.code ?? 'UPSTREAM_ERROR');
        },
      );
      // The client left before the answer was complete: stop asking the upstream.
      res.once('close', () => {
        if (!res.writableFinished) {
          upReq.abort();
          end(gone());
        }
      });
    };

    const handle = (
      req: IncomingMessage,
      res: ServerResponse,
      caller: CallerIdentity,
      started: number,
      body: Buffer | null,
    ) => {
      const target = req.url ?? '/';
      const c = canonicalTarget(target);
      const cls = classify(c.classifiedPath);
      const headers = headerMap(req.rawHeaders);
      const tokenHeader = headers[AWS_TOKEN_HEADER];
      const request: PolicyRequest = {
        method: req.method ?? 'GET',
        target,
        path: c.path,
        headers,
        provider: cls.provider,
        service: cls.service,
        pathClass: cls.pathClass,
        token: tokenHeader === undefined ? 'none' : ledger.check(tokenHeader, nowMs()),
      };
      const decision = decide(opts.policy(), request, caller, { nowMs: nowMs(), rate });
      if (decision.status !== undefined) {
        refuse(res, decision, request.path);
        finish(started, request, caller, decision, decision.status);
        return;
      }
      forward(req, res, started, request, c.upstream, caller, decision, body);
    };

    const guarded = (
      req: IncomingMessage,
      res: ServerResponse,
      caller: CallerIdentity,
      started: number,
      body: Buffer | null,
    ) => {
      try {
        handle(req, res, caller, started, body);
      } catch (e) {
        answer(res, 500, 'imdsguard: internal error\n', {}, true);
        process.emitWarning(`proxy: ${(e as Error).message}`);
      }
    };

    const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
      const sock = req.socket;
      // A request pipelined behind one whose body is still being read waits for it: that body may be refused
      // (413), and then nothing behind it is handled. (node:http announces the next request before the body of
      // the first when both came in one read.)
      const before = bodyBeingRead.get(sock);
      if (before) {
        void before.then(() => onRequest(req, res));
        return;
      }
      const started = performance.now();
      // A refused connection (cap) or one whose earlier request was malformed: nothing more is read from it.
      if (capped.has(sock) || ending.has(sock)) return;
      inflight.add(res);
      res.once('close', () => {
        inflight.delete(res);
        if (inflight.size === 0) onIdle?.();
      });
      // Stopping: answer this request, then close its connection.
      if (draining) res.shouldKeepAlive = false;
      readAtRequest.set(sock, sock.bytesRead);
      const problem = headProblem(req.httpVersion, req.rawHeaders, { maxFields });
      if (problem) {
        refuseEarly(sock, started, bareRequest(req.method ?? 'UNKNOWN', req.url ?? '/'), parserDecision(problem), () =>
          answer(res, problem.status, `imdsguard: ${problem.message}\n`, {}, true),
        );
        return;
      }
      const proceed = (body: Buffer | null) => {
        const id = identityOf(sock);
        // Keep-alive: the caller re-checked synchronously when nothing changed; no promise, no microtask.
        if (!(id instanceof Promise)) guarded(req, res, id, started, body);
        else
          track(
            id.then(
              (caller) => guarded(req, res, caller, started, body),
              (e: unknown) => {
                answer(res, 500, 'imdsguard: internal error\n', {}, true);
                process.emitWarning(`proxy: ${(e as Error).message}`);
              },
            ),
          );
      };
      const framed = req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined;
      if (!framed) {
        req.resume();
        proceed(null);
        return;
      }
      // A body (metadata clients send none) is read whole before the policy sees the request, up to the cap.
      const chunks: Buffer[] = [];
      let size = 0;
      let over = false;
      let read: () => void = () => undefined;
      const reading = new Promise<void>((resolve) => {
        read = () => {
          if (bodyBeingRead.get(sock) === reading) bodyBeingRead.delete(sock);
          resolve();
        };
      });
      bodyBeingRead.set(sock, reading);
      req.once('close', read);
      req.on('data', (c: Buffer) => {
        if (over) return;
        size += c.length;
        if (size > maxBody) {
          over = true;
          const err = new HttpRequestError(413, 'HPE_BODY_TOO_LARGE', `request body over ${maxBody} bytes`);
          refuseEarly(sock, started, bareRequest(req.method ?? 'UNKNOWN', req.url ?? '/'), parserDecision(err), () =>
            answer(res, 413, `imdsguard: ${err.message}\n`, {}, true),
          );
          read();
          return;
        }
        chunks.push(c);
      });
      req.on('end', () => {
        read();
        if (!over) proceed(Buffer.concat(chunks));
      });
    };

    const server = createServer(
      {
        insecureHTTPParser: false,
        // Checked in head-check.ts instead, so a request without Host is answered and recorded like any refusal.
        requireHostHeader: false,
        maxHeaderSize: opts.maxHeaderSize ?? 8192,
        headersTimeout,
        requestTimeout: Math.max(opts.requestTimeoutMs ?? 10_000, headersTimeout),
        keepAliveTimeout: opts.keepAliveTimeoutMs ?? 5000,
        connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(headersTimeout / 4))),
        noDelay: true,
      },
      onRequest,
    );
    // One more than accepted, so that too many fields are seen (and refused) rather than silently cut off.
    server.maxHeadersCount = maxFields + 1;
    // Expect other than 100-continue: refused and recorded by head-check.ts, not answered by Node on its own.
    server.on('checkExpectation', onRequest);

    /** A connection accepted: counted per peer, attributed at once, and handed to node:http with its first bytes. */
    const onAccept = (sock: Socket) => {
      sock.setNoDelay(true);
      const ignore = () => undefined;
      sock.on('error', ignore);
      const peer = sock.remoteAddress ?? '';
      const n = (perPeer.get(peer) ?? 0) + 1;
      perPeer.set(peer, n);
      sock.once('close', () => {
        const left = (perPeer.get(peer) ?? 1) - 1;
        if (left <= 0) perPeer.delete(peer);
        else perPeer.set(peer, left);
      });
      if (n > maxPerPeer) {
        // Refused before attribution: a flood of connections must not become a flood of /proc walks.
        const started = performance.now();
        const reason = `more than ${maxPerPeer} open connections from ${peer}`;
        const body = `imdsguard: refused: ${reason}\n`;
        capped.add(sock);
        // What it sends is read and dropped, so the answer is not lost to a reset.
        sock.resume();
        sock.end(
          `HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
        );
        callers.set(sock, {
          known: false,
          reason: 'not attributed: over the per-peer connection cap',
          otherNamespace: false,
        });
        finish(
          started,
          bareRequest('UNKNOWN', '/'),
          callers.get(sock) as CallerIdentity,
          {
            action: 'deny',
            status: 503,
            reason,
            rule: 'connection-cap',
            report: true,
            severity: 'medium',
          },
          503,
        );
        return;
      }
      // Start attribution as soon as the connection is accepted, in parallel with reading the request.
      void identityOf(sock);
      // The first bytes are looked at before node:http parses them: llhttp waits for the end of a head that an
      // HTTP/0.9 request line (`GET /path`) never sends, which would be answered only by the headers timeout.
      unread.add(sock);
      // The request line may come over several reads (a client writing `GET /pa` then `th`): the bytes are gathered
      // until a line end, or until they are too long to be a request line, before anything is decided.
      const first: Buffer[] = [];
      let firstLength = 0;
      const silent = setTimeout(() => {
        sock.off('data', onFirst);
        unread.delete(sock);
        if (firstLength === 0) {
          sock.destroy();
          return;
        }
        // A line begun and never ended is the headers timeout node:http would have given it.
        const err: NodeJS.ErrnoException & { rawPacket?: Buffer } = new Error('request line not ended in time');
        err.code = 'ERR_HTTP_REQUEST_TIMEOUT';
        err.rawPacket = Buffer.concat(first, firstLength);
        onClientError(err, sock);
      }, headersTimeout);
      sock.once('close', () => {
        clearTimeout(silent);
        unread.delete(sock);
      });
      const onFirst = (part: Buffer): void => {
        first.push(part);
        firstLength += part.length;
        if (part.indexOf(0x0a) < 0 && firstLength < 8300) return;
        sock.off('data', onFirst);
        clearTimeout(silent);
        unread.delete(sock);
        const chunk = first.length === 1 ? part : Buffer.concat(first, firstLength);
        const problem = requestLineProblem(chunk.toString('latin1', 0, Math.min(chunk.length, 8300)));
        if (problem) {
          sock.resume();
          refuseEarly(
            sock,
            performance.now(),
            bareRequest(problem.method, problem.target),
            parserDecision(problem.error),
            () => {
              const text = `imdsguard: malformed request (${problem.error.code}: ${problem.error.message})\n`;
              sock.end(
                `HTTP/1.1 ${problem.error.status} ${STATUS_CODES[problem.error.status]}\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(text)}\r\nconnection: close\r\n\r\n${text}`,
              );
            },
          );
          return;
        }
        sock.pause();
        sock.unshift(chunk);
        sock.off('error', ignore);
        server.emit('connection', sock);
        sock.resume();
      };
      sock.on('data', onFirst);
    };

    const onClientError = (err: NodeJS.ErrnoException & { rawPacket?: Buffer }, sock: Socket): void => {
      // Behind a request whose body is still being read: that one is answered first (it may be refused).
      const before = bodyBeingRead.get(sock);
      if (before) {
        void before.then(() => onClientError(err, sock));
        return;
      }
      if (ending.has(sock) || capped.has(sock)) return;
      if (err.code === 'ECONNRESET' || !sock.writable) {
        sock.destroy();
        return;
      }
      // A connection that sent nothing since its last request is closed without an answer or a record.
      if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT' && sock.bytesRead <= (readAtRequest.get(sock) ?? 0)) {
        sock.destroy();
        return;
      }
      const started = performance.now();
      const status = clientErrorStatus(err.code);
      const line = /^([A-Za-z]{1,20}) (\S{1,2048}) /.exec(err.rawPacket?.toString('latin1') ?? '');
      const e = new HttpRequestError(status, err.code ?? 'HPE_INVALID', err.message);
      refuseEarly(sock, started, bareRequest(line?.[1] ?? 'UNKNOWN', line?.[2] ?? '/'), parserDecision(e), () => {
        const body = `imdsguard: malformed request (${e.code})\n`;
        sock.end(
          `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
        );
      });
    };
    server.on('clientError', onClientError);

    // CONNECT asks for a tunnel, which this proxy never opens (node:http would close the connection without a word):
    // refused like any other request, with an answer and a record.
    server.on('connect', (req: IncomingMessage, sock: Socket) => {
      sock.on('error', () => undefined);
      if (ending.has(sock) || capped.has(sock)) {
        sock.destroy();
        return;
      }
      const started = performance.now();
      const decision: Decision = {
        action: 'deny',
        status: 405,
        reason: 'CONNECT is not served: the proxy relays requests to the metadata service and opens no tunnels',
        rule: 'connect',
        report: true,
        severity: 'medium',
      };
      refuseEarly(sock, started, bareRequest('CONNECT', req.url ?? ''), decision, () => {
        const body = refusalBody(decision);
        sock.end(
          `HTTP/1.1 405 Method Not Allowed\r\nallow: GET, HEAD, PUT\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
        );
      });
    });

    const listener = createNetServer({ noDelay: true }, onAccept);
    await new Promise<void>((resolve, reject) => {
      listener.once('error', reject);
      listener.listen(spec.port, spec.host, () => {
        listener.off('error', reject);
        resolve();
      });
    });
    // node:http tracks its connections (timeouts, closing idle ones) once told it listens.
    server.emit('listening');
    servers.push(server);
    listeners.push(listener);
    const bound = listener.address();
    addresses.push({
      host: spec.host,
      port: typeof bound === 'object' && bound ? bound.port : spec.port,
      upstream: spec.upstream,
    });
  }

  return {
    addresses,
    async close(drainMs = 0) {
      draining = true;
      // No new connections; resolved once every accepted connection has ended.
      const closed = listeners.map((l) => new Promise<void>((resolve) => l.close(() => resolve())));
      // Idle keep-alive connections and connections that sent nothing yet are closed now.
      for (const s of servers) s.closeIdleConnections();
      for (const sock of unread) sock.destroy();
      // Answers not yet begun say Connection: close; connections whose answer already began are closed below.
      for (const res of inflight) if (!res.headersSent) res.shouldKeepAlive = false;
      /** Until no request is in flight, or `ms` passed. */
      const idle = async (ms: number) => {
        if (inflight.size === 0 || ms <= 0) return;
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, ms);
          onIdle = () => {
            clearTimeout(t);
            resolve();
          };
        });
        onIdle = undefined;
      };
      await idle(drainMs);
      const cut = inflight.size;
      stopped = true;
      for (const s of servers) {
        s.closeAllConnections();
        // Stops node:http's connection checks (the listeners themselves are closed above).
        s.close(() => undefined);
      }
      await Promise.all(closed);
      // The responses of the connections just cut report their end when the sockets have closed, after the servers.
      await idle(RECORD_WAIT_MS);
      // Requests whose caller was still being attributed are recorded when that ends (bounded).
      if (pendingRecords.size > 0) {
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([
          Promise.allSettled([...pendingRecords]),
          new Promise((r) => {
            timer = setTimeout(r, RECORD_WAIT_MS);
          }),
        ]);
        clearTimeout(timer);
      }
      await Promise.all(upstreams.map((u) => u.close()));
      return { cut };
    },
  };
}
