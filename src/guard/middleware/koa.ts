/** Koa (2 and 3) middleware. Mount it after a body parser (`@koa/bodyparser`) for body inspection. */
import {
  type IncomingRequestView,
  inspectRequest,
  type MiddlewareOptions,
  middlewareMode,
  refusalBody,
} from './inspect.ts';

interface KoaCtx {
  method: string;
  originalUrl: string;
  headers: IncomingRequestView['headers'];
  ip?: string | undefined;
  request: { body?: unknown };
  status: number;
  type: string;
  body: unknown;
  set(name: string, value: string): void;
}

/** @example app.use(bodyParser()); app.use(imdsguardKoa()) */
export function imdsguardKoa(options: MiddlewareOptions = {}) {
  const mode = middlewareMode(options);
  return async function imdsguard(ctx: KoaCtx, next: () => Promise<unknown>): Promise<void> {
    const view: IncomingRequestView = { method: ctx.method, url: ctx.originalUrl, headers: ctx.headers };
    if (ctx.request.body !== undefined) view.body = ctx.request.body;
    if (ctx.ip) view.clientIp = ctx.ip;
    const r = inspectRequest(view, mode, options);
    if (r.block) {
      ctx.status = 403;
      ctx.set('x-request-id', r.requestId);
      ctx.type = 'application/json';
      ctx.body = refusalBody(r.requestId);
      return;
    }
    await next();
  };
}
