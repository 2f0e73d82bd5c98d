/**
 * Connection reuse must not launder a request: once the guard lets an SDK's socket reach a metadata service, a
 * later request from elsewhere could be handed the same pooled socket and never pass through connect again.
 * node:http agents are told not to pool those sockets; for undici (fetch) each request sent on one is checked.
 */
import diagnostics from 'node:diagnostics_channel';
import http from 'node:http';
import type { Socket } from 'node:net';
import { captureCaller } from './caller.ts';
import { kMetadataSocket, kRequestContext, type RequestContext, requestContext } from './context.ts';
import { metadataAtAddress } from './destination.ts';
import type { Decide } from './hook-net.ts';

const kUses = Symbol('imdsguard.requestsOnSocket');

type KeepAlive = (this: http.Agent, socket: Socket, req?: unknown) => boolean;

export function hookReuse(decide: Decide): () => void {
  const agentProto = http.Agent.prototype as unknown as { keepSocketAlive: KeepAlive };
  const originalKeep = agentProto.keepSocketAlive;
  const keep: KeepAlive = function keepSocketAlive(this: http.Agent, socket: Socket, ...rest: unknown[]): boolean {
    if ((socket as unknown as Record<symbol, unknown>)[kMetadataSocket]) return false;
    return Reflect.apply(originalKeep, this, [socket, ...rest]) as boolean;
  };
  agentProto.keepSocketAlive = keep;

  const onCreate = (msg: unknown): void => {
    const request = (msg as { request?: object }).request;
    const ctx = requestContext.getStore();
    if (request && ctx) (request as Record<symbol, RequestContext>)[kRequestContext] = ctx;
  };
  const onSend = (msg: unknown): void => {
    const { request, socket } = msg as { request?: { path?: string; method?: string }; socket?: Socket };
    if (!request || !socket || !(socket as unknown as Record<symbol, unknown>)[kMetadataSocket]) return;
    // The first request on the socket is the one connect already decided on.
    const uses = socket as unknown as Record<symbol, number | undefined>;
    const n = uses[kUses] ?? 0;
    uses[kUses] = n + 1;
    if (n === 0) return;
    const address = socket.remoteAddress;
    if (!address) return;
    const d = metadataAtAddress(address, socket.remotePort ?? null, request.path);
    if (!d) return;
    const ctx = (request as Record<symbol, RequestContext | undefined>)[kRequestContext];
    const a = {
      host: address,
      address,
      port: socket.remotePort ?? null,
      via: 'fetch-reused-socket',
      callers: ctx ? [ctx.caller] : [captureCaller()],
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
