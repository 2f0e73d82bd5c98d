/**
 * Request middleware: catch SSRF payloads aimed at metadata services in incoming requests.
 * Frameworks are optional peers; nothing here imports them.
 * @module
 */
export { imdsguardExpress } from './express.ts';
export { imdsguardFastify } from './fastify.ts';
export {
  INSPECTED_HEADERS,
  type IncomingRequestView,
  type Inspection,
  inspectRequest,
  MIDDLEWARE_RULE,
  type MiddlewareOptions,
} from './inspect.ts';
export { imdsguardKoa } from './koa.ts';
export { imdsguardHttp, type NodeHttpGuardOptions } from './node-http.ts';
