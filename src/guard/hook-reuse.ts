/**
 * Connection reuse must not launder a request: once the guard lets an SDK's socket reach a metadata service, a
 * later request from elsewhere could be handed the same pooled socket and never pass through connect again.
 * node:http agents are told not to pool those sockets (and every hand-off is checked in hook-http); for undici
 * (fetch, and the undici package) each request sent on one is checked. Requests to a forward proxy carry their
 * destination in the request line (`CONNECT host:port`, or an absolute URL): those are checked on every undici
 * connection before the line is written.
 */
import diagnostics from 'node:diagnostics_channel';
import http from 'node:http';
import type { Socket } from 'node:net';
import { captureCaller } from './caller.ts';
import { checkedLineOf, currentRequestContext, grantOf, privateSlot, requestContextOf } from './context.ts';
import { ipFamily, metadataAtAddress, metadataAtHostname } from './destination.ts';
import { isConnectMethod, metadataAtTarget, proxyTarget } from './hook-http.ts';
import type { Decide } from './hook-net.ts';
import { ReflectApply, StringPrototypeCharCodeAt } from './intrinsics.ts';

/** How many requests undici sent on a granted socket. */
const usesOf = privateSlot<number>();

type KeepAlive = (this: http.Agent, socket: Socket, req?: unknown) => boolean;

interface UndiciRequest {
  path?: string;
  method?: string;
  origin?: string;
}

export function hookReuse(decide: Decide): () => void {
  const agentProto = http.Agent.prototype as unknown as { keepSocketAlive: KeepAlive };
  const originalKeep = agentProto.keepSocketAlive;
  const keep: KeepAlive = function keepSocketAlive(this: http.Agent, socket: Socket): boolean {
    if (grantOf(socket)) return false;
    // biome-ignore lint/complexity/noArguments: passed on as given, without iterating a rest array
    return ReflectApply(originalKeep, this, arguments) as boolean;
  };
  agentProto.keepSocketAlive = keep;

  const onCreate = (msg: unknown): void => {
    const request = (msg as { request?: object }).request;
    const ctx = currentRequestContext();
    if (request && ctx) requestContextOf.set(request, ctx);
  };
  const callersOf = (request: object) => {
    const ctx = requestContextOf.get(request);
    return ctx ? [ctx.caller] : [captureCaller()];
  };
  /** A request to a forward proxy: its destination is the CONNECT authority or the absolute-form target. */
  const checkProxied = (request: UndiciRequest, socket: Socket): void => {
    const method = request.method ?? 'GET';
    const path = request.path ?? '';
    if (typeof method !== 'string' || typeof path !== 'string') return;
    if (!isConnectMethod(method) && (StringPrototypeCharCodeAt(path, 0) === 47 || path === '*')) return;
    const t = proxyTarget(method, path);
    if (!t) return;
    const d = metadataAtTarget(t);
    if (!d) return;
    const dec = decide(d, {
      host: t.host,
      address: ipFamily(t.host) !== 0 ? t.host : null,
      port: t.port,
      via: isConnectMethod(method) ? 'undici-connect' : 'undici-proxy',
      callers: callersOf(request),
      method,
      ...(t.path !== undefined ? { path: t.path } : {}),
    });
    if (!dec.allowed && dec.error) socket.destroy(dec.error);
  };
  const onSend = (msg: unknown): void => {
    const { request, socket, headers } = msg as { request?: UndiciRequest; socket?: Socket; headers?: unknown };
    if (!request || !socket) return;
    // This head is checked here, with the request's caller; the socket-write check leaves exactly it alone.
    checkedLineOf.set(socket, typeof headers === 'string' ? headers : undefined);
    const g = grantOf(socket);
    if (!g) {
      checkProxied(request, socket);
      return;
    }
    // The first request on the socket is the one connect already decided on.
    const n = usesOf.get(socket) ?? 0;
    usesOf.set(socket, n + 1);
    if (n === 0) return;
    // The destination the grant was made for (not the socket's `remoteAddress`, a getter code can replace).
    const path = typeof request.path === 'string' ? request.path : undefined;
    const d =
      g.kind === 'hostname'
        ? metadataAtHostname(g.canonical, g.port, path)
        : metadataAtAddress(g.canonical, g.port, path);
    if (!d) return;
    const a = {
      host: g.canonical,
      address: g.kind === 'hostname' ? null : g.canonical,
      port: g.port,
      via: 'fetch-reused-socket',
      callers: callersOf(request),
      ...(path !== undefined ? { path } : {}),
      ...(typeof request.method === 'string' ? { method: request.method } : {}),
    };
    const dec = decide(d, a);
    // Destroying the socket before undici writes the request line means nothing reaches the service.
    if (!dec.allowed && dec.error) socket.destroy(dec.error);
  };
  diagnostics.subscribe('undici:request:create', onCreate);
  diagnostics.subscribe('undici:client:sendHeaders', onSend);
  return () => {
    if (agentProto.keepSocketAlive === keep) agentProto.keepSocketAlive = originalKeep;
    diagnostics.unsubscribe('undici:request:create', onCreate);
    diagnostics.unsubscribe('undici:client:sendHeaders', onSend);
  };
}
