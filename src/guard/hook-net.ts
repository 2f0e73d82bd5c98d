/**
 * The one choke point every TCP client in Node goes through: `net.Socket.prototype.connect` (http, https, tls,
 * fetch/undici, axios, got, node-fetch, database drivers…). Literal addresses are checked at once; names are
 * checked on the DNS answer the socket is about to use, by wrapping the socket's `lookup`, so the address that is
 * checked is the address that is connected to — a name that resolves to 169.254.169.254 (wildcard DNS, rebinding,
 * a hosts entry) is caught, and a second resolution cannot differ from the checked one.
 */
import dns, { type LookupAddress } from 'node:dns';
import net from 'node:net';
import { type CallerStack, captureCaller } from './caller.ts';
import { currentRequestContext, grant, grantOf, type RequestContext, type RequestLine } from './context.ts';
import type { ConnectionAttempt, Decision } from './decide.ts';
import { ipFamily, type MetadataDestination, metadataAtAddress, metadataAtHostname } from './destination.ts';
import { socketHandle } from './hook-handle.ts';
import { currentHttpRequest, headerOf, requestCallerOf } from './hook-http.ts';
import { ArrayIsArray, NumberCtor, ProcessNextTick, ReflectApply } from './intrinsics.ts';

/** dns.lookup as it is when the guard loads (the ES binding follows `syncBuiltinESMExports`). */
const dnsLookup = dns.lookup;

export type Decide = (d: MetadataDestination, a: ConnectionAttempt) => Decision;

