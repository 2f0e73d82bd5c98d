import { isHostNamingField } from '../decode/forwarded.ts';
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

/** A string that may hold a URL, plain or percent-encoded, or a protocol-relative one. */
const MAY_HOLD_URL = /\/\/|%2f/i;
/** How much of a record is walked for unnamed URL-bearing strings: enough for any log record, bounded for hostile ones. */
const MAX_LEAVES = 512;
const MAX_DEPTH = 16;
/** A JSON string literal's contents (keys too: a key holding a URL is read as well). */
const STRING_LITERAL = /"((?:[^"\\]|\\.)*)"/g;

const URLISH_KEY = /url|uri|query|args|redirect|callback|dest|next|target|proxy|upstream_url|webhook|link/i;

const URLISH = 1;
const HOST_NAMING = 2;
/**
 * What a key path's name says (`URLISH`: named like a URL; `HOST_NAMING`: `isHostNamingField`), per path: a log's
 * records repeat the same keys, so each line would otherwise reduce every key's name again. Bounded all the same.
 */
const PATH_KINDS = new Map<string, number>();
function pathKind(path: string): number {
  let kind = PATH_KINDS.get(path);
  if (kind === undefined) {
    kind = (URLISH_KEY.test(path) ? URLISH : 0) | (isHostNamingField(path) ? HOST_NAMING : 0);
    if (PATH_KINDS.size < 4096) PATH_KINDS.set(path, kind);
  }
  return kind;
}

/** A quote followed by a colon: every key of a JSON text ends so (a string opening with a colon counts too). */
const KEY_END = /"[ \t\n\r]*:/g;
function keyEnds(text: string): number {
  let n = 0;
  KEY_END.lastIndex = 0;
  while (KEY_END.test(text)) n++;
  return n;
}

function pick(o: Record<string, unknown>, key: string, map: Record<string, string> | undefined): unknown {
  const mapped = map?.[key];
  if (mapped) return getPath(o, mapped);
  for (const p of AUTO[key] ?? []) {
    const v = getPath(o, p);
    // Only a value a field can hold: ECS nests `url: {original: …}`, and the object under `url` must not hide the
    // string under `url.original`.
    if ((typeof v === 'string' && v !== '') || typeof v === 'number' || typeof v === 'boolean') return v;
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

function jsonPlaces(
  o: Record<string, unknown>,
  map: Record<string, string> | undefined,
  /** The record's text, when it came from a line: its duplicate keys' earlier values are read from it. */
  text?: string,
): JsonPlaces {
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
    if (typeof v === 'string' && v.length > 0 && v !== target && v !== request && (pathKind(k) & URLISH) !== 0)
      extra[k] = v;
  }
  for (const [k, p] of Object.entries(map ?? {})) {
    if (k in AUTO) continue;
    const v = str(getPath(o, p));
    if (v) extra[k] = v;
  }
  // Any other string, at any depth, that may hold a URL (`//`, or a percent-encoded `/`): a field no name above
  // covers (`extra_param`, `ctx.src`) is still read as text, not dropped.
  const host = str(pick(o, 'host', map));
  const referer = str(pick(o, 'referer', map));
  const body = str(pick(o, 'body', map));
  const taken = new Set([target, request, host, referer, body, ...Object.values(extra)]);
  const mapped = new Set(Object.values(map ?? {}));
  let budget = MAX_LEAVES;
  // Whether a string that may hold a URL was left out of `taken` (or not reached), and how many keys were walked: the
  // repeated-key search below can add nothing when neither happened and the text has no more keys than the record.
  let missed = false;
  let keys = 0;
  const walk = (v: unknown, path: string, depth: number): void => {
    if (budget <= 0) {
      missed = true;
      return;
    }
    if (typeof v === 'string') {
      budget--;
      if (v.length <= 2) return;
      const url = MAY_HOLD_URL.test(v);
      // A recorded X-Forwarded-Host or Forwarded header, at any depth and under any spelling of its name, is kept
      // for the host it names (`x_forwarded_host`, `headers.x-forwarded-host`, `forwarded: "host=…"`).
      if ((url || (pathKind(path) & HOST_NAMING) !== 0) && !taken.has(v) && !mapped.has(path) && !(path in extra)) {
        extra[path] = v;
        taken.add(v);
      } else if (url && !taken.has(v)) missed = true;
    } else if (v !== null && typeof v === 'object') {
      if (depth >= MAX_DEPTH) missed = true;
      else if (Array.isArray(v)) for (let i = 0; i < v.length; i++) walk(v[i], `${path}[${i}]`, depth + 1);
      else
        for (const k in v as Record<string, unknown>) {
          keys++;
          walk((v as Record<string, unknown>)[k], path ? `${path}.${k}` : k, depth + 1);
        }
    }
  };
  walk(o, '', 0);
  // A key given twice keeps only its last value once parsed; the others are read from the text, as text. Without
  // escapes each literal is its value, so with every key of the text in the record and every string that may hold a
  // URL in `taken`, there is nothing to add.
  if (text && MAY_HOLD_URL.test(text) && (missed || text.includes('\\') || keyEnds(text) !== keys)) {
    let n = 0;
    let key = '';
    STRING_LITERAL.lastIndex = 0;
    for (let m = STRING_LITERAL.exec(text); m !== null && n < MAX_LEAVES; m = STRING_LITERAL.exec(text), n++) {
      const raw = m[1]!;
      let after = STRING_LITERAL.lastIndex;
      while (text.charCodeAt(after) === 32 || text.charCodeAt(after) === 9) after++;
      if (text.charCodeAt(after) === 58) {
        key = raw;
        continue;
      }
      if (raw.length <= 2 || !MAY_HOLD_URL.test(raw.includes('\\') ? raw.replace(/\\\//g, '/') : raw)) continue;
      let v: string;
      try {
        v = JSON.parse(`"${raw}"`) as string;
      } catch {
        continue;
      }
      if (!taken.has(v)) {
        extra[`${key} (repeated key)`] = v;
        taken.add(v);
      }
    }
  }
  return {
    target,
    method,
    host,
    referer,
    body,
    extra,
  };
}

export function jsonEvent(
  o: Record<string, unknown>,
  opts: ParserOptions,
  origin: { file: string; line: number },
  format = 'json',
  text?: string,
): HttpEvent {
  const map = opts.fieldMap;
  const p = jsonPlaces(o, map, text);
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
  const p = jsonPlaces(o, opts.fieldMap, text);
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
        return { kind: 'event', event: jsonEvent(o, opts, origin, 'json', text) };
      },
      quickPlaces: (text) => quickJsonPlaces(text, opts),
    };
  },
};
