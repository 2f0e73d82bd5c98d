/**
 * The one choke point every TCP client in Node goes through: `net.Socket.prototype.connect` (http, https, tls,
 * fetch/undici, axios, got, node-fetch, database drivers…). Literal addresses are checked at once; names are
 * checked on the DNS answer the socket is about to use, by wrapping the socket's `lookup`, so the address that is
 * checked is the address that is connected to — a name that resolves to 169.254.169.254 (wildcard DNS, rebinding,
 * a hosts entry) is caught, and a second resolution cannot differ from the checked one.
 */
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import net from 'node:net';
import { type CallerStack, captureCaller } from './caller.ts';
import { kMetadataSocket, type RequestContext, type RequestLine, requestContext } from './context.ts';
import type { ConnectionAttempt, Decision } from './decide.ts';
import { type MetadataDestination, metadataAtAddress, metadataAtHostname } from './destination.ts';
import { currentHttpRequest } from './hook-http.ts';

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

function requestLine(opts: ConnectOpts, ctx: RequestContext | undefined): RequestLine {
  if (ctx) return ctx.target();
  const out: RequestLine = {};
  const req = currentHttpRequest();
  if (req) {
    if (typeof req.path === 'string') out.path = req.path;
    if (typeof req.method === 'string') out.method = req.method;
    if (typeof req.getHeader === 'function') {
      const get = req.getHeader.bind(req);
      out.header = (name) => {
        const v = get(name);
        return v === undefined ? undefined : String(v);
      };
    }
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

function refuse(socket: net.Socket, err: Error): net.Socket {
  // Fail the way a refused connection fails: asynchronously, through 'error' then 'close'.
  process.nextTick(() => socket.destroy(err));
  return socket;
}

/** Install the hook; returns the function that removes it. */
export function hookNet(decide: Decide): () => void {
  const original = net.Socket.prototype.connect as unknown as ConnectFn;
  const patched: ConnectFn = function connect(this: net.Socket, ...args: unknown[]): net.Socket {
    let normalized: unknown[];
    if (Array.isArray(args[0])) normalized = args[0] as unknown[];
    else if (normalizeArgs) normalized = normalizeArgs(args);
    else return original.apply(this, args);
    const opts = normalized[0] as ConnectOpts | undefined;
    if (!opts || typeof opts !== 'object' || opts.path) return original.apply(this, args);
    const host = typeof opts.host === 'string' && opts.host.length > 0 ? opts.host : 'localhost';
    const port = opts.port === undefined || opts.port === null || opts.port === '' ? null : Number(opts.port);
    const ctx = requestContext.getStore();
    const via = ctx ? ctx.via : currentHttpRequest() || typeof opts.pathname === 'string' ? 'http' : 'net';

    if (net.isIP(host) !== 0) {
      const line = requestLine(opts, ctx);
      const d = metadataAtAddress(host, port, line.path);
      if (!d) return original.apply(this, args);
      const callers = ctx ? [captureCaller(), ctx.caller] : [captureCaller()];
      const dec = decide(d, attempt(host, host, port, line, via, callers));
      if (!dec.allowed && dec.error) return refuse(this, dec.error);
      (this as unknown as Record<symbol, boolean>)[kMetadataSocket] = true;
      return original.apply(this, args);
    }

    const byName = metadataAtHostname(host, port, undefined);
    if (byName) {
      const callers = ctx ? [captureCaller(), ctx.caller] : [captureCaller()];
      const line = requestLine(opts, ctx);
      const d = metadataAtHostname(host, port, line.path) ?? byName;
      const dec = decide(d, attempt(host, null, port, line, via, callers));
      if (!dec.allowed && dec.error) return refuse(this, dec.error);
      (this as unknown as Record<symbol, boolean>)[kMetadataSocket] = true;
      return original.apply(this, args);
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
        const list: LookupAddress[] = Array.isArray(address) ? address : [{ address, family: family ?? 0 }];
        for (const entry of list) {
          const line = requestLine(opts, ctx);
          const d = metadataAtAddress(entry.address, port, line.path);
          if (!d) continue;
          const dec = decide(d, attempt(host, entry.address, port, line, via, callers));
          if (!dec.allowed && dec.error) {
            cb(dec.error, address, family);
            return;
          }
          (this as unknown as Record<symbol, boolean>)[kMetadataSocket] = true;
          break;
        }
        cb(null, address, family);
      });
    };
    const copy = [...normalized];
    // Keep the marker net uses to recognise already-normalised arguments.
    for (const s of Object.getOwnPropertySymbols(normalized))
      (copy as unknown as Record<symbol, unknown>)[s] = (normalized as unknown as Record<symbol, unknown>)[s];
    copy[0] = { ...opts, lookup: wrapped };
    return original.call(this, copy);
  };
  net.Socket.prototype.connect = patched as unknown as typeof net.Socket.prototype.connect;
  return () => {
    if ((net.Socket.prototype.connect as unknown) === patched)
      net.Socket.prototype.connect = original as unknown as typeof net.Socket.prototype.connect;
  };
}