type ConnectFn = (this: net.Socket, ...args: unknown[]) => net.Socket;
type LookupCb = (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;
type LookupFn = (hostname: string, options: object, cb: LookupCb) => void;

interface ConnectOpts {
  host?: string;
  port?: number | string;
  path?: string;
  lookup?: LookupFn;
  pathname?: string;
  search?: string;
  method?: string;
}

const normalizeArgs = (net as unknown as { _normalizeArgs?: (a: unknown[]) => unknown[] })._normalizeArgs;
/** The marker net puts on argument lists it normalised (net.connect passes such a list to socket.connect). */
const kNormalized = normalizeArgs
  ? Object.getOwnPropertySymbols(normalizeArgs([{}])).find((s) => s.description === 'normalizedArgs')
  : undefined;

function requestLine(
  opts: ConnectOpts,
  ctx: RequestContext | undefined,
  req: ReturnType<typeof currentHttpRequest>,
): RequestLine {
  if (ctx) return ctx.target();
  const out: RequestLine = {};
  if (req) {
    if (typeof req.path === 'string') out.path = req.path;
    if (typeof req.method === 'string') out.method = req.method;
    const header = headerOf(req);
    if (header) out.header = header;
    return out;
  }
  // Some agents pass the URL's parts down to the socket.
  if (typeof opts.pathname === 'string')
    out.path = opts.pathname + (typeof opts.search === 'string' ? opts.search : '');
  if (typeof opts.method === 'string') out.method = opts.method;
  return out;
}

function attempt(
  host: string,
  address: string | null,
  port: number | null,
  line: RequestLine,
  via: string,
  callers: CallerStack[],
): ConnectionAttempt {
  const a: ConnectionAttempt = { host, address, port, via, callers };
  if (line.path !== undefined) a.path = line.path;
  if (line.method !== undefined) a.method = line.method;
  if (line.header !== undefined) a.header = line.header;
  return a;
}

let refusedCount = 0;

/** How many sockets the hook has refused so far (a caller that opened one can tell it was refused right away). */
export function refusedSockets(): number {
  return refusedCount;
}

function refuse(socket: net.Socket, err: Error): net.Socket {
  refusedCount++;
  // Fail the way a refused connection fails: asynchronously, through 'error' then 'close'.
  ProcessNextTick(() => socket.destroy(err));
  return socket;
}

/**
 * The options net will use, each read exactly once (own and inherited enumerable properties): a getter that
 * answers one thing to the check and another to net has nothing left to answer, because net gets this copy.
 */
function snapshot(given: object): ConnectOpts {
  // Without a prototype: an accessor on Object.prototype answers neither the check nor net.
  const out: Record<string, unknown> = { __proto__: null };
  for (const k in given) out[k] = (given as Record<string, unknown>)[k];
  return out as ConnectOpts;
}

/**
 * Tie the grant just made for `socket` to the TCP handle net made for this connection. net creates that handle in
 * `connect()` itself and connects it later (from the next tick, or on the DNS answer); code that runs in between (a
 * `net.client.socket` diagnostics-channel subscriber's `process.nextTick`, queued before net's own) could otherwise
 * put a handle of its own into the socket and connect it first, so that the grant went to that handle.
 */
function pinGrant(socket: net.Socket, handle: object | undefined): void {
  const g = grantOf(socket);
  if (g && handle) g.handle = handle;
}

/** Install the hook; returns the function that removes it. */
export function hookNet(decide: Decide): () => void {
  const original = net.Socket.prototype.connect as unknown as ConnectFn;
  const patched: ConnectFn = function connect(this: net.Socket, ...args: unknown[]): net.Socket {
    let normalized: unknown[];
    // Only net's own lists count as normalised (as in net): any other array is an options object to net.
    if (kNormalized && ArrayIsArray(args[0]) && (args[0] as unknown as Record<symbol, unknown>)[kNormalized])
      normalized = args[0] as unknown[];
    else if (normalizeArgs && kNormalized) normalized = normalizeArgs(args);
    else return ReflectApply(original, this, args);
    const given = normalized[0];
    if (!given || typeof given !== 'object') return ReflectApply(original, this, args);
    const opts = snapshot(given);
    // The normalised argument list is net's own, made for this one call (by net.connect or just above), with the
    // marker net uses to recognise it: net gets it back with the snapshot in place of the options.
    // The handle net made in this call, read when `connect()` returns: the only one a grant made now is for.
    let netHandle: object | undefined;
    const pass = (lookup?: LookupFn, granted = false): net.Socket => {
      if (lookup) opts.lookup = lookup;
      normalized[0] = opts;
      const r = ReflectApply(original, this, [normalized]) as net.Socket;
      netHandle = socketHandle(this);
      if (granted) pinGrant(this, netHandle);
      return r;
    };
    if (opts.path) return pass();
    const host = typeof opts.host === 'string' && opts.host.length > 0 ? opts.host : 'localhost';
    const port = opts.port === undefined || opts.port === null || opts.port === '' ? null : NumberCtor(opts.port);
    const httpReq = currentHttpRequest();
    // fetch never goes through node:http: a node:http request made while a fetch's context is current (from a
    // diagnostics-channel subscriber that undici calls inside an SDK's fetch) is judged as itself, by its own caller
    // and request line, never as that fetch.
    const ctx = httpReq ? undefined : currentRequestContext();
    const via = ctx ? ctx.via : httpReq || typeof opts.pathname === 'string' ? 'http' : 'net';
    // For a node:http request, the stack recorded when it was made, not the one now: an agent opens a socket for a
    // queued request from another request's callback, whose stack is not this request's.
    const stacks = (): CallerStack[] => {
      if (ctx) return [captureCaller(), ctx.caller];
      const made = requestCallerOf(httpReq);
      return made ? [made] : [captureCaller()];
    };

    if (ipFamily(host) !== 0) {
      const line = requestLine(opts, ctx, httpReq);
      const d = metadataAtAddress(host, port, line.path);
      if (!d) return pass();
      const dec = decide(d, attempt(host, host, port, line, via, stacks()));
      if (!dec.allowed && dec.error) return refuse(this, dec.error);
      grant(this, d, httpReq ?? null);
      return pass(undefined, true);
    }

    const byName = metadataAtHostname(host, port, undefined);
    if (byName) {
      const line = requestLine(opts, ctx, httpReq);
      const d = metadataAtHostname(host, port, line.path) ?? byName;
      const dec = decide(d, attempt(host, null, port, line, via, stacks()));
      if (!dec.allowed && dec.error) return refuse(this, dec.error);
      grant(this, d, httpReq ?? null);
      return pass(undefined, true);
    }
    // Any other name is checked on its DNS answer. Its caller's stack is not captured here: capturing costs tens of
    // microseconds on every connection, and the allowlist does not apply to names that turn out to resolve to a
    // metadata address (SDKs use the literal address or the provider's hostname; a name that resolves there is the
    // wildcard-DNS or rebinding case). A fetch that asked for a metadata URL brought its stack along.
    const callers = ctx ? [ctx.caller] : [];
    const inner: LookupFn = opts.lookup ?? (dnsLookup as unknown as LookupFn);
    const wrapped: LookupFn = (hostname, lookupOpts, cb) => {
      inner(hostname, lookupOpts, (err, address, family) => {
        if (err) {
          cb(err, address, family);
          return;
        }
        const list: LookupAddress[] = ArrayIsArray(address) ? address : [{ address, family: family ?? 0 }];
        // Every answer is checked: with happy eyeballs net may try each of them.
        for (let i = 0; i < list.length; i++) {
          const entry = list[i]!;
          if (!metadataAtAddress(entry.address, port)) continue;
          const line = requestLine(opts, ctx, httpReq);
          const d = metadataAtAddress(entry.address, port, line.path);
          if (!d) continue;
          const dec = decide(d, attempt(host, entry.address, port, line, via, callers));
          if (!dec.allowed && dec.error) {
            cb(dec.error, address, family);
            return;
          }
          grant(this, d, httpReq ?? null);
          // An answer given at once (a lookup of the application's) comes before connect() returns: the socket's
          // handle is then still net's own.
          pinGrant(this, netHandle ?? socketHandle(this));
        }
        cb(null, address, family);
      });
    };
    return pass(wrapped);
  };
  net.Socket.prototype.connect = patched as unknown as typeof net.Socket.prototype.connect;
  return () => {
    if ((net.Socket.prototype.connect as unknown) === patched)
      net.Socket.prototype.connect = original as unknown as typeof net.Socket.prototype.connect;
  };
}
