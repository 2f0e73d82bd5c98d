/**
 * node:http, the requests rather than the connections:
 *
 * - The agent opens a socket synchronously inside `addRequest`, so the guard notes which request that is (a
 *   plain variable does) and, when the request names a metadata service, who made it.
 * - A request can get a socket without any `connect()`: queued behind another one at `maxSockets` (the agent
 *   hands it the socket that request freed), or from the pool. `onSocket` is where every socket reaches its
 *   request, so a socket the guard granted to one request is checked again for any other.
 * - Through a forward proxy the destination is in the request line (`GET http://169.254.169.254/…`,
 *   `CONNECT 169.254.169.254:80`), not in the connection: the line node:http is about to send is checked.
 */
import http from 'node:http';
import { type CallerStack, captureCaller } from './caller.ts';
import { checkedLineOf, grantOf, privateSlot } from './context.ts';
import type { ConnectionAttempt } from './decide.ts';
import { ipFamily, type MetadataDestination, metadataAtAddress, metadataAtHostname } from './destination.ts';
import type { Decide } from './hook-net.ts';
import {
  NumberCtor,
  ReflectApply,
  StringCtor,
  StringPrototypeCharCodeAt,
  StringPrototypeIndexOf,
  StringPrototypeLastIndexOf,
  StringPrototypeSlice,
  StringPrototypeToUpperCase,
  URLCtor,
  URLPrototypeGetHostname,
  URLPrototypeGetPathname,
  URLPrototypeGetPort,
  URLPrototypeGetProtocol,
  URLPrototypeGetSearch,
} from './intrinsics.ts';

interface PendingRequest {
  path?: string;
  method?: string;
  host?: string;
  getHeader?: (name: string) => unknown;
  destroy?: (err?: Error) => void;
}

let pending: PendingRequest | undefined;

/** The request whose socket is being opened right now, if node:http is opening it. */
export function currentHttpRequest(): PendingRequest | undefined {
  return pending;
}

/**
 * Who made a request that names a metadata service, recorded when it was made (node:http runs that
 * synchronously). Kept by the guard, not on the request: an SDK request's caller copied onto another request
 * would let that one through.
 */
const requestCallers = privateSlot<CallerStack>();

/** The stack recorded when a node:http request naming a metadata service was made. */
export function requestCallerOf(req: object | undefined): CallerStack | undefined {
  return requestCallers.get(req);
}

/** A host as written in options or a URL, without IPv6 brackets. */
function unbracketed(host: string): string {
  return StringPrototypeCharCodeAt(host, 0) === 91 && StringPrototypeCharCodeAt(host, host.length - 1) === 93
    ? StringPrototypeSlice(host, 1, host.length - 1)
    : host;
}

type AddRequest = (this: http.Agent, req: PendingRequest, options?: { host?: unknown }, ...rest: unknown[]) => void;
type CreateSocket = (this: http.Agent, req: PendingRequest, ...rest: unknown[]) => void;
type OnSocket = (this: PendingRequest, socket: object | null, err?: Error) => void;
type StoreHeader = (this: PendingRequest, firstLine: string, headers: unknown) => void;

/** Does a host, as written in request options, name a metadata service by address or catalogue hostname? */
function namesMetadata(host: unknown): boolean {
  if (typeof host !== 'string' || host.length === 0) return false;
  const h = unbracketed(host);
  return ipFamily(h) !== 0 ? metadataAtAddress(h, null) !== null : metadataAtHostname(h, null) !== null;
}

export function headerOf(req: {
  getHeader?: (name: string) => unknown;
}): ((name: string) => string | undefined) | undefined {
  const get = req.getHeader;
  if (typeof get !== 'function') return undefined;
  return (name) => {
    const v = ReflectApply(get, req, [name]);
    return v === undefined ? undefined : StringCtor(v);
  };
}

function attemptFor(
  req: PendingRequest,
  where: { host: string; address: string | null; port: number | null; path?: string; method?: string },
  via: string,
  callers: CallerStack[],
): ConnectionAttempt {
  const a: ConnectionAttempt = { host: where.host, address: where.address, port: where.port, via, callers };
  if (where.path !== undefined) a.path = where.path;
  if (where.method !== undefined) a.method = where.method;
  const header = headerOf(req);
  if (header) a.header = header;
  return a;
}

/**
 * The destination a request line names when it is not origin-form: `CONNECT host:port` or an absolute URL
 * (what clients send to a forward proxy). The URL parser reads hosts the way a proxy does (decimal and hex IPv4,
 * IPv6 brackets), so `http://2852039166/` is 169.254.169.254 here too.
 */
export function proxyTarget(
  method: string,
  target: string,
): { host: string; port: number; path: string | undefined } | null {
  const connect = isConnectMethod(method);
  let u: URL;
  try {
    u = new URLCtor(connect ? `http://${target}` : target);
  } catch {
    return null;
  }
  const host = unbracketed(URLPrototypeGetHostname(u));
  const p = URLPrototypeGetPort(u);
  const protocol = URLPrototypeGetProtocol(u);
  const port = p ? NumberCtor(p) : protocol === 'https:' || protocol === 'wss:' ? 443 : 80;
  return { host, port, path: connect ? undefined : URLPrototypeGetPathname(u) + URLPrototypeGetSearch(u) };
}

/**
 * Method names are case-sensitive in HTTP, but a proxy is free to be lenient: `connect` and `Connect` are
 * treated as CONNECT wherever the guard reads a request line.
 */
