/**
 * HTTP/2 through a forward proxy. On an h2c or h2 connection to a proxy the destination is not the connection's:
 * a stream `:method CONNECT`, `:authority 169.254.169.254:80` asks the proxy for a tunnel there, and a proxy that
 * routes by `:authority` forwards any other stream to the host it names. Each stream's pseudo-headers are checked
 * like an HTTP/1 CONNECT target or absolute-form URL, with the caller of `session.request()`. The headers are read
 * once, into a copy, and the stream is opened with that copy. Refused, `request()` throws the guard's error and no
 * stream is opened.
 *
 * `ClientHttp2Session` is not exported: its prototype is taken from the first session `http2.connect()` returns
 * (no session exists before one), and its `request` is replaced then, once per process, read-only.
 */

import type * as Http2 from 'node:http2';
import { createRequire, syncBuiltinESMExports } from 'node:module';
import { captureCaller } from './caller.ts';
import { ipFamily } from './destination.ts';
import { isConnectMethod, metadataAtTarget, proxyTarget } from './hook-http.ts';
import { type Decide, refusedSockets } from './hook-net.ts';
import {
  ArrayIsArray,
  ArrayPrototypePush,
  bare,
  ObjectKeys,
  ReflectApply,
  StringCtor,
  StringPrototypeCharCodeAt,
  StringPrototypeToLowerCase,
} from './intrinsics.ts';

const http2 = createRequire(import.meta.url)('node:http2') as typeof Http2;

type Headers = Record<string | symbol, unknown>;
type RequestFn = (this: unknown, headers?: unknown, ...rest: unknown[]) => unknown;

let current: Decide | null = null;
let sessionProtoPatched = false;

/** A snapshot of the headers (getters read once); raw `[name, value, …]` arrays as Node takes them are read too. */
function snapshot(headers: unknown): { copy: unknown; read: Headers } {
  const read = bare<unknown>() as Headers;
  if (ArrayIsArray(headers)) {
    const copy: unknown[] = [];
    for (let i = 0; i < headers.length; i++) ArrayPrototypePush(copy, headers[i]);
    for (let i = 0; i + 1 < copy.length; i += 2) read[StringPrototypeToLowerCase(StringCtor(copy[i]))] = copy[i + 1];
    return { copy, read };
  }
  if (headers === null || typeof headers !== 'object') return { copy: headers, read };
  const copy: Headers = { ...(headers as Headers) };
  const keys = ObjectKeys(copy);
  for (let i = 0; i < keys.length; i++) read[StringPrototypeToLowerCase(keys[i]!)] = copy[keys[i]!];
  return { copy, read };
}

function check(read: Headers): void {
  const decide = current;
  if (!decide) return;
  const authority = read[':authority'];
  if (typeof authority !== 'string' || authority === '') return;
  const method = typeof read[':method'] === 'string' ? (read[':method'] as string) : 'GET';
  const connect = isConnectMethod(method);
  const scheme = read[':scheme'] === 'https' ? 'https' : 'http';
  const path = typeof read[':path'] === 'string' ? (read[':path'] as string) : '/';
  const t = proxyTarget(
    method,
    connect ? authority : `${scheme}://${authority}${StringPrototypeCharCodeAt(path, 0) === 47 ? path : '/'}`,
  );
  if (!t) return;
  const d = metadataAtTarget(t);
  if (!d) return;
  const dec = decide(d, {
    host: t.host,
    address: ipFamily(t.host) !== 0 ? t.host : null,
    port: t.port,
    method,
    ...(t.path !== undefined ? { path: t.path } : {}),
    header: (name) => {
      const v = read[StringPrototypeToLowerCase(name)];
      return v === undefined ? undefined : StringCtor(v);
    },
    via: connect ? 'http2-connect' : 'http2-authority',
    callers: [captureCaller()],
  });
  if (!dec.allowed && dec.error) throw dec.error;
}

function patchSessionProto(proto: { request?: RequestFn }): void {
  const original = proto.request;
  if (typeof original !== 'function') return;
  const request: RequestFn = function request(this: unknown, headers?: unknown, ...rest: unknown[]) {
    const { copy, read } = snapshot(headers);
    check(read);
    // By index: spreading `rest` would iterate it with whatever Array.prototype[Symbol.iterator] is now.
    const args: unknown[] = [copy];
    for (let i = 0; i < rest.length; i++) ArrayPrototypePush(args, rest[i]);
    return ReflectApply(original, this, args);
  };
  Object.defineProperty(proto, 'request', { value: request, writable: false, configurable: false, enumerable: false });
}

function withoutConnectEvent(session: object): void {
  const emit = (session as { emit: (event: string | symbol, ...a: unknown[]) => boolean }).emit;
  Object.defineProperty(session, 'emit', {
    value: function emitExceptConnect(this: unknown, event: string | symbol, ...a: unknown[]): boolean {
      return event === 'connect' ? false : ReflectApply(emit, this, [event, ...a]);
    },
    writable: true,
    configurable: true,
    enumerable: false,
  });
}

export function hookHttp2(decide: Decide): () => void {
  current = decide;
  const originalConnect = http2.connect;
  const connect = function connect(this: unknown, ...args: unknown[]) {
    const before = refusedSockets();
    const session = ReflectApply(originalConnect, this, args) as object;
    // A socket refused at once never connects, but the session takes a socket without a handle as connected and
    // would emit 'connect' before the refusal's 'error': that 'connect' is dropped.
    if (refusedSockets() !== before) withoutConnectEvent(session);
    if (!sessionProtoPatched) {
      sessionProtoPatched = true;
      patchSessionProto(Object.getPrototypeOf(session) as { request?: RequestFn });
    }
    return session;
  } as typeof http2.connect;
  (http2 as { connect: typeof http2.connect }).connect = connect;
  syncBuiltinESMExports();
  return () => {
    if (current === decide) current = null;
    if (http2.connect === connect) {
      (http2 as { connect: typeof http2.connect }).connect = originalConnect;
      syncBuiltinESMExports();
    }
  };
}
