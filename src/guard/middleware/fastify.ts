/**
 * Fastify (4 and 5) plugin: a `preHandler` hook, so bodies are already parsed. Registered with `skip-override`
 * (what fastify-plugin does) so that it covers every route of the instance it is registered on.
 */
import {
  type IncomingRequestView,
  inspectRequest,
  type MiddlewareOptions,
  middlewareMode,
  refusalBody,
} from './inspect.ts';

interface FastifyReq {
  method: string;
  url: string;
  headers: IncomingRequestView['headers'];
  body?: unknown;
  ip?: string | undefined;
}
interface FastifyReply {
  code(c: number): FastifyReply;
  header(name: string, value: string): FastifyReply;
  type(t: string): FastifyReply;
  send(body: string): unknown;
}
interface FastifyLike {
  addHook(name: 'preHandler', fn: (req: FastifyReq, reply: FastifyReply) => Promise<unknown>): unknown;
}

/** @example await app.register(imdsguardFastify, { mode: 'monitor' }) */
export async function imdsguardFastify(app: FastifyLike, options: MiddlewareOptions = {}): Promise<void> {
  const mode = middlewareMode(options);
  app.addHook('preHandler', async (req, reply) => {
    const view: IncomingRequestView = { method: req.method, url: req.url, headers: req.headers };
    if (req.body !== undefined) view.body = req.body;
    if (req.ip) view.clientIp = req.ip;
    const r = inspectRequest(view, mode, options);
    if (r.block) {
      return reply
        .code(403)
        .header('x-request-id', r.requestId)
        .type('application/json')
        .send(refusalBody(r.requestId));
    }
    return undefined;
  });
}
(imdsguardFastify as unknown as Record<symbol, boolean>)[Symbol.for('skip-override')] = true;
(imdsguardFastify as unknown as Record<symbol, string>)[Symbol.for('fastify.display-name')] = 'imdsguard';
