/**
 * node:http: wrap a request listener. Bodies are read here only when asked (`readBody`), because a node:http
 * body can be read once; the buffered body is then handed to the listener as `req.body` (Buffer) and parsed
 * JSON/form content is what gets inspected.
 */
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import {
  type IncomingRequestView,
  inspectRequest,
  type MiddlewareOptions,
  middlewareMode,
  refusalBody,
} from './inspect.ts';

export interface NodeHttpGuardOptions extends MiddlewareOptions {
  /** Buffer and inspect JSON and form bodies up to this many bytes (default 0: bodies are not read). */
  readBody?: number;
}

function parseBody(buf: Buffer, contentType: string | undefined): unknown {
  const text = buf.toString('utf8');
  if (contentType?.includes('json')) {
    try {
      return JSON.parse(text);
    } catch {
      return text;
    }
  }
  if (contentType?.includes('application/x-www-form-urlencoded')) return Object.fromEntries(new URLSearchParams(text));
  return text;
}

async function readAll(req: IncomingMessage, limit: number): Promise<Buffer | null> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of req) {
    n += (c as Buffer).length;
    if (n > limit) return null;
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks);
}

/**
 * @example http.createServer(imdsguardHttp((req, res) => res.end('ok'), { readBody: 65536 }))
 */
export function imdsguardHttp(listener: RequestListener, options: NodeHttpGuardOptions = {}): RequestListener {
  const mode = middlewareMode(options);
  return (req: IncomingMessage, res: ServerResponse) => {
    const view: IncomingRequestView = { url: req.url ?? '/', headers: req.headers };
    if (req.method) view.method = req.method;
    if (req.socket.remoteAddress) view.clientIp = req.socket.remoteAddress;
    const finish = () => {
      const r = inspectRequest(view, mode, options);
      if (r.block) {
        res.writeHead(403, { 'content-type': 'application/json', 'x-request-id': r.requestId });
        res.end(refusalBody(r.requestId));
        return;
      }
      listener(req, res);
    };
    const ct = req.headers['content-type'];
    if (
      options.readBody &&
      req.method !== 'GET' &&
      req.method !== 'HEAD' &&
      (ct?.includes('json') || ct?.includes('form-urlencoded'))
    ) {
      readAll(req, options.readBody).then(
        (buf) => {
          if (buf) {
            view.body = parseBody(buf, ct);
            (req as IncomingMessage & { body?: Buffer }).body = buf;
          }
          finish();
        },
        () => res.destroy(),
      );
      return;
    }
    finish();
  };
}
