/**
 * Express (4 and 5) middleware. Mount it after a body parser (`express.json()`, `express.urlencoded()`) for body
 * inspection; before one, it still reads the target and headers.
 */
import {
  type IncomingRequestView,
  inspectRequest,
  type MiddlewareOptions,
  middlewareMode,
  refusalBody,
} from './inspect.ts';

/** The parts of Express's request and response this uses (no dependency on express itself). */
interface ExpressReq {
  method: string;
  originalUrl?: string | undefined;
  url: string;
  headers: IncomingRequestView['headers'];
  body?: unknown;
  ip?: string | undefined;
}
interface ExpressRes {
  status(code: number): ExpressRes;
  set(name: string, value: string): ExpressRes;
  type(t: string): ExpressRes;
  send(body: string): unknown;
}

/** @example app.use(express.json(), imdsguardExpress({ mode: 'block' })) */
export function imdsguardExpress(options: MiddlewareOptions = {}) {
  const mode = middlewareMode(options);
  return function imdsguard(req: ExpressReq, res: ExpressRes, next: (err?: unknown) => void): void {
    const view: IncomingRequestView = { method: req.method, url: req.originalUrl ?? req.url, headers: req.headers };
    if (req.body !== undefined) view.body = req.body;
    if (req.ip) view.clientIp = req.ip;
    const r = inspectRequest(view, mode, options);
    if (r.block) {
      res.status(403).set('x-request-id', r.requestId).type('application/json').send(refusalBody(r.requestId));
      return;
    }
    next();
  };
}
