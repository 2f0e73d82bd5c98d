/**
 * Is a metadata reference where a program would fetch it? The classifier finds every spelling of a metadata address
 * or name; this decides what the text around it makes of it. An address among words (a search, a chat message, a
 * comment), a network block (`169.254.169.254/32`), a list entry (`no_proxy=…,169.254.169.254,…`, a hosts-file line),
 * a field compared in a query language (SPL, KQL/Lucene, PromQL, Falco output, SQL), a token's claim or a page slug
 * is talked about, blocked or listed, not fetched.
 *
 * Where both readings are plausible — a full URL with a scheme inside prose or a query (`curl http://169.254.169.254/…`
 * in a search box could be a pasted command or a payload) — the reading says so (`ambiguous`) and the hit is kept
 * with lower confidence rather than dropped.
 */

import { isUrlishParam } from './decode/params.ts';
import { percentDecodeFixpoint } from './decode/percent.ts';

export type Reading =
  | 'target'
  | 'prose'
  | 'cidr'
  | 'list'
  | 'query-language'
  | 'token-claim'
  | 'slug'
  | 'source'
  | 'record';

export interface FetchContext {
  reading: Reading;
  /** Why, in a phrase a person can check against the input. */
  why: string;
  /** Both readings plausible: kept, with lower confidence. Only meaningful when `reading` is not `target`. */
  ambiguous: boolean;
}

/** Where a reference sits in the text it was found in. */
export interface ReferenceSpot {
  text: string;
  /** Index of the reference's first character (its scheme, `//`, or host). */
  start: number;
  /** Index just after `host[:port]` (for IPv6, after the address or its closing bracket). */
  hostEnd: number;
  scheme: string | null;
  /** The path as parsed after the host ('' when none). */
  path: string;
  /** Name of the parameter the reference is the value of, when it is one. */
  param?: string | undefined;
  /** The text is the decoded claims of a token (a JWT payload): values there are data, not destinations. */
  claims?: boolean | undefined;
  /** The path after the reference is one the endpoint catalogue knows for it (`/latest/meta-data/…`). */
  pathKnown?: boolean | undefined;
}

const TARGET: FetchContext = { reading: 'target', why: 'where a program would fetch it', ambiguous: false };

/** Claims whose value a server fetches (JWS header `jku`/`x5u`, OIDC discovery from `iss`). */
const FETCHED_CLAIMS = /"(?:jku|x5u|jwks_uri|iss)"\s*:\s*"$/;
/** Parameters that hold search text or a title: a bare address alone there is looked up, not fetched. */
const SEARCH_PARAMS = new Set([
  'q',
  'qs',
  'wd',
  'p',
  'lookup',
  'find',
  'query',
  'search',
  's',
  'term',
  'terms',
  'keyword',
  'keywords',
  'k',
  'text',
  'title',
  'subject',
  'topic',
  'tag',
  'label',
  'name',
  'msg',
  'message',
  'body',
  'comment',
  'note',
  'content',
  'description',
]);
/**
 * Path segments that name a route which fetches what follows it (`/proxy/169.254.169.254`, `/fetch/…`,
 * `/api/preview/…`). Elsewhere a path segment is a page, a file or a lookup key (`/wiki/169.254.169.254`,
 * `/img/169.254.169.254.png`, `/ip/169.254.169.254/whois`).
 */
const FETCH_ROUTES = new Set([
  'proxy',
  'fetch',
  'url',
  'uri',
  'r',
  'redirect',
  'redir',
  'go',
  'goto',
  'out',
  'mirror',
  'forward',
  'load',
  'open',
  'visit',
  'request',
  'preview',
  'render',
  'screenshot',
  'snapshot',
  'thumbnail',
  'embed',
  'oembed',
  'external',
  'remote',
  'upstream',
  'import',
  'download',
  'webhook',
  'webhooks',
  'callback',
  'curl',
  'ssrf',
]);
/** Parameters that hold lists of hosts not to be fetched (proxy bypass lists, allow/deny lists). */
const LIST_PARAMS =
  /^(?:no_?proxy|noproxy|bypass|exclude[sd]?|except|ignore|skip|allow(?:list)?|deny(?:list)?|block(?:list)?|whitelist|blacklist|hosts|entries|entry|line)$/i;
/** Names of lists of hosts or addresses, whatever comes before (`allowed_hosts`, `trustedHosts`, `env.NO_PROXY`). */
const LIST_NAME_END =
  /(?:hosts|hostnames|ips|addresses|domains|noproxy|bypass|bypasslist|cidrs|subnets|networks|exclusions|exceptions|excludes|trustedproxies|(?:allow|deny|block|white|black|safe|ignore|skip)list)$/;
