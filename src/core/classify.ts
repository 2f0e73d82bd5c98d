import { canonicalHostReadings, type HostReading, internalKindOf } from './decode/host.ts';
import { extractParams, isUrlishParam } from './decode/params.ts';
import {
  resolveDotSegments,
  SLASHLESS_SCHEMES,
  smuggledRequestPath,
  splitAfterScheme,
  type UrlParts,
} from './decode/url.ts';
import { decodeViews, type View } from './decode/views.ts';
import { DNS_ALIASES, DNS_SERVICES, REDIRECT_ALIASES } from './endpoints/aliases.ts';
import { CATALOGUE, matchEndpoint, normalisePath } from './endpoints/lookup.ts';
import { type FetchContext, isFetchRoute, type Reading, readFetchContext } from './fetch-context.ts';
import type { HitContext, InternalKind, MetadataHit, VerdictOrNone } from './model/hit.ts';
import { severityRank } from './model/severity.ts';
import { mayAddressMetadata } from './prefilter.ts';

/** What the text is, when the caller knows. */
export interface ClassifyContext {
  /** Name of the field or parameter the text came from. A URL-ish name (`url`, `redirect_uri`) lets bare hosts count. */
  field?: string;
  /**
   * `text`: free text (default). `target`: an HTTP request target. `host`: a Host header or a bare destination,
   * which is itself the endpoint. `url`: a value known to be fetched as a URL (a proxy upstream, an outbound request).
   */
  kind?: 'text' | 'target' | 'host' | 'url';
}

interface Candidate {
  parts: UrlParts;
  /** Where the reference starts in the view's text, and where its `host[:port]` ends (for the fetch-context model). */
  start: number;
  hostEnd: number;
  /** Read from the caller's own framing (a Host header, a known URL, a named field): the text around tells nothing. */
  framed?: boolean;
  context: HitContext;
  param?: string;
  view: View;
  raw: string;
}

