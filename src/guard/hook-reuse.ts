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
import { isIP, type Socket } from 'node:net';
import { captureCaller } from './caller.ts';
import { grantOf, kCheckedLine, kRequestContext, type RequestContext, requestContext } from './context.ts';
import { metadataAtAddress } from './destination.ts';
import { isConnectMethod, metadataAtTarget, proxyTarget } from './hook-http.ts';
import type { Decide } from './hook-net.ts';

const kUses = Symbol('imdsguard.requestsOnSocket');

type KeepAlive = (this: http.Agent, socket: Socket, req?: unknown) => boolean;

interface UndiciRequest {
  path?: string;
  method?: string;
  origin?: string;
}

export function hookReuse(decide: Decide): () => void {
  const agentProto = http.Agent.prototype as unknown as { keepSocketAlive: KeepAlive };
  const originalKeep = agentProto.keepSocketAlive;
  const keep: KeepAlive = function keepSocketAlive(this: http.Agent, socket: Socket, ...rest: unknown[]): boolean {
    if (grantOf(socket)) return false;
    return Reflect.apply(originalKeep, this, [socket, ...rest]) as boolean;
  };
  agentProto.keepSocketAlive = keep;

  const onCreate = (msg: unknown): void => {
    const request = (msg as { request?: object }).request;
    const ctx = requestContext.getStore();
    if (request && ctx) (request as Record<symbol, RequestContext>)[kRequestContext] = ctx;
  };
  const callersOf = (request: object) => {
    const ctx = (request as Record<symbol, RequestContext | undefined>)[kRequestContext];
    return ctx ? [ctx.caller] : [captureCaller()];
  };
  /** A request to a forward proxy: its destination is the CONNECT authority or the absolute-form target. */
  const checkProxied = (request: UndiciRequest, socket: Socket): void => {
    const method = request.method ?? 'GET';
    const path = request.path ?? '';
    if (!isConnectMethod(method) && (path.charCodeAt(0) === 47 || path === '*')) return;
    const t = proxyTarget(method, path);
    if (!t) return;
    const d = metadataAtTarget(t);
    if (!d) return;
    const dec = decide(d, {
      host: t.host,
      address: isIP(t.host) !== 0 ? t.host : null,
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
    (socket as unknown as Record<symbol, unknown>)[kCheckedLine] = typeof headers === 'string' ? headers : undefined;
    if (!grantOf(socket)) {
      checkProxied(request, socket);
      return;
    }
    // The first request on the socket is the one connect already decided on.
    const uses = socket as unknown as Record<symbol, number | undefined>;
    const n = uses[kUses] ?? 0;
    uses[kUses] = n + 1;
    if (n === 0) return;
    const address = socket.remoteAddress;
    if (!address) return;
    const d = metadataAtAddress(address, socket.remotePort ?? null, request.path);
    if (!d) return;
    const a = {
      host: address,
      address,
      port: socket.remotePort ?? null,
      via: 'fetch-reused-socket',
      callers: callersOf(request),
      ...(request.path !== undefined ? { path: request.path } : {}),
      ...(request.method !== undefined ? { method: request.method } : {}),
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