/** A search or title field by its name, or by how its name ends (`searchTerm`, `search_query`). */
function isSearchParam(name: string): boolean {
  const n = lastPart(name);
  return (
    SEARCH_PARAMS.has(n) ||
    /(?:search|query|searchterm|searchterms|keyword|keywords|phrase)$/.test(n.replace(/[-_]/g, ''))
  );
}
/** A field that holds a filter or query expression, by its name or how its name ends (`filterQuery`, `where`). */
function isQueryParam(name: string): boolean {
  const n = lastPart(name);
  return QUERY_PARAMS.has(n) || /(?:filter|filters|query|expr|expression)$/.test(n.replace(/[-_]/g, ''));
}
/** Parameters that hold a filter or query expression: a `name:value` or `name=value` in them is a comparison. */
const QUERY_PARAMS = new Set([
  'filter',
  'filters',
  'where',
  'expr',
  'expression',
  'kql',
  'lucene',
  'spl',
  'sql',
  'fq',
  'selector',
  'condition',
]);
/** A parameter's own name: the last part of a dotted or bracketed path, lower case (`env[NO_PROXY]` → `no_proxy`). */
const lastPart = (name: string) =>
  name
    .toLowerCase()
    .replace(/(?:\[\d*\])+$/, '')
    .replace(/^.*[.[]/, '')
    .replace(/[\]"']/g, '');
function isListParam(name: string): boolean {
  const n = lastPart(name);
  return LIST_PARAMS.test(n) || LIST_NAME_END.test(n.replace(/[-_]/g, ''));
}
/**
 * Parameters that name where traffic came from (`src_ip`, `client`, `remote_addr`, `x_forwarded_for`): an address
 * there is a source being recorded or filtered on, not a destination. (`src` and `source` alone are left out: an
 * `<img src>` or `?source=` is a URL a page loads.)
 */
const SOURCE_PARAM =
  /^(?:(?:src|source|client|remote|peer|user|visitor|sender|caller|origin|real|xreal|from)(?:ip|ipaddr|ipaddress|addr|address|host)|client|clients|peer|forwardedfor|xforwardedfor|xff)$/;
const isSourceParam = (name: string) => SOURCE_PARAM.test(lastPart(name).replace(/[-_]/g, ''));
/**
 * Keys of a record that state an address or a name (an inventory entry's `hostname`, a flow event's `dest_ip`, a
 * manifest's `ip` or `address`, an ECS `destination.ip`): a value there describes a machine, it is not fetched.
 */
const ADDRESS_KEY =
  /^(?:[a-z]*(?:ip|ips|ipv4|ipv6|ipaddr|ipaddress|ipaddresses|addr|address|addresses)|hostname|hostnames|hosts|fqdn|dnsname|answers?|rdata|rrname|qname|question|records?)$/;
/**
 * The record type of a DNS resource record, by mnemonic or number (DNS-over-HTTPS JSON writes `"type":1`): a DNS
 * answer, a zone's record set, a DNS API's record.
 */
const DNS_RECORD_TYPE =
  /"(?:type|rrtype|record_?type)"\s*:\s*(?:"(?:A|AAAA|CNAME|PTR|NS|MX|TXT|SRV|SOA|ANY)"|(?:1|2|5|12|15|16|28|33)\b)/i;
/** Keys holding a DNS resource record's data (`data` in DoH JSON, `value`/`content`/`rdata` in DNS APIs). */
const DNS_DATA_KEY = /^(?:data|value|values|content|rdata|answer|target|address|ip)$/;
/** A firewall or policy rule that blocks what it names: an action or effect of deny, drop, block or reject. */
const BLOCK_RULE =
  /"(?:action|effect|verdict|decision|policy|rule_?action)"\s*:\s*"(?:deny|drop|block|reject|blocked|denied)"/i;
/**
 * Keys that make an object a connection to open, not a record: a sibling of the address that says how to reach it.
 * (`port` says so unless the document records a flow: a source beside the destination, as ECS and flow logs write.)
 */
const CONNECT_KEY = /^(?:port|path|scheme|method|url|uri|endpoint|timeout)$/;
const FLOW_SOURCE = /"(?:source|src|src_?ip|srcaddr|source_?ip|source_?address|client|client_?ip)"\s*:/i;
/** Keys whose object is something to connect to (`{"upstream":{"ip":…}}`), whatever its own keys. */
const FETCH_PARENT = /(?:target|upstream|backend|proxy|webhook|callback|remote|url|uri|fetch|request)s?$/;
/** An Elasticsearch/OpenSearch query clause around the value. */
const QUERY_DSL =
  /"(?:term|terms|match|match_phrase|query_string|simple_query_string|wildcard|prefix|range|must|must_not|should|filter)"\s*:\s*[{[]/;
/** The start of an HTTP request line or its version: not words of prose. */
const NOT_WORDS = new Set([
  'get',
  'put',
  'post',
  'head',
  'delete',
  'patch',
  'options',
  'connect',
  'trace',
  'http',
  'https',
]);

/** Query-language syntax, each with the language it shows. */
const QUERY_SYNTAX: ReadonlyArray<[RegExp, string]> = [
  [
    /\|\s*(?:stats|table|where|eval|timechart|search|rex|top|dedup|fields|sort|head|tail|lookup|chart)\b/i,
    'Splunk SPL',
  ],
  [/(?:^|\s)(?:index|sourcetype|source|eventtype|earliest|latest)\s*=\s*\S/i, 'Splunk SPL'],
  [/(?:^|\|)\s*search\s+[\w.]+\s*(?:=|!=|<|>)/i, 'Splunk SPL'],
  [/\b[a-z_]\w*(?:\.\w+)+\s*:\s*(?:"|\*|\(|[\w*])/i, 'KQL/Lucene field'],
  [/\b\w+:"[^"]*"/, 'Lucene field'],
  [/\s(?:AND|OR|NOT)\s/, 'boolean'],
  // (`@{Metadata="true"}` is a PowerShell hashtable, the headers of Invoke-WebRequest: not a matcher.)
  [/(?<!@)\{[^{}]*\b\w+\s*(?:=~|!~|!=|=)\s*"[^"]*"[^{}]*\}/, 'PromQL label matcher'],
  [/\b(?:fd|proc|evt|container|k8s|user)\.\w+\s*=/, 'Falco output fields'],
  [
    /\((?:command|cmdline|user|container|image|parent|proc)=[^)]*\b(?:container|image|user|parent|pid)=/,
    'Falco output fields',
  ],
  [
    /(?:^|\s)(?:is|label|author|assignee|repo|org|state|type|milestone|project|sort|in|status):[\w"-]/i,
    'issue-tracker search',
  ],
  [/\bselect\b[\s\S]+\bfrom\b|\bwhere\b\s+\w+\s*(?:=|!=|<>|\bin\b|\blike\b)/i, 'SQL'],
];

/** Where a reference sits in a JSON document or a YAML mapping: the key it is the value of, and that key's object. */
interface DataSpot {
  key: string;
  /** Keys of the object holding the reference (lower case); for YAML, the keys of its block. */
  siblings: string[];
  /** The object sits inside another object or an array (a record among others, not a whole request body). */
  nested: boolean;
  /** The text before the reference holds an Elasticsearch/OpenSearch query clause. */
  queryDsl: boolean;
  /** The holding object is a rule that blocks what it names (`"action":"deny"`, `"effect":"Deny"`). */
  blocks?: boolean;
  /** The key whose value is the holding object (`upstream` in `{"upstream":{"ip":…}}`), when there is one. */
  parent?: string;
  /** The holding object is a DNS resource record (a name, a record type, and the record's data). */
  dnsRecord?: boolean;
}

/** The parameter value (or JSON string) the reference sits in: [start, end) in the text, its name, and for a JSON or
 * YAML value where it sits in its document. */
function valueSpan(s: ReferenceSpot): { from: number; to: number; name: string | undefined; data?: DataSpot } {
  const t = s.text;
  // JSON strings are values once a JSON object or array has opened: at the start of the text (a body), or inside
  // a parameter (`?u={"url":"http://…"}`).
  const jsonAt = t.search(/\{\s*"|\[\s*["{[]/);
  let from = 0;
  let data: DataSpot | undefined;
  for (let i = s.start - 1; i >= 0; i--) {
    const c = t[i]!;
    if (c === '\n') {
      from = i + 1;
      break;
    }
    // A query separator that opens `name=`.
    if ((c === '&' || c === '?' || c === ';') && /^[\w.\-[\]$]{1,64}=/.test(t.slice(i + 1, i + 66))) {
      from = i + 1;
      break;
    }
    // A JSON string value: `"name":"…` or an array element `["…`, `,"…`.
    if (
      c === '"' &&
      t[i - 1] !== '\\' &&
      /[:[,]\s*$/.test(t.slice(Math.max(0, i - 3), i)) &&
      jsonAt >= 0 &&
      jsonAt < i
    ) {
      from = i + 1;
      data = jsonSpot(t, i);
      break;
    }
  }
  const eq = /^([\w.\-[\]$]{1,64})=/.exec(t.slice(from, from + 66));
  let name: string | undefined;
  if (eq && from + eq[0].length <= s.start) {
    from += eq[0].length;
    name = eq[1];
  }
  if (!data && t.includes('\n') && (from === 0 || t[from - 1] === '\n')) data = yamlSpot(t, from, s.start);
  let to = t.length;
  for (let i = s.hostEnd; i < t.length; i++) {
    const c = t[i]!;
    // `&` and `;` both separate query parameters (`returnUrl=0xa9fea9fe;sid=1`): the next `name=` is no list entry.
    if (c === '\n' || ((c === '&' || c === ';') && /^[\w.\-[\]$]{1,64}=/.test(t.slice(i + 1, i + 66)))) {
      to = i;
      break;
    }
    if (c === '"' && t[i - 1] !== '\\' && jsonAt >= 0 && jsonAt < s.start && /^\s*[,}\]]/.test(t.slice(i + 1, i + 3))) {
      to = i;
      break;
    }
  }
  return { from, to, name: name ?? data?.key, ...(data ? { data } : {}) };
}

/** Keys at the top level of the JSON object text `obj` (which starts with `{`). */
function objectKeys(obj: string): string[] {
  const keys: string[] = [];
  let depth = 0;
  for (const m of obj.matchAll(/"((?:[^"\\]|\\.)*)"(\s*:)?|[{}[\]]/g)) {
    const tok = m[0];
    if (tok === '{' || tok === '[') depth++;
    else if (tok === '}' || tok === ']') depth--;
    else if (m[2] && depth === 1) keys.push(m[1]!.toLowerCase());
  }
  return keys;
}

/** The key and object of the JSON string whose opening quote is at `quote`. */
function jsonSpot(t: string, quote: number): DataSpot | undefined {
  const before = t.slice(Math.max(0, quote - 2048), quote);
  const direct = /"((?:[^"\\]|\\.){1,64})"\s*:\s*$/.exec(before);
  const element = direct ? null : /"((?:[^"\\]|\\.){1,64})"\s*:\s*\[(?:\s*"(?:[^"\\]|\\.)*"\s*,)*\s*$/.exec(before);
  const key = (direct ?? element)?.[1];
  if (key === undefined) return undefined;
  // The object holding the key: back to its unmatched `{`, forward to its `}` (strings with braces aside).
  let depth = 0;
  let open = -1;
  for (let i = quote - 1; i >= 0 && quote - i < 8192; i--) {
    const c = t[i];
    if (c === '}' || c === ']') depth++;
    else if (c === '{' || c === '[') {
      if (depth === 0 && c === '{') {
        open = i;
        break;
      }
      if (depth > 0) depth--;
    }
  }
  if (open < 0) return undefined;
  depth = 0;
  let close = t.length;
  for (let i = open; i < t.length && i - open < 16384; i++) {
    const c = t[i];
    if (c === '{' || c === '[') depth++;
    else if (c === '}' || c === ']') {
      depth--;
      if (depth === 0) {
        close = i + 1;
        break;
      }
    }
  }
  const parent = /"((?:[^"\\]|\\.){1,64})"\s*:\s*\[?\s*(?:\{[^{}]*\}\s*,\s*)*$/.exec(
    t.slice(Math.max(0, open - 2048), open),
  )?.[1];
  return {
    key,
    siblings: objectKeys(t.slice(open, close)),
    blocks: BLOCK_RULE.test(t.slice(open, close)),
    nested: /[{[]/.test(t.slice(0, open)),
    queryDsl: QUERY_DSL.test(t.slice(0, quote)),
    dnsRecord: DNS_RECORD_TYPE.test(t.slice(open, close)) && /"(?:name|rrname)"\s*:/i.test(t.slice(open, close)),
    ...(parent !== undefined ? { parent } : {}),
  };
}

/** A YAML mapping line: its indentation (with a sequence dash), key, and whether a value follows on the line. */
const YAML_KEY_LINE = /^(\s*(?:-\s+)?)([\w.-]{1,64}):(\s*$|\s+\S)/;
const firstColumn = (line: string) => line.search(/\S/);

/**
 * The key of a YAML value on the line from `lineStart` (`  ip: 169.254.169.254`, `- address: …`), or of the block
 * sequence an item belongs to (`hostnames:` above `  - metadata.google.internal`), with the keys beside it.
 */
function yamlSpot(t: string, lineStart: number, start: number): DataSpot | undefined {
  const head = t.slice(lineStart, start);
  const above = t
    .slice(Math.max(0, lineStart - 4096), Math.max(0, lineStart - 1))
    .split('\n')
    .slice(-64)
    .reverse();
  const below = t
    .slice(start, start + 4096)
    .split('\n')
    .slice(1, 64);
  let key: string | undefined;
  let col = -1;
  let from = 0;
  const own = /^(\s*(?:-\s+)?)([\w.-]{1,64}):\s+["']?$/.exec(head);
  if (own) {
    key = own[2]!;
    col = own[1]!.length;
  } else {
    const item = /^(\s*)-\s+["']?$/.exec(head);
    if (!item) return undefined;
    for (; from < above.length; from++) {
      const line = above[from]!;
      if (line.trim() === '' || firstColumn(line) > item[1]!.length) continue;
      const m = YAML_KEY_LINE.exec(line);
      if (firstColumn(line) === item[1]!.length && /^\s*-\s/.test(line) && !m) continue; // an earlier item
      if (m && m[3]!.trim() === '') {
        key = m[2]!;
        col = m[1]!.length;
        from++;
      }
      break;
    }
    if (key === undefined) return undefined;
  }
  const siblings = [key.toLowerCase()];
  // Keys of the same block: same column, up to a line further left. A `- key:` at that column starts an item: above,
  // it is the first key of this item; below, the next item.
  const itemStart = (line: string) => /^\s*-\s/.test(line);
  const ownLine = own ? head : '';
  let nested = col > 0;
  for (const line of above.slice(from)) {
    if (line.trim() === '') continue;
    if (itemStart(ownLine)) break;
    const m = YAML_KEY_LINE.exec(line);
    if (m && m[1]!.length === col) siblings.push(m[2]!.toLowerCase());
    if (firstColumn(line) < col || (m && m[1]!.length === col && itemStart(line))) {
      nested = true;
      break;
    }
  }
  for (const line of below) {
    if (line.trim() === '') continue;
    const m = YAML_KEY_LINE.exec(line);
    if (firstColumn(line) < col || (m && m[1]!.length === col && itemStart(line))) break;
    if (m && m[1]!.length === col) siblings.push(m[2]!.toLowerCase());
  }
  return { key, siblings, nested, queryDsl: false };
}

const PUNCT = /^[\s"'`()[\]{}<>,.;:!?*]+|[\s"'`()[\]{}<>,.;:!?*]+$/g;

function isWord(tok: string | undefined): boolean {
  if (!tok) return false;
  const w = tok.replace(PUNCT, '');
  return /^[a-z][a-z'-]*[a-z]$/i.test(w) && !NOT_WORDS.has(w.toLowerCase());
}

/**
 * The reference is the host of a URL written before it (scheme and slashes, perhaps userinfo). A scheme name is at
 * most 32 characters here: unbounded, the search was quadratic in a long run like `a.a.a.…` (every dot a new start).
 */
const INSIDE_URL =
  /(?:\b(?:https?|ftp|gopher|dict|file|ldap|tftp|wss?):[/\\]{0,4}|\b[a-z][\w+.-]{0,31}:[/\\]{1,4}|[/\\]{2})[^\s"'<>/\\]*$/i;
/** Commands whose argument is fetched. */
const FETCH_COMMANDS = new Set([
  'curl',
  'wget',
  'fetch',
  'nc',
  'ncat',
  'netcat',
  'telnet',
  'lynx',
  'links',
  'httpie',
  'iwr',
  'irm',
  'invoke-webrequest',
  'invoke-restmethod',
]);

/** The command right before the reference, flags (`-s`, `--max-time 2`, `-H 'X: y'`) aside. */
function commandBefore(pre: string): string | undefined {
  const toks = pre.split(/[\s;|&$`()]+/).filter(Boolean);
  for (let i = toks.length - 1; i >= 0 && i >= toks.length - 6; i--) {
    const tok = toks[i]!.replace(/^["']|["']$/g, '');
    if (FETCH_COMMANDS.has(tok.toLowerCase())) return tok;
    if (!tok.startsWith('-') && !/^\d+$/.test(tok) && !/^["']/.test(toks[i]!)) return undefined;
  }
  return undefined;
}

/** The words of a text (tokens that are words once punctuation touching them is removed). */
function words(text: string): string[] {
  return text.split(SEP).filter(isWord);
}

/** Whitespace or `+` (a space in query strings) separate words. */
const SEP = /[\s+]+/;

/**
 * How the text around a metadata reference reads.
 * @example readFetchContext({ text: 'q=what+is+169.254.169.254%3F', start: 10, hostEnd: 25, scheme: null, path: '' }).reading // 'prose'
 */
export function readFetchContext(s: ReferenceSpot): FetchContext {
  const t = s.text;
  let hasScheme = s.scheme !== null;
  // The text around is read percent-decoded (`what%20is%20…`), whichever view the reference was found in.
  const dec = (x: string) => {
    const y = x.replace(/\+/g, ' ').replace(/\\(["'/])/g, '$1');
    return y.includes('%') ? percentDecodeFixpoint(y).text : y;
  };
  const after = dec(t.slice(s.hostEnd, s.hostEnd + 96));
  const before = dec(t.slice(Math.max(0, s.start - 96), s.start));
  const cut = (x: string) => (x.length > 60 ? `${x.slice(0, 57)}…` : x);

  if (s.claims) {
    if (FETCHED_CLAIMS.test(before)) return TARGET;
    return {
      reading: 'token-claim',
      why: 'a claim inside a token, which is data, not a destination',
      ambiguous: false,
    };
  }
  if (!hasScheme) {
    // A network block: the address followed by a prefix length.
    const cidr = /^\/(\d{1,3})(?![\d.\w/-])/.exec(after);
    if (cidr && Number(cidr[1]) <= 128) {
      return {
        reading: 'cidr',
        why: `a network block (/${cidr[1]}), as firewall and policy rules write it`,
        ambiguous: false,
      };
    }
    // A page slug, label or anchor: `169.254.169.254_(disambiguation)`, `/why-169.254.169.254-matters`,
    // `utm_campaign=imds_169.254.169.254_webinar`, `#169.254.169.254`. Glued to a word by `_` or `-`, the address is
    // no host: URL parsers and resolvers read `blog_169.254.169.254` or `169.254.169.254-talk` as a name, and no
    // registry delegates such a name (the rebinding and wildcard-DNS names that do resolve are read as names). Digits
    // glue it too (`2024-169.254.169.254`): a name whose last label is numeric is no name, and as an address it fails.
    if (
      /^(?::\d{1,5})?_[(\w]/.test(after) ||
      /[a-z\d]-$|[a-z\d]_$/i.test(before) ||
      /^-[a-z]/i.test(after) ||
      /#$/.test(before)
    ) {
      return { reading: 'slug', why: 'part of a page name or anchor (a slug), not a host', ambiguous: false };
    }
  }
  const span = valueSpan(s);
  const { from, to } = span;
  const param = s.param ?? span.name;
  const value = dec(t.slice(from, to));
  let pre = dec(t.slice(from, s.start));
  // A host found on its own inside a URL (`curl http://169.254.169.254/…`) is read as that URL.
  const url = hasScheme ? null : INSIDE_URL.exec(pre);
  if (url) {
    hasScheme = true;
    pre = pre.slice(0, url.index);
  }
  const ambiguous = hasScheme;
  const post = dec(t.slice(s.hostEnd, to));
  // An XML external entity or DTD (`<!ENTITY x SYSTEM "http://…">`, `<!DOCTYPE r SYSTEM "…">`, `PUBLIC "id" "…"`):
  // the XML parser fetches the system identifier, whatever words the declaration holds.
  if (/<!(?:ENTITY\s+(?:%\s+)?|DOCTYPE\s+)[\w.:-]+\s+(?:SYSTEM|PUBLIC\s+["'][^"']*["'])\s*["']$/i.test(before)) {
    return {
      reading: 'target',
      why: 'the system identifier of an XML external entity or DTD, which the parser fetches',
      ambiguous: false,
    };
  }
  // What an element of markup loads (`<?xml-stylesheet href=…?>`, SVG `<use href>`/`<image xlink:href>`, `<img src>`,
  // `<iframe src>`): a renderer, converter or XML parser given the markup fetches it.
  if (
    /<\?xml-stylesheet\b[^<>]*\bhref\s*=\s*["']?$/i.test(before) ||
    /<(?:use|image|feimage|img|iframe|frame|script|link|embed|object|source|video|audio|track|input|include|xi:include)\b[^<>]*\s(?:xlink:href|href|src|data|poster)\s*=\s*["']?$/i.test(
      before,
    )
  ) {
    return {
      reading: 'target',
      why: 'the URL an element of markup loads: a renderer, converter or XML parser given it fetches it',
      ambiguous: false,
    };
  }
  // A Host header injected after a line break (CRLF injection, a smuggled request): the request goes there.
  if (/[\r\n]\s*host\s*:\s*$/i.test(before)) {
    return { reading: 'target', why: 'a Host header injected after a line break', ambiguous: false };
  }

  // A path segment names a page, a file or a lookup key, unless a route that fetches precedes it or what follows
  // makes it a destination: a port, or a path the catalogue knows for the endpoint.
  if (!hasScheme) {
    const segs = pathBefore(pre);
    if (segs && !s.pathKnown && !/:\d{1,5}$/.test(t.slice(s.start, s.hostEnd)) && !segs.some(isFetchRoute)) {
      return {
        reading: 'slug',
        why: `a path segment after ${cut(pre.split(/[\s"'<>]/).at(-1)!)} (a page, file or lookup key): no fetching route before it, no metadata path after it`,
        ambiguous: false,
      };
    }
  }
  // A path of punctuation only (`169.254.169.254?` ending a question) is no path.
  const bareHost = !hasScheme && (s.path === '' || /^\/\d{1,3}$/.test(s.path) || /^\/?[?#!.,;:]*$/.test(s.path));
  const inSearch = param !== undefined && isSearchParam(param);
  const inQuery = inSearch || (param !== undefined && isQueryParam(param));
  // Nothing but punctuation before it (`¿169.254.169.254?`, `"…`): the reference starts the text.
  const startsValue = /^[\s\p{P}]*$/u.test(pre);

  // Lists of hosts: the reference is one entry of a comma- or semicolon-separated list, or a hosts-file line.
  if (bareHost) {
    const prevSep = /[,;|]\s*$/.test(pre);
    const nextSep = /^[,;|]/.test(after.replace(/^:\d{1,5}/, ''));
    if (prevSep || nextSep) {
      // The list is the run of host-like entries joined by commas or semicolons (spaces after them allowed) that
      // holds the reference: a request line's ` HTTP/1.1`, the JSON around a string, words before it are not in it.
      const left = /(?:[\w.:*[\]/-]*[,;|]\s*)*$/.exec(pre)![0];
      const right = /^(?::\d{1,5})?(?:\s*[,;|]\s*[\w.:*[\]/-]*)*/.exec(post)![0];
      const list = `${left}${dec(t.slice(s.start, s.hostEnd))}${right}`;
      const entries = list.split(/[,;|]/).map((e) => e.trim());
      if (entries.length >= 2 && entries.every((e) => e === '' || /^[\w.:*[\]/-]+$/.test(e))) {
        return { reading: 'list', why: `an entry of a host list (${cut(list)})`, ambiguous: false };
      }
    }
    if (param && isListParam(param)) {
      return { reading: 'list', why: `the value of ${param}, a list of hosts`, ambiguous: false };
    }
    // A list variable set before it (`export NO_PROXY=…`, `env=NO_PROXY=.local 169.254.169.254`, `hostnames: ["…`, a
    // YAML list under `extra_hosts:`), or named by the key of a key/value pair (`key=NO_PROXY&value=…`): entries of
    // that list, separated by blanks or punctuation. (Read from the text before the reference, not only its value: a
    // structured value is cut at its quotes.)
    const assigned =
      /(?:^|[\s;&"'{(=?])(?:export\s+|set\s+)?([a-z_][\w.]{0,63})\s*[=:]\s*\[?\s*["']?(?:[\w.:*[\]/-]+["']?[\s,;|]+["']?)*$/i.exec(
        before,
      );
    const yamlItem =
      // An item of a YAML block list under the name (`extra_hosts:\n  - "metadata.google.internal:169.254.169.254"`).
      /(?:^|[\n=?&])[ \t]*([a-z_][\w.-]{0,63})[ \t]*:[ \t]*\n(?:[ \t]*-[^\n]*\n){0,64}[ \t]*-[ \t]*["']?$/i.exec(
        before,
      );
    const keyed = /[?&;](?:key|name|var|variable)=([\w.[\]-]{1,64})&(?:value|val)=$/i.exec(
      dec(t.slice(Math.max(0, from - 96), from)),
    );
    const listName = [assigned?.[1], yamlItem?.[1], keyed?.[1]].find((n) => n !== undefined && isListParam(n));
    if (listName) {
      return { reading: 'list', why: `an entry of ${listName}, a list of hosts`, ambiguous: false };
    }
    // The value a lookup page looks up (whois, DNS, IPAM, GeoIP, ASN, reputation): it reads records about the
    // address, it does not connect to it.
    const lookup = param ? routeOf(t, from).find(isLookupRoute) : undefined;
    if (lookup && !routeOf(t, from).some(isFetchRoute) && !commandBefore(pre)) {
      return {
        reading: 'record',
        why: `the value of ${param} on a ${lookup} page, which looks up records about it rather than fetching it`,
        ambiguous: false,
      };
    }
    if (param && isSourceParam(param)) {
      return {
        reading: 'source',
        why: `the value of ${param}, which names where traffic came from, not a destination`,
        ambiguous: false,
      };
    }
    const data = span.data;
    if (data?.blocks) {
      return { reading: 'prose', why: 'named by a rule that blocks it (a deny action beside it)', ambiguous: false };
    }
    if (data?.queryDsl) {
      return {
        reading: 'query-language',
        why: `a value inside an Elasticsearch query (${cut(data.key)})`,
        ambiguous: false,
      };
    }
    if (data?.dnsRecord && DNS_DATA_KEY.test(lastPart(data.key))) {
      return {
        reading: 'record',
        why: `the ${data.key} of a DNS record (${cut(data.siblings.join(', '))}), which states what a name resolves to`,
        ambiguous: false,
      };
    }
    if (
      data &&
      ADDRESS_KEY.test(lastPart(data.key).replace(/[-_]/g, '')) &&
      (data.siblings.length >= 2 || data.nested) &&
      !data.siblings.some((k) => CONNECT_KEY.test(k) && !(k === 'port' && FLOW_SOURCE.test(t))) &&
      !(data.parent && FETCH_PARENT.test(lastPart(data.parent).replace(/[-_]/g, '')))
    ) {
      return {
        reading: 'record',
        why: `the ${data.key} of a record (${cut(data.siblings.join(', '))}), which states an address; nothing says to connect to it`,
        ambiguous: false,
      };
    }
    // A hosts-file line: an address, then names.
    if (
      /^\s*$/.test(pre) &&
      /^\s+[a-z][\w.-]*(?:\s+[a-z][\w.-]*)*\s*(?:#.*)?$/i.test(post) &&
      /\s[a-z][\w-]*\.[a-z]/i.test(post)
    ) {
      return { reading: 'list', why: 'a hosts-file line (an address, then its names)', ambiguous: false };
    }
  }
  if (
    !hasScheme &&
    s.path === '' &&
    /^\s*(?:\d{1,3}(?:\.\d{1,3}){3}|[0-9a-f:]*:[0-9a-f:]+)(?:\s+[a-z][\w.-]*)*\s+$/i.test(pre)
  ) {
    return { reading: 'list', why: 'a name on a hosts-file line (an address, then its names)', ambiguous: false };
  }
  // A script that navigates to or loads the URL (`document.location='…'`, `location.href=`, `img.src=`): an assignment
  // to a navigation or loading property, not a field compared in a query.
  if (
    /(?:^|[^\w$.])(?:(?:window|document|self|top|parent|frames)\.)*location(?:\.href)?\s*=\s*["'`]$|\.(?:src|href|action|data)\s*=\s*["'`]$/i.test(
      pre,
    )
  ) {
    return { reading: 'target', why: 'the URL a script navigates to or loads', ambiguous: false };
  }
  // A field compared in a query or filter (`destination.address:169.254.169.254`, `dst_ip==…`), not a URL parameter.
  // The name is bounded: this search is unanchored at its start, and an unbounded name made it quadratic in a long
  // run of word characters (a 64 KiB token took 8 s); a longer name is read by its last 128 characters.
  const cmp = /([a-z_][\w.]{0,127})\s*(==|!=|=~|!~|:|=)\s*["']?$/i.exec(pre);
  // In a search or filter field every `name:value` or `name=value` is a filter (`host:169.254.169.254`, `dest=…`); elsewhere a
  // URL-ish name (`url=`, `host:`) is a parameter or a header line, and a plain `name=` a query-string pair.
  if (
    cmp &&
    (cmp[2] !== '=' || /[._]/.test(cmp[1]!) || inQuery) &&
    (inQuery || !(!cmp[1]!.includes('.') && isUrlishParam(cmp[1]))) &&
    !/^(?:https?|ftp|gopher|dict|file)$/i.test(cmp[1]!) &&
    // `jar:http://…`, `view-source:http://…`: a scheme wrapping a URL, not a field compared with one.
    !(cmp[2] === ':' && !cmp[1]!.includes('.') && s.scheme !== null && pre.endsWith(':'))
  ) {
    return {
      reading: 'query-language',
      why: `the value of ${cmp[1]} in a comparison (${cut(value)})${hasScheme ? '; a full URL there may also be a payload' : ''}`,
      ambiguous: hasScheme,
    };
  }
  // An argument of a firewall command, which blocks the address rather than fetches it.
  if (
    !hasScheme &&
    (/(?:^|[\s;|&])(?:iptables|ip6tables|nft|ufw|firewall-cmd|route|ip\s+route)\s[^;|&]*$/i.test(pre) ||
      /(?:^|\s)-[AIDR]\s+(?:OUTPUT|INPUT|FORWARD|PREROUTING|POSTROUTING)\b/.test(value))
  ) {
    return { reading: 'prose', why: 'an argument of a firewall command, which blocks it', ambiguous: false };
  }

  // Query languages: the reference is a value compared or matched in a query.
  // The query's own syntax, the reference itself set aside (`metadata.google.internal:443` is no `field:value`).
  const around = `${pre} \u0000 ${post}`;
  for (const [re, lang] of QUERY_SYNTAX) {
    if (re.test(around)) {
      return {
        reading: 'query-language',
        why: `a value inside a ${lang} query${ambiguous ? '; a full URL there may also be a payload' : ''}`,
        ambiguous,
      };
    }
  }

  // The argument of a command that fetches (`;curl -s 169.254.169.254/latest/…`), unless it sits in a sentence.
  const cmd = commandBefore(pre);
  if (cmd && words(value).filter((w) => !FETCH_COMMANDS.has(w.toLowerCase())).length < 2) {
    // Typed into a search or title field (`q=curl 169.254.169.254`, a search engine's Referer), a command line is
    // what people look up as often as a payload: both plausible, unless the page itself fetches.
    if (param && inSearch && !routeOf(t, from).some(isFetchRoute)) {
      return {
        reading: 'prose',
        why: `a command line (${cmd}) as the text of a ${param} field (a search or a title): searched for, or a pasted payload`,
        ambiguous: true,
      };
    }
    return { reading: 'target', why: `the argument of ${cmd}, a command that fetches it`, ambiguous: false };
  }
  // Prose: a word right before or right after the reference (punctuation touching it aside).
  if (isWord(wordBefore(pre)) || isWord(wordAfter(post))) {
    return {
      reading: 'prose',
      why: `words around it (${cut(value)})${ambiguous ? '; a full URL among words may also be a pasted payload' : ''}`,
      ambiguous,
    };
  }
  // A whole URL, or an address with a path, as the text of a search or title field is searched for, or pasted as a
  // payload: both plausible, unless the page itself is a fetching route (`/fetch?q=…`). (A bare address there is
  // only searched for: below.)
  if (!bareHost && startsValue && param && inSearch && !routeOf(t, from).some(isFetchRoute)) {
    return {
      reading: 'prose',
      why: `the text of a ${param} field (a search or a title); ${hasScheme ? 'a URL' : 'an address with a path'} there may also be a payload`,
      ambiguous: true,
    };
  }
  if (bareHost) {
    // Quoted or bracketed, or the whole value of a search or title field: mentioned, not fetched.
    if (/["'`([{<]$/.test(pre) && /^(?::\d{1,5})?["'`)\]}>]/.test(after)) {
      return { reading: 'prose', why: 'quoted or bracketed, as text mentions a name', ambiguous: false };
    }
    if (inSearch && startsValue) {
      return {
        reading: 'prose',
        why: `the text of a ${param} field (a search or a title), not a URL`,
        ambiguous: false,
      };
    }
  }
  // Whatever else a search or title field holds is typed text first (`q=http get metadata.google.internal`): kept,
  // with lower confidence, unless the page itself fetches.
  if (param && inSearch && !routeOf(t, from).some(isFetchRoute)) {
    return { reading: 'prose', why: `inside the text of a ${param} field (a search or a title)`, ambiguous: true };
  }
  return TARGET;
}

/** Pages that look an address up in records (registries, DNS, inventories, reputation lists) without connecting. */
const LOOKUP_ROUTES =
  /^(?:whois|rdap|geoip|geo|geolocation|ipinfo|ip-info|iplookup|ip-lookup|asn|ipam|dns|nslookup|rdns|ptr|reputation|threat-?intel|blocklist|blacklist|denylist|allowlist|whitelist|cmdb|inventory)$/i;
const isLookupRoute = (segment: string) => LOOKUP_ROUTES.test(segment);

/** A path segment naming a route that fetches what follows it: one of `FETCH_ROUTES`, or a kind of proxy
 * (`image-proxy`, `imgproxy`). */
export const isFetchRoute = (segment: string) => FETCH_ROUTES.has(segment.toLowerCase()) || /proxy$/i.test(segment);

/** The path segments before a reference that is itself a path segment (`wiki` in `/wiki/169.254.169.254`), else null. */
function pathBefore(pre: string): string[] | null {
  const tok = pre.split(/[\s"'<>]/).at(-1) ?? '';
  const m = /^(?:[a-z][\w+.-]*:\/\/[^/?#]*)?((?:\/[^/?#=&]*)*\/)$/i.exec(tok);
  return m ? m[1]!.split('/').filter(Boolean) : null;
}

/** The path segments of the page whose query holds the value starting at `from` (`search` in `/search?q=…`). */
function routeOf(t: string, from: number): string[] {
  let i = from;
  while (i > 0 && !/[\s"'<>]/.test(t[i - 1]!)) i--;
  const tok = t.slice(i, from);
  const q = tok.indexOf('?');
  if (q < 0) return [];
  return tok
    .slice(0, q)
    .replace(/^[a-z][\w+.-]*:\/\/[^/]*/i, '')
    .split('/')
    .filter(Boolean);
}

/** The token before the reference, when a separator (and perhaps quotes or brackets) stands between them. */
function wordBefore(pre: string): string | undefined {
  const p = pre.replace(/["'`([{<]+$/, '');
  if (p === '' || !/[\s+]$/.test(p)) return undefined;
  return p.split(SEP).filter(Boolean).at(-1);
}

/** The token after the reference's path (and any punctuation touching it), when a separator follows. */
function wordAfter(rest: string): string | undefined {
  const r = rest.replace(/^[^\s+]*/, '');
  if (r === '') return undefined;
  return r.split(SEP).filter(Boolean)[0];
}