export function isConnectMethod(method: string): boolean {
  return method.length === 7 && StringPrototypeToUpperCase(method) === 'CONNECT';
}

export function metadataAtTarget(t: { host: string; port: number; path: string | undefined }) {
  return ipFamily(t.host) !== 0
    ? metadataAtAddress(t.host, t.port, t.path)
    : metadataAtHostname(t.host, t.port, t.path);
}

export function hookHttp(decide: Decide): () => void {
  const agentProto = http.Agent.prototype as unknown as { addRequest: AddRequest };
  const originalAdd = agentProto.addRequest;
  const add: AddRequest = function addRequest(this: http.Agent, req, options) {
    // Only requests that name a metadata service pay for the stack: they are the ones that may later be handed
    // a socket the guard granted (an agent pools and queues by host and port), or get their own socket from a
    // queue, where the stack at connect is no longer theirs.
    if (namesMetadata(options?.host ?? req.host)) requestCallers.set(req, captureCaller());
    const prev = pending;
    pending = req;
    try {
      // biome-ignore lint/complexity/noArguments: passed on as given, without iterating a rest array
      ReflectApply(originalAdd, this, arguments);
    } finally {
      pending = prev;
    }
  };
  agentProto.addRequest = add;
  // An agent also opens sockets for queued requests when another socket closes (removeSocket): name that request.
  const createProto = http.Agent.prototype as unknown as { createSocket: CreateSocket };
  const originalCreate = createProto.createSocket;
  const create: CreateSocket = function createSocket(this: http.Agent, req) {
    const prev = pending;
    pending = req;
    try {
      // biome-ignore lint/complexity/noArguments: passed on as given, without iterating a rest array
      ReflectApply(originalCreate, this, arguments);
    } finally {
      pending = prev;
    }
  };
  createProto.createSocket = create;

  const reqProto = http.ClientRequest.prototype as unknown as { onSocket: OnSocket; _storeHeader: StoreHeader };
  const originalOnSocket = reqProto.onSocket;
  const onSocket: OnSocket = function onSocket(this: PendingRequest, socket, err) {
    const g = err ? undefined : grantOf(socket);
    if (g && g.request !== this) {
      const path = typeof this.path === 'string' ? this.path : undefined;
      const at = (p: string | undefined): MetadataDestination | null =>
        g.kind === 'hostname' ? metadataAtHostname(g.canonical, g.port, p) : metadataAtAddress(g.canonical, g.port, p);
      const d = at(path) ?? at(undefined);
      if (d) {
        const caller = requestCallers.get(this);
        const where = {
          host: g.canonical,
          address: g.kind === 'hostname' ? null : g.canonical,
          port: g.port,
          ...(path !== undefined ? { path } : {}),
          ...(typeof this.method === 'string' ? { method: this.method } : {}),
        };
        // The caller recorded when the request was made; without one (a request that did not name the service)
        // nobody allowlisted made it.
        const dec = decide(d, attemptFor(this, where, 'http-socket-handoff', caller ? [caller] : []));
        // node:http fails the request and destroys the socket when it is handed an error with it; nothing of this
        // request has been written.
        if (!dec.allowed && dec.error) return ReflectApply(originalOnSocket, this, [socket, dec.error]);
        g.request = this;
      }
    }
    return ReflectApply(originalOnSocket, this, [socket, err]);
  };
  reqProto.onSocket = onSocket;

  const originalStore = reqProto._storeHeader;
  const storeHeader: StoreHeader = function _storeHeader(this: PendingRequest, firstLine, headers) {
    ReflectApply(originalStore, this, [firstLine, headers]);
    if (typeof firstLine !== 'string') return;
    // Origin-form (`/…`) and `*` are the common case and cost two character reads.
    const sp = StringPrototypeIndexOf(firstLine, ' ');
    const c = StringPrototypeCharCodeAt(firstLine, sp + 1);
    if (sp < 0 || c === 47 || c === 42) return;
    checkedLineOf.set(this, firstLine);
    const end = StringPrototypeLastIndexOf(firstLine, ' HTTP/');
    const method = StringPrototypeSlice(firstLine, 0, sp);
    const t = proxyTarget(method, StringPrototypeSlice(firstLine, sp + 1, end > sp ? end : firstLine.length));
    if (!t) return;
    const d = metadataAtTarget(t);
    if (!d) return;
    const caller = requestCallers.get(this);
    const callers = caller ? [captureCaller(), caller] : [captureCaller()];
    const address = ipFamily(t.host) !== 0 ? t.host : null;
    const where = { host: t.host, address, port: t.port, method, ...(t.path !== undefined ? { path: t.path } : {}) };
    const dec = decide(d, attemptFor(this, where, isConnectMethod(method) ? 'http-connect' : 'http-proxy', callers));
    // Destroyed before anything of it was written: the request line stays in this process.
    if (!dec.allowed && dec.error) this.destroy?.(dec.error);
  };
  reqProto._storeHeader = storeHeader;

  return () => {
    if (agentProto.addRequest === add) agentProto.addRequest = originalAdd;
    if (createProto.createSocket === create) createProto.createSocket = originalCreate;
    if (reqProto.onSocket === onSocket) reqProto.onSocket = originalOnSocket;
    // Assigned back rather than deleted: deleting a property turns the prototype into a slow dictionary object.
    if (reqProto._storeHeader === storeHeader) reqProto._storeHeader = originalStore;
  };
}
