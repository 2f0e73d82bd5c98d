import type { Transform } from '../model/hit.ts';

/** A URL-shaped piece of text, split leniently into its parts. */
export interface UrlParts {
  scheme: string | null;
  /** Host as written (userinfo and port removed, brackets kept for IPv6). */
  host: string;
  port: number | null;
  /** Path, query included, as written after the authority ('' when none). */
  path: string;
  transforms: Transform[];
  disagreements: string[];
}

/** Schemes accepted without slashes after the colon (`http:169.254.169.254`): WHATWG does so for special schemes. */
export const SLASHLESS_SCHEMES = new Set([
  'http',
  'https',
  'ftp',
  'ws',
  'wss',
  'gopher',
  'dict',
  'file',
  'ldap',
  'tftp',
]);

// '!' ends jar: URLs' inner URL (`jar:http://host!/entry`); no valid host contains it.
const AUTHORITY_END = /[/\\?#\s"'<>`{}|^!]/;
/** glibc's resolver drops backslashes, so `\\l\\o\\c\\a\\l\\h\\o\\s\\t` is `localhost`. */
const BACKSLASHED_HOST = /^((?:\\+[a-z0-9.-]){2,})(?=[/\s?#]|$)/i;

function splitHostPort(hp: string): { host: string; port: number | null; ok: boolean } {
  if (hp.startsWith('[')) {
    const close = hp.indexOf(']');
    if (close < 0) return { host: hp, port: null, ok: true };
    const rest = hp.slice(close + 1);
    // `[…]:80:80`: a second port, as for a name below.
    const m = /^:(\d{1,5})(?::\d{1,5})*$/.exec(rest);
    const port = m ? Number(m[1]) : null;
    return { host: hp.slice(0, close + 1), port, ok: rest === '' || port !== null || rest === ':' };
  }
  // `host:80:80`: a second port; parsers that read the first one connect to the host before it.
  const ports = /^([^:[\]]+):(\d{1,5})(?::\d{1,5})+$/.exec(hp);
  if (ports) return { host: ports[1]!, port: Number(ports[2]), ok: true };
  const colons = hp.split(':').length - 1;
  if (colons > 1) return { host: hp, port: null, ok: true }; // bare IPv6
  if (colons === 1) {
    const [h, p] = hp.split(':') as [string, string];
    if (p === '') return { host: h, port: null, ok: true };
    if (/^\d{1,5}$/.test(p)) return { host: h, port: Number(p), ok: true };
    return { host: h, port: null, ok: false };
  }
  return { host: hp, port: null, ok: true };
}

/**
 * Split `authority + rest` (the text after `scheme:` and its slashes) the way WHATWG does, and also the "loose"
 * way that curl-like parsers and filters disagree on. Returns one or two readings.
 */
export function splitAfterScheme(scheme: string | null, rest: string): UrlParts[] {
  const readings: UrlParts[] = [];
  const bs = BACKSLASHED_HOST.exec(rest);
  if (bs) {
    const tailPath = rest.slice(bs[0].length).split(/[\s"'<>`]/)[0] ?? '';
    readings.push({
      scheme,
      host: bs[1]!,
      port: null,
      path: tailPath,
      transforms: [],
      disagreements: ['glibc name resolution drops backslashes in host names'],
    });
  }
  const endIdx = rest.search(AUTHORITY_END);
  const authority = endIdx < 0 ? rest : rest.slice(0, endIdx);
  let tail = endIdx < 0 ? '' : rest.slice(endIdx);
  const transforms: Transform[] = [];
  const at = authority.lastIndexOf('@');
  const hostPort = at >= 0 ? authority.slice(at + 1) : authority;
  if (at >= 0) transforms.push('userinfo');
  const hp = splitHostPort(hostPort);
  if (tail.includes('\\') && /^[\\/]/.test(tail)) {
    const cut = tail.search(/[?#\s"'<>]/);
    const p = cut < 0 ? tail : tail.slice(0, cut);
    if (p.includes('\\')) {
      tail = p.replace(/\\/g, '/') + (cut < 0 ? '' : tail.slice(cut));
      transforms.push('backslash-path');
    }
  }
  // gopher and dict carry a whole request (spaces and CRLF included) in the path.
  const pathEnd = scheme === 'gopher' || scheme === 'dict' ? tail.search(/["'<>`]/) : tail.search(/[\s"'<>`]/);
  const path = pathEnd < 0 ? tail : tail.slice(0, pathEnd);
  if (hp.ok && hp.host.length > 0) {
    readings.push({ scheme, host: hp.host, port: hp.port, path, transforms, disagreements: [] });
  }
  const seenHosts = new Set(hp.ok ? [hp.host] : []);
  const head = rest.slice(0, 512);
  // A URL given as a query parameter's value ends where the parameter does: the application's query parser hands
  // `http://0xa9fea9fe` to the fetcher from `url=http://0xa9fea9fe&format=json` (or `;x=1`), and a list of URLs is
  // split at its commas (`urls=http://0xa9fea9fe,http://…`). No host contains '&', ',' or ';'.
  const amp = authority.search(/[&,;]/);
  if (amp > 0) {
    // `+` is a space in a query string, and a URL parser trims the spaces that end it.
    const piece = authority.slice(0, amp).replace(/[+\s]+$/, '');
    const pieceAt = piece.lastIndexOf('@');
    const php = splitHostPort(pieceAt >= 0 ? piece.slice(pieceAt + 1) : piece);
    if (php.ok && php.host.length > 0 && !seenHosts.has(php.host)) {
      seenHosts.add(php.host);
      readings.push({
        scheme,
        host: php.host,
        port: php.port,
        path: '',
        transforms: pieceAt >= 0 ? ['userinfo'] : [],
        disagreements: [],
      });
    }
  }
  // WHATWG ends the authority only at '/', '\\', '?' or '#', so spaces and '&' before an '@' are userinfo:
  // `http://1.1.1.1 &@169.254.169.254# @3.3.3.3/` connects to the host after that '@'.
  const wEnd = head.search(/[/\\?#\r\n"'<>`]/);
  const wAuth = wEnd < 0 ? head : head.slice(0, wEnd);
  const wAt = wAuth.lastIndexOf('@');
  if ((wEnd < 0 || /[/\\?#]/.test(head[wEnd]!)) && wAt >= 0 && wAuth !== authority && /\s/.test(wAuth.slice(0, wAt))) {
    const whp = splitHostPort(wAuth.slice(wAt + 1));
    if (whp.ok && whp.host.length > 0 && !seenHosts.has(whp.host)) {
      seenHosts.add(whp.host);
      const wPath = wEnd < 0 ? '' : (rest.slice(wEnd).split(/[\s"'<>`]/)[0] ?? '');
      readings.push({
        scheme,
        host: whp.host,
        port: whp.port,
        path: wPath,
        transforms: ['userinfo', 'userinfo-confusion'],
        disagreements: [
          'WHATWG reads the spaces and "&" before the "@" as userinfo; parsers that end the authority at a space connect to the first host',
        ],
      });
    }
  }
  // Loose reading: a parser that takes the authority up to the first slash and the last '@' before it
  // (fragment and query markers, spaces and '&' included) — the classic "google.com &@127.0.0.1# @google.com" trick.
  // Two loose boundaries: the first '/' or '\', and the first '/' only (parsers that keep a backslash in userinfo:
  // `http://127.1.1.1:80\@169.254.169.254/`).
  // Parsers that end the userinfo at the first '@' (`http://a@169.254.169.254:80@example.com/`) connect to the host
  // right after it.
  const firstSlash = head.search(/[/\\]/);
  const looseHead = firstSlash < 0 ? head : head.slice(0, firstSlash);
  const firstAt = looseHead.indexOf('@');
  if (firstAt >= 0 && firstAt !== looseHead.lastIndexOf('@') && !/[\r\n"'<>]/.test(looseHead)) {
    const m = /^(\[[0-9a-f:.]+\]|[^:@/\\?#\s&+[]+)(?::(\d{1,5}))?/i.exec(looseHead.slice(firstAt + 1));
    if (m && !seenHosts.has(m[1]!)) {
      seenHosts.add(m[1]!);
      readings.push({
        scheme,
        host: m[1]!,
        port: m[2] ? Number(m[2]) : null,
        path: '',
        transforms: ['userinfo-confusion'],
        disagreements: ['parsers that end the userinfo at the first "@" connect to this host'],
      });
    }
  }
  for (const slash of new Set([head.search(/[/\\]/), head.indexOf('/')])) {
    const looseAuth = slash < 0 ? head : head.slice(0, slash);
    const looseAt = looseAuth.lastIndexOf('@');
    if (looseAt < 0 || looseAuth === authority || /[\r\n"'<>]/.test(looseAuth)) continue;
    const afterAt = looseAuth.slice(looseAt + 1).split(/[\s#?\\]/)[0] ?? '';
    const lhp = splitHostPort(afterAt);
    if (lhp.ok && lhp.host.length > 0 && !seenHosts.has(lhp.host)) {
      seenHosts.add(lhp.host);
      const lpathEnd = slash < 0 ? -1 : rest.slice(slash).search(/[\s"'<>`]/);
      const lpath = slash < 0 ? '' : lpathEnd < 0 ? rest.slice(slash) : rest.slice(slash, slash + lpathEnd);
      readings.push({
        scheme,
        host: lhp.host,
        port: lhp.port,
        path: lpath,
        transforms: ['userinfo-confusion'],
        disagreements: [
          'WHATWG ends the authority at "#", "?", "\\" or a space; parsers that take the last "@" before the first "/" connect to this host',
        ],
      });
    }
  }
  return readings;
}

/** Resolve `.` and `..` segments the way a URL parser does. */
export function resolveDotSegments(path: string): { path: string; changed: boolean } {
  const q = path.search(/[?#]/);
  const p = q < 0 ? path : path.slice(0, q);
  if (!/(?:^|\/)\.{1,2}(?:\/|$)/.test(p)) return { path, changed: false };
  const out: string[] = [];
  for (const seg of p.split('/')) {
    if (seg === '.') continue;
    if (seg === '..') {
      if (out.length > 1) out.pop();
      continue;
    }
    out.push(seg);
  }
  let r = out.join('/');
  if (!r.startsWith('/')) r = `/${r}`;
  return { path: r + (q < 0 ? '' : path.slice(q)), changed: true };
}

/** A request smuggled inside a gopher/dict path or a CRLF-injected value: `_GET /latest/meta-data/ HTTP/1.1\r\n…`. */
export function smuggledRequestPath(path: string): string | null {
  const m = /(?:^|[\s_/])(GET|PUT|POST|HEAD|DELETE|PATCH)\s+(\/[^\s]*)/i.exec(path);
  return m ? m[2]! : null;
}
