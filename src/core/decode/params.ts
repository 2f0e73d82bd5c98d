/** Parameter names whose value an application is likely to fetch, follow or connect to. */
const URLISH_EXACT = new Set([
  'u',
  'r',
  'url',
  'uri',
  'urls',
  'link',
  'href',
  'src',
  'source',
  'target',
  'dest',
  'destination',
  'redirect',
  'redir',
  'return',
  'returnto',
  'return_to',
  'next',
  'continue',
  'callback',
  'webhook',
  'endpoint',
  'host',
  'hostname',
  'domain',
  'site',
  'website',
  'feed',
  'rss',
  'proxy',
  'fetch',
  'load',
  'image',
  'img',
  'avatar',
  'icon',
  'logo',
  'file',
  'page',
  'go',
  'goto',
  'out',
  'to',
  'forward',
  'window',
  'preview',
  'html',
  'api',
  'location',
  'ssrf',
  'open',
  'remote',
  'upstream',
  'import',
  'download',
  'document',
  'doc',
  'pdf',
  'resource',
  'media',
  'video',
  'audio',
  'embed',
  'oembed',
  'share',
  'jump',
  'navigate',
  'service',
  'backend',
  'server_url',
  'origin',
  'path',
  'q',
  'data',
  'reference',
  'ref',
  'from',
  'view',
  'show',
  'template',
  'include',
  'fileurl',
  'imageurl',
  'request',
  'req',
  'address',
  'addr',
  'connect',
  'ping',
  'check',
  'validate',
  'probe',
  'test',
  'request_uri',
]);
/** Names strong enough that even a bare number in them is read as a host (`?url=2852039166`). */
const HOST_NAMES_STRICT = new Set([
  'u',
  'url',
  'uri',
  'link',
  'href',
  'src',
  'target',
  'dest',
  'destination',
  'redirect',
  'redir',
  'host',
  'hostname',
  'domain',
  'endpoint',
  'webhook',
  'callback',
  'proxy',
  'ssrf',
  'upstream',
  'remote',
  'site',
  'website',
  'feed',
  'fetch',
  'server_url',
  'goto',
  'go',
  'out',
  'forward',
  'location',
  'connect',
  'ping',
  'probe',
  // Names of an address: a number in them is an IPv4 address written as one (`?ip=2852039166`). Strict only: a
  // private address in `?ip=` is a geo-IP lookup far more often than a fetch, so it does not make an internal finding.
  'ip',
  'ipaddr',
  'ip_address',
  'ipaddress',
  'addr',
  'address',
  'server',
  'dst',
]);
const URLISH_SUFFIX =
  /(?:url|uri|link|href|src|host|endpoint|webhook|callback|redirect|domain|target|dest|location|feed|proxy)$/;

/** True when a parameter of this name plausibly carries a URL or host (`url`, `redirect_uri`, `imageUrl`, …). */
export function isUrlishParam(name: string | undefined, strict = false): boolean {
  if (!name) return false;
  const n = name
    .toLowerCase()
    .replace(/\[\]$/, '')
    .replace(/^.*[.[]/, '')
    .replace(/\]$/, '');
  if (URLISH_SUFFIX.test(n.replace(/[-_]/g, ''))) return true;
  return strict ? HOST_NAMES_STRICT.has(n) : URLISH_EXACT.has(n);
}

export interface ParamValue {
  name: string;
  value: string;
  /** Index of the value's first character in the text. */
  at: number;
}

const QUERY_PAIR = /(?:^|[?&;\s])([\w.\-[\]$]{1,64})=([^&;\s"'<>]{1,4096})/g;
const JSON_PAIR = /"([\w.\-$]{1,64})"\s*:\s*"([^"\\]{1,4096})"/g;
const XML_ELEMENT = /<([\w.\-:]{1,64})(?:\s[^>]{0,512})?>([^<]{1,4096})<\/\1>/g;
const XML_ATTR = /\s([\w.\-:]{1,64})\s*=\s*["']([^"'<>]{1,4096})["']/g;
const COOKIE_OR_HEADER = /(?:^|[\s;])([\w.-]{1,64}):\s?([^\s;,]{1,4096})/g;

/** Every name=value pair in query strings, form bodies, JSON, XML elements and attributes, and header lines. */
export function extractParams(text: string): ParamValue[] {
  const out: ParamValue[] = [];
  for (const re of [QUERY_PAIR, JSON_PAIR, XML_ELEMENT, XML_ATTR, COOKIE_OR_HEADER]) {
    re.lastIndex = 0;
    for (const m of text.matchAll(re)) {
      const nameEnd = m[0].indexOf(m[1]!) + m[1]!.length;
      out.push({ name: m[1]!, value: m[2]!, at: m.index + m[0].indexOf(m[2]!, nameEnd) });
      if (out.length > 512) return out;
    }
  }
  return out;
}