const SKIP_SCHEMES = new Set([
  'mailto',
  'javascript',
  'data',
  'urn',
  'tel',
  'about',
  'blob',
  'cid',
  'mid',
  'sms',
  'news',
]);
const SCHEME_RE = /([a-z][a-z0-9+._-]{0,19}):([/\\]{0,4})/gi;
const PROTO_RELATIVE_RE = /(?:^|[=\s"'(,])(\/\/|\\\\)(?=[^/\\\s])/g;
const QUAD_RE = /(?<![\d.])(\d{1,3}(?:\.\d{1,3}){3})(?!\d)(?!\.\d)/g;
const V6_RE =
  /\[?((?:[0-9a-f]{1,4})?:(?:[0-9a-f]{0,4}:){1,6}(?:[0-9a-f]{1,4}|\d{1,3}(?:\.\d{1,3}){3})?)(?:%25\w+|%\w+)?\]?/gi;
const escapeRe = (x: string) => x.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
/**
 * Names found in free text: the catalogue's dotted hostnames, the wildcard and rebinding DNS zones, fixed public
 * aliases and redirectors (`endpoints/aliases.ts`), with any labels in front.
 */
const NAME_RE = new RegExp(
  `(?<![\\w.-])((?:[a-z0-9-]+\\.)*(?:${[
    ...CATALOGUE.dottedHostnames,
    ...DNS_SERVICES.filter((d) => d.kind !== 'loopback').map((d) => d.suffix),
    ...DNS_ALIASES.map((a) => a.name),
    ...REDIRECT_ALIASES.map((r) => r.host),
  ]
    .map(escapeRe)
    .join('|')}))\\.?(?![\\w-])`,
  'gi',
);
/** Metadata path words that can follow a bare host (`2852039166/latest/meta-data`). Matched first, then the host is looked for behind. */
const HOSTPATH_WORD_RE = new RegExp(
  // `msi`: Azure App Service's identity endpoint (IDENTITY_ENDPOINT), on an internal address rather than a catalogue one.
  // The path is read in a lookahead, so a path head inside another's path (`/metadata/computeMetadata/…`) is seen too.
  `[/\\\\](?=((?:${[...CATALOGUE.pathHeads, 'msi'].join('|')})\\b[^\\s"'<>&]*))`,
  'gi',
);
/** A path that starts the way a metadata service's paths start (`/latest/…`, `/computeMetadata/…`, `/opc/…`). */
const METADATA_PATH_HEAD = new RegExp(`^/(?:${[...CATALOGUE.pathHeads, 'msi'].join('|')})\\b`, 'i');
const HOST_CHAR = /[^\s/\\?#"'<>=&@]/;
/** An IPv4 address as one number or in numbers-and-dots (decimal, octal, hex): `0xa9fea9fe`, `2852039166`, `0251.0376.0251.0376`. */
const NUMERIC_HOST = /^(?:0x[0-9a-f]+|\d+)(?:\.(?:0x[0-9a-f]+|\d+)){0,3}$/i;

/**
 * A numeric host that is a path segment of its own (`/r/0xa9fea9fe/latest/…`, `/proxy/2852039166/latest/…`): read as
 * a candidate like a dotted one, so the fetch-context model decides between a page and a destination (a fetching route
 * before it, a metadata path after it). Names stay out: a word between slashes is a page far more often than a host.
 */
function numericPathSegment(t: string, start: number, end: number): boolean {
  return (
    t[start - 1] === '/' &&
    !/[/:\\]/.test(t[start - 2] ?? '') &&
    NUMERIC_HOST.test(t.slice(start, end).replace(/:\d{1,5}$/, ''))
  );
}
/**
 * A host of any form (a one-word name too: `/proxy/metadata/computeMetadata/v1/…`, `/fetch/instance-data/latest/…`)
 * that is a path segment right after a route that fetches what follows it, perhaps behind a `//`
 * (`/api/proxy///0xa9.254.0251.254/latest/…`). The fetch-context model reads it as a destination; a one-word name
 * still needs a metadata path after it.
 */
function afterFetchRoute(t: string, start: number): boolean {
  const m = /(?:^|[/\s"'=?])([\w.-]{1,32})\/{1,3}$/.exec(t.slice(Math.max(0, start - 40), start));
  return m !== null && isFetchRoute(m[1]!);
}
const BEFORE_HOST_FORBIDDEN = /[\w.%:/-]/;

/** Index just after `host[:port]` as written from `from` on (the host may sit past userinfo). */
function hostEndIn(text: string, from: number, parts: UrlParts): number {
  const h = parts.host.length > 0 ? text.indexOf(parts.host, from) : -1;
  if (h < 0) return from;
  let end = h + parts.host.length;
  const port = /^:\d{1,5}/.exec(text.slice(end, end + 6));
  if (port) end += port[0].length;
  return end;
}

function pushScheme(v: View, out: Candidate[]): void {
  SCHEME_RE.lastIndex = 0;
  for (const m of v.text.matchAll(SCHEME_RE)) {
    let scheme = m[1]!.toLowerCase();
    const slashes = m[2]!;
    let idx = m.index;
    // `curl+http://…` in a query string is two words (`+` is a space there), not an `svn+ssh`-style scheme.
    const plus = scheme.lastIndexOf('+');
    if (plus >= 0 && SLASHLESS_SCHEMES.has(scheme.slice(plus + 1))) {
      idx += plus + 1;
      scheme = scheme.slice(plus + 1);
    }
    if (idx > 0 && /[a-z0-9]/i.test(v.text[idx - 1]!)) continue;
    if (SKIP_SCHEMES.has(scheme)) continue;
    if (slashes.length === 0 && !SLASHLESS_SCHEMES.has(scheme)) continue;
    const restAt = m.index + m[0].length;
    let rest = v.text.slice(restAt, restAt + 4096);
    // `http://\\l\\o\\c…`: the slash run swallowed the first backslash of a backslashed host name; give it back.
    const giveBack = /^[/\\]{2}(\\+)$/.exec(slashes);
    if (giveBack && /^[a-z0-9.-]\\/i.test(rest)) rest = giveBack[1]! + rest;
    const extra: string[] = [];
    if (slashes !== '//') extra.push(slashes.includes('\\') ? 'backslash-slashes' : 'malformed-slashes');
    if (scheme !== 'http' && scheme !== 'https') extra.push(`scheme:${scheme}`);
    for (const parts of splitAfterScheme(scheme, rest)) {
      parts.transforms.unshift(...extra);
      out.push({
        parts,
        start: idx,
        hostEnd: hostEndIn(v.text, restAt, parts),
        context: 'url',
        view: v,
        raw: v.text.slice(idx, restAt + 256).split(/\s/)[0]!,
      });
    }
  }
  PROTO_RELATIVE_RE.lastIndex = 0;
  for (const m of v.text.matchAll(PROTO_RELATIVE_RE)) {
    const start = m.index + m[0].length;
    if (start >= 3 && v.text[start - 3] === ':') continue;
    for (const parts of splitAfterScheme(null, v.text.slice(start, start + 4096))) {
      parts.transforms.unshift('protocol-relative');
      out.push({
        parts,
        start: start - 2,
        hostEnd: hostEndIn(v.text, start, parts),
        context: 'url',
        view: v,
        raw: v.text.slice(start - 2, start + 256).split(/\s/)[0]!,
      });
    }
  }
}

function hostPathParts(value: string): UrlParts[] {
  let v = value.trim();
  if (v.length === 0) return [];
  const transforms: string[] = [];
  if (v.startsWith('//') || v.startsWith('\\\\')) return []; // protocol-relative: handled as a URL
  const at = v.search(/[/\\?#]/);
  let hostPort = at < 0 ? v : v.slice(0, at);
  const path = at < 0 ? '' : v.slice(at).replace(/^\\+/, '/');
  const userAt = hostPort.lastIndexOf('@');
  if (userAt >= 0) {
    hostPort = hostPort.slice(userAt + 1);
    transforms.push('userinfo');
  }
  v = hostPort;
  let host = v;
  let port: number | null = null;
  const pm = /^(.*?)(?::(\d{1,5}))$/.exec(v);
  if (pm && !(pm[1]!.includes(':') && !pm[1]!.startsWith('['))) {
    host = pm[1]!;
    port = Number(pm[2]);
  }
  return [{ scheme: null, host, port, path, transforms, disagreements: [] }];
}

function pushParams(v: View, out: Candidate[]): void {
  for (const p of extractParams(v.text)) {
    if (/^[a-z][a-z0-9+._-]{0,19}:[/\\]/i.test(p.value)) continue; // has a scheme: the URL pass sees it
    for (const parts of hostPathParts(p.value)) {
      out.push({
        parts,
        start: p.at,
        hostEnd: hostEndIn(v.text, p.at, parts),
        context: 'param',
        param: p.name,
        view: v,
        raw: `${p.name}=${p.value}`.slice(0, 512),
      });
    }
  }
}

function pushBare(v: View, out: Candidate[]): void {
  const t = v.text;
  const add = (host: string, rest: string, context: HitContext, raw: string, start: number, hostEnd: number) => {
    let port: number | null = null;
    let path = '';
    const pm = /^:(\d{1,5})/.exec(rest);
    if (pm) {
      port = Number(pm[1]);
      rest = rest.slice(pm[0].length);
    }
    if (/^[/\\]/.test(rest)) path = rest.split(/[\s"'<>&]/)[0]!.replace(/\\/g, '/');
    out.push({
      parts: { scheme: null, host, port, path, transforms: [], disagreements: [] },
      start,
      hostEnd: hostEnd + (pm ? pm[0].length : 0),
      context,
      view: v,
      raw,
    });
  };
  if (/\d\.\d/.test(t)) {
    QUAD_RE.lastIndex = 0;
    for (const m of t.matchAll(QUAD_RE)) {
      const end = m.index + m[0].length;
      add(m[1]!, t.slice(end, end + 2048), 'bare', t.slice(m.index, end + 128).split(/[\s"'<>]/)[0]!, m.index, end);
    }
  }
  if (t.includes('::') || /:[0-9a-f]{1,4}:/i.test(t)) {
    V6_RE.lastIndex = 0;
    for (const m of t.matchAll(V6_RE)) {
      if (!m[1]!.includes(':') || m[1]!.length < 3) continue;
      const end = m.index + m[0].length;
      add(`[${m[1]}]`, m[0].endsWith(']') ? t.slice(end, end + 2048) : '', 'bare', m[0], m.index, end);
    }
  }
  NAME_RE.lastIndex = 0;
  for (const m of t.matchAll(NAME_RE)) {
    const end = m.index + m[0].length;
    add(m[0], t.slice(end, end + 2048), 'bare', t.slice(m.index, end + 128).split(/[\s"'<>]/)[0]!, m.index, end);
  }
  HOSTPATH_WORD_RE.lastIndex = 0;
  for (const m of t.matchAll(HOSTPATH_WORD_RE)) {
    // Walk back over host characters (at most 120) from the separator.
    let start = m.index;
    while (start > 0 && m.index - start < 120 && HOST_CHAR.test(t[start - 1]!)) start--;
    if (start === m.index || (start > 0 && m.index - start >= 120 && HOST_CHAR.test(t[start - 1]!))) continue;
    if (
      start > 0 &&
      BEFORE_HOST_FORBIDDEN.test(t[start - 1]!) &&
      !numericPathSegment(t, start, m.index) &&
      !afterFetchRoute(t, start)
    )
      continue;
    let host = t.slice(start, m.index);
    // Punctuation such as ',' or '(' inside the run also starts a host (`x,169.254.169.254/latest`).
    const cut = host.search(/[^\w.%:[\]-][\w.%:[\]-]*$/);
    if (cut >= 0) host = host.slice(cut + 1);
    if (/^[a-z][a-z0-9+.-]*:$/i.test(host)) continue;
    const raw = t.slice(start, m.index + 1 + m[1]!.length);
    // `localhost:40342/metadata/…`, `0xa9.254.0251.254:80/latest/…`: the port is no part of the host.
    const port = /^([^:[\]]+)(:\d{1,5})$/.exec(host);
    if (port) add(port[1]!, `${port[2]!}/${m[1]!}`, 'hostpath', raw, m.index - host.length, m.index - port[2]!.length);
    else add(host, `/${m[1]!}`, 'hostpath', raw, m.index - host.length, m.index);
  }
}

const SINGLE_LABEL_OK_IN_TEXT = false;

function hostForUrl(r: HostReading): string {
  return r.kind === 'ipv6' ? `[${r.canonical}]` : r.canonical;
}

function contextRank(c: HitContext): number {
  return { url: 4, host: 4, param: 3, hostpath: 2, bare: 1 }[c];
}

function accept(
  verdict: 'metadata' | 'internal',
  c: Candidate,
  r: HostReading,
  opts: { hasPath: boolean; singleLabel: boolean; pathKnown: boolean; portBound: boolean; wire: boolean },
): boolean {
  if (c.context === 'url' || c.context === 'host') return true;
  if (verdict === 'metadata') {
    if (c.context === 'hostpath') return !opts.singleLabel || opts.pathKnown;
    if (c.context === 'param') {
      if (isUrlishParam(c.param, true)) return true;
      // A bare number or a one-word name means a host only in a parameter that names a host or URL.
      if (r.form === 'numeric' && !opts.hasPath) return false;
      // A one-word name (`metadata`, `instance-data`) as the value of an ordinary field is a word, unless a metadata path follows.
      if (opts.singleLabel) return opts.pathKnown && opts.hasPath;
      return true;
    }
    // bare text
    if (opts.singleLabel || opts.portBound) return false;
    if (opts.wire) return opts.hasPath || c.parts.port !== null;
    return r.form === 'literal' || r.form === 'name';
  }
  // internal
  if (c.context === 'param') {
    if (!isUrlishParam(c.param, false)) return false;
    if (r.form === 'numeric' && !opts.hasPath) return isUrlishParam(c.param, true);
    if (r.kind === 'hostname' && c.parts.path === '' && !c.parts.port) return isUrlishParam(c.param, true);
    return true;
  }
  return false;
}

function finishPath(parts: UrlParts): { path: string; transforms: string[] } {
  const transforms: string[] = [];
  let path = parts.path;
  if (path && !path.startsWith('/') && !path.startsWith('?') && !path.startsWith('#')) path = `/${path}`;
  const smuggled = smuggledRequestPath(path) ?? (/[\r\n]/.test(path) ? null : null);
  if (
    smuggled &&
    (parts.scheme === 'gopher' || parts.scheme === 'dict' || /[\r\n]|%0d|%0a/i.test(path) || /^\/_/.test(path))
  ) {
    path = smuggled;
    transforms.push('smuggled-request');
  }
  if (/[\r\n]/.test(path)) {
    path = path.split(/[\r\n]/)[0]!;
    transforms.push('crlf-injection');
  }
  const d = resolveDotSegments(path);
  if (d.changed) {
    path = d.path;
    transforms.push('dot-segments');
  }
  return { path, transforms };
}

/** A public redirector that answers with a redirect to a metadata URL (`endpoints/aliases.ts`): read as its target. */
function redirectTarget(parts: UrlParts): UrlParts | null {
  const host = parts.host.toLowerCase().replace(/\.$/, '');
  const path = normalisePath(parts.path);
  const alias = REDIRECT_ALIASES.find(
    (r) => r.host === host && path.startsWith(r.path || '/') && (!r.grammar || r.grammar.test(path)),
  );
  if (!alias) return null;
  const g = alias.grammar?.exec(path);
  const target = g ? alias.target.replace(/\$(\d)/g, (_x, i: string) => g[Number(i)] ?? '') : alias.target;
  const m = /^([a-z]+):\/\/(.*)$/.exec(target);
  if (!m) return null;
  const t = splitAfterScheme(m[1]!, m[2]!)[0]!;
  return {
    ...t,
    transforms: [...parts.transforms, `redirect:${alias.host}`],
    disagreements: [`${alias.host}${alias.path} redirects to ${target} (${alias.source})`],
  };
}

function evaluate(c: Candidate): MetadataHit[] {
  const redirect = redirectTarget(c.parts);
  if (redirect) return evaluate({ ...c, parts: redirect });
  const hits: MetadataHit[] = [];
  const readings = canonicalHostReadings(c.parts.host);
  if (readings.length === 0) return hits;
  const fp = finishPath(c.parts);
  const hasPath = fp.path.length > 1 && fp.path !== '/';
  for (const r of readings) {
    const m = matchEndpoint(r.canonical, r.kind, c.parts.port, fp.path);
    const singleLabel = r.kind === 'hostname' && !r.canonical.includes('.');
    const transforms = [...c.view.transforms, ...c.parts.transforms, ...r.transforms, ...fp.transforms];
    const disagreements = [...c.parts.disagreements, ...r.disagreements];
    const base = {
      raw: c.raw,
      scheme: c.parts.scheme,
      path: fp.path,
      transforms: dedupe(transforms),
      disagreements,
      context: c.context,
    };
    const decoded = `${c.parts.scheme ?? 'http'}://${hostForUrl(r)}${c.parts.port !== null ? `:${c.parts.port}` : ''}${fp.path || '/'}`;
    const endpoint = { written: c.parts.host, canonical: r.canonical, kind: r.kind, port: c.parts.port };
    if (m) {
      const pathKnown = m.pathClass !== 'other';
      const opts = {
        hasPath,
        singleLabel,
        pathKnown,
        portBound: m.service === 'azure-arc',
        wire: m.service === 'azure-wireserver',
      };
      if (accept('metadata', c, r, opts)) {
        hits.push({
          verdict: 'metadata',
          provider: m.provider,
          service: m.service,
          decoded,
          endpoint,
          pathClass: m.pathClass,
          sensitivity: m.sensitivity,
          ...(m.doc ? { doc: m.doc } : {}),
          ...base,
        });
        continue;
      }
    }
    let kind: InternalKind | null = internalKindOf(r);
    if (kind === null) continue;
    if (/^\/msi\/token/i.test(normalisePath(fp.path))) {
      // Azure App Service managed identity (IDENTITY_ENDPOINT) listens on an internal address.
      if (accept('metadata', c, r, { hasPath, singleLabel: false, pathKnown: true, portBound: false, wire: false })) {
        hits.push({
          verdict: 'metadata',
          provider: 'azure',
          service: 'app-service-identity',
          decoded,
          endpoint,
          pathClass: 'credentials',
          sensitivity: 'critical',
          doc: 'https://learn.microsoft.com/azure/app-service/overview-managed-identity#rest-endpoint-reference',
          ...base,
        });
        continue;
      }
    }
    if ([10250, 10255, 2379, 2380, 6443].includes(c.parts.port ?? -1)) kind = 'kubernetes';
    if (accept('internal', c, r, { hasPath, singleLabel, pathKnown: false, portBound: false, wire: false })) {
      hits.push({
        verdict: 'internal',
        provider: null,
        service: null,
        decoded,
        endpoint,
        pathClass: 'other',
        sensitivity: 'low',
        internalKind: kind,
        ...base,
      });
    }
  }
  return hits;
}

function dedupe(a: string[]): string[] {
  return [...new Set(a)];
}

function score(h: MetadataHit): number {
  return (
    (h.verdict === 'metadata' ? 1000 : 0) +
    severityRank(h.sensitivity) * 100 +
    (h.provider && h.provider !== 'multi' ? 50 : 0) +
    contextRank(h.context) * 10 -
    (h.ambiguity ? 90 : 0) -
    Math.min(9, h.transforms.length)
  );
}

/** Why one reference was read the way it was: a fetch target, or prose, a network block, a list entry, a query… */
export interface ContextNote {
  /** The reference as found (`169.254.169.254`, `http://169.254.169.254/latest/…`). */
  reference: string;
  /** The canonical endpoint it names. */
  endpoint: string;
  reading: Reading;
  why: string;
  /** `kept`: a hit. `kept-lower-confidence`: both readings plausible. `dropped`: not a fetch target. */
  outcome: 'kept' | 'kept-lower-confidence' | 'dropped';
}

export interface Classification {
  hits: MetadataHit[];
  /** One note per reference and reading, kept hits first. */
  context: ContextNote[];
}

function contextOf(c: Candidate, hits: readonly MetadataHit[]): FetchContext {
  if (c.framed) return { reading: 'target', why: 'the field itself is a host or URL', ambiguous: false };
  return readFetchContext({
    text: c.view.text,
    start: c.start,
    hostEnd: c.hostEnd,
    scheme: c.parts.scheme,
    path: c.parts.path,
    param: c.param,
    claims: c.view.claims,
    pathKnown: hits.some((h) => h.verdict === 'metadata' && METADATA_PATH_HEAD.test(h.path)),
  });
}

/**
 * Every metadata service (and, separately, every other internal target) that `text` addresses once its encodings
 * are undone: one hit per distinct endpoint, the best-supported reading first.
 * @example classify('GET /fetch?url=http%3A%2F%2F169.254.169.254%2Flatest%2Fmeta-data%2F')[0]?.provider // 'aws'
 */
export function classify(text: string, ctx: ClassifyContext = {}): MetadataHit[] {
  if (text.length === 0 || !mayAddressMetadata(text)) return [];
  return classifyCore(text, ctx).hits;
}

/** `classify` without its prefilter: the oracle the prefilter is tested against. */
export function classifyUnfiltered(text: string, ctx: ClassifyContext = {}): MetadataHit[] {
  return classifyCore(text, ctx).hits;
}

/** `classify`, with a note for every reference saying how the text around it was read (what `explain` prints). */
export function classifyWithContext(text: string, ctx: ClassifyContext = {}): Classification {
  if (text.length === 0 || !mayAddressMetadata(text)) return { hits: [], context: [] };
  return classifyCore(text, ctx);
}

function classifyCore(text: string, ctx: ClassifyContext): Classification {
  if (text.length === 0) return { hits: [], context: [] };
  const views = decodeViews(text);
  const candidates: Candidate[] = [];
  for (const v of views) {
    const framed = { start: 0, hostEnd: v.text.length, framed: true, view: v, raw: text };
    if (ctx.kind === 'host' && v.transforms.length === 0) {
      for (const parts of hostPathParts(v.text)) candidates.push({ parts, context: 'host', ...framed });
    }
    if (ctx.kind === 'url' && !/^[a-z][a-z0-9+.-]*:/i.test(v.text.trim())) {
      for (const parts of hostPathParts(v.text)) candidates.push({ parts, context: 'url', ...framed });
    }
    if (ctx.field && isUrlishParam(ctx.field) && !/:[/\\]/.test(v.text)) {
      // A named field: the whole value is the parameter's, but what it says (a list, a block, words) still counts.
      for (const parts of hostPathParts(v.text))
        candidates.push({
          parts,
          context: 'param',
          param: ctx.field,
          view: v,
          raw: text,
          start: v.text.length - v.text.trimStart().length,
          hostEnd: hostEndIn(v.text, 0, parts),
        });
    }
    pushScheme(v, candidates);
    pushParams(v, candidates);
    pushBare(v, candidates);
    if (candidates.length > 2000) break;
  }
  const best = new Map<string, MetadataHit>();
  const dropped = new Map<string, ContextNote>();
  const readingOf = new Map<MetadataHit, FetchContext>();
  const seen = new Set<string>();
  for (const c of candidates) {
    // The same candidate is often found again in a more decoded view; the first (least decoded) reading explains best.
    const key = `${c.context}\u0000${c.param ?? ''}\u0000${c.parts.host}\u0000${c.parts.port}\u0000${c.parts.path}\u0000${c.parts.transforms.join()}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const hits = evaluate(c);
    if (hits.length === 0) continue;
    const fc = contextOf(c, hits);
    for (const h of hits) {
      const key = `${h.verdict}|${h.endpoint.canonical}`;
      if (fc.reading !== 'target' && !fc.ambiguous) {
        if (!dropped.has(key))
          dropped.set(key, {
            reference: c.raw,
            endpoint: h.endpoint.canonical,
            reading: fc.reading,
            why: fc.why,
            outcome: 'dropped',
          });
        continue;
      }
      if (fc.reading !== 'target') h.ambiguity = `${fc.reading}: ${fc.why}`;
      readingOf.set(h, fc);
      const prev = best.get(key);
      if (!prev || score(h) > score(prev)) best.set(key, h);
    }
  }
  const hits = [...best.values()].sort((a, b) => score(b) - score(a));
  const context: ContextNote[] = hits.map((h) => {
    const fc = readingOf.get(h)!;
    return {
      reference: h.raw,
      endpoint: h.endpoint.canonical,
      reading: fc.reading,
      why: fc.why,
      outcome: h.ambiguity ? 'kept-lower-confidence' : 'kept',
    };
  });
  for (const [key, note] of dropped) if (!best.has(key)) context.push(note);
  return { hits, context };
}

/** The strongest verdict among hits: metadata > internal > none. */
export function verdictOf(hits: readonly MetadataHit[]): VerdictOrNone {
  if (hits.some((h) => h.verdict === 'metadata')) return 'metadata';
  if (hits.some((h) => h.verdict === 'internal')) return 'internal';
  return 'none';
}

void SINGLE_LABEL_OK_IN_TEXT;
