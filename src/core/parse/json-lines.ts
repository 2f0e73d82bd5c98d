import type { HttpEvent } from '../model/event.ts';
import { epochTime, getPath, intOrUndef, isoTime, parseJsonObject, splitRequestLine, str } from './fields.ts';
import { httpEvent, type LineParser, type LogFormat, NOMATCH, type ParserOptions } from './types.ts';

/**
 * JSON lines from any web server or app logger. Common field names are mapped automatically (nginx `escape=json`
 * templates, Caddy, GCP HTTP load balancer, Kong, Express/pino-http, ECS); `--field url=path.to.field` maps the rest.
 * Other string fields whose name says they carry a URL or a request are classified as text too.
 */
const AUTO: Record<string, string[]> = {
  url: [
    'url',
    'uri',
    'request_uri',
    'requestUri',
    'path',
    'request_path',
    'url.original',
    'url.full',
    'httpRequest.requestUrl',
    'request.uri',
    'request.url',
    'req.url',
    'http.url',
    'target',
  ],
  request: ['request', 'request_line', 'http.request.line'],
  host: ['host', 'http_host', 'hostname', 'server_name', 'request.host', 'req.headers.host', 'url.domain'],
  referer: [
    'referer',
    'referrer',
    'http_referer',
    'http_referrer',
    'httpRequest.referer',
    'http.request.referrer',
    'req.headers.referer',
    'request.headers.Referer.0',
  ],
  method: [
    'method',
    'request_method',
    'http_method',
    'httpRequest.requestMethod',
    'http.request.method',
    'request.method',
    'req.method',
  ],
  status: [
    'status',
    'status_code',
    'statusCode',
    'response_status',
    'httpRequest.status',
    'http.response.status_code',
    'res.statusCode',
  ],
  bytes: [
    'bytes',
    'body_bytes_sent',
    'bytes_sent',
    'size',
    'response_size',
    'httpRequest.responseSize',
    'http.response.body.bytes',
    'response.size',
  ],
  client: [
    'remote_addr',
    'client_ip',
    'clientip',
    'client',
    'ip',
    'src_ip',
    'remote_ip',
    'httpRequest.remoteIp',
    'source.ip',
    'client.ip',
    'request.remote_ip',
    'req.remoteAddress',
  ],
  time: ['time', 'timestamp', '@timestamp', 'time_local', 'time_iso8601', 'ts', 'date'],
  body: ['body', 'request_body', 'http.request.body.content'],
  useragent: ['user_agent', 'http_user_agent', 'userAgent', 'httpRequest.userAgent', 'user_agent.original'],
};

const URLISH_KEY = /url|uri|query|args|redirect|callback|dest|next|target|proxy|upstream_url|webhook|link/i;

function pick(o: Record<string, unknown>, key: string, map: Record<string, string> | undefined): unknown {
  const mapped = map?.[key];
  if (mapped) return getPath(o, mapped);
  for (const p of AUTO[key] ?? []) {
    const v = getPath(o, p);
    if (v !== undefined && v !== null && v !== '') return v;
  }
  return undefined;
}

function anyTime(v: unknown): string | undefined {
  if (typeof v === 'number') return epochTime(v, v > 1e11);
  const s = str(v);
  return s && /^\d+(?:\.\d+)?$/.test(s) ? epochTime(s) : isoTime(s);
}

/** The fields of a JSON record a rule may flag: the request target, host, Referer, body and URL-ish extras. */
interface JsonPlaces {
  target: string | undefined;
  method: string | undefined;
  host: string | undefined;
  referer: string | undefined;
  body: string | undefined;
  extra: Record<string, string>;
}

function jsonPlaces(o: Record<string, unknown>, map: Record<string, string> | undefined): JsonPlaces {
  let target = str(pick(o, 'url', map));
  let method = str(pick(o, 'method', map));
  const request = str(pick(o, 'request', map));
  if (request) {
    const r = splitRequestLine(request);
    target ??= r.target;
    method ??= r.method;
  }
  const extra: Record<string, string> = {};
  // Top-level strings named like URLs that were not already taken as the target (or the request line).
  for (const k in o) {
    const v = o[k];
    if (typeof v === 'string' && v.length > 0 && v !== target && v !== request && URLISH_KEY.test(k)) extra[k] = v;
  }
  for (const [k, p] of Object.entries(map ?? {})) {
    if (k in AUTO) continue;
    const v = str(getPath(o, p));
    if (v) extra[k] = v;
  }
  return {
    target,
    method,
    host: str(pick(o, 'host', map)),
    referer: str(pick(o, 'referer', map)),
    body: str(pick(o, 'body', map)),
    extra,
  };
}

export function jsonEvent(
  o: Record<string, unknown>,
  opts: ParserOptions,
  origin: { file: string; line: number },
  format = 'json',
): HttpEvent {
  const map = opts.fieldMap;
  const p = jsonPlaces(o, map);
  return httpEvent({
    origin: { file: origin.file, line: origin.line, format },
    time: anyTime(pick(o, 'time', map)),
    method: p.method,
    target: p.target,
    host: p.host,
    referer: p.referer,
    userAgent: str(pick(o, 'useragent', map)),
    status: intOrUndef(pick(o, 'status', map) as number | string | undefined),
    bytes: intOrUndef(pick(o, 'bytes', map) as number | string | undefined),
    clientIp: str(pick(o, 'client', map)),
    ...(p.body ? { body: p.body } : {}),
    ...(Object.keys(p.extra).length > 0 ? { extra: p.extra } : {}),
  });
}

/**
 * The values `jsonEvent` puts in attack-bearing fields, found without building the event (no times, sizes or user
 * agents): `scan` reads only these for a line, and builds the event only when one of them may matter.
 */
export function quickJsonPlaces(text: string, opts: ParserOptions): string[] | null {
  const o = parseJsonObject(text);
  if (!o) return null;
  const p = jsonPlaces(o, opts.fieldMap);
  const out: string[] = [];
  for (const v of [p.target, p.host, p.referer, p.body]) if (v) out.push(v);
  for (const v of Object.values(p.extra)) out.push(v);
  return out;
}

export const jsonFormat: LogFormat = {
  name: 'json',
  sniff: (line) => line.trimStart().startsWith('{') && parseJsonObject(line) !== undefined,
  create(opts): LineParser {
    return {
      format: 'json',
      parse(text, origin) {
        const o = parseJsonObject(text);
        if (!o) return NOMATCH;
        return { kind: 'event', event: jsonEvent(o, opts, origin) };
      },
      quickPlaces: (text) => quickJsonPlaces(text, opts),
    };
  },
};
