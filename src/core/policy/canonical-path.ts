/**
 * The request path as a metadata service reads it, in one form only: the proxy matches its policy on this form and
 * forwards this same form upstream, so a rule cannot be passed by writing the path another way the service reads
 * the same (`//`, `/./`, `/x/../`, `;params`, `%3B`, percent-escapes, a trailing `/`, upper case, a dated version).
 *
 * - `upstream`: what is sent to the service: every escape undone, `;params` cut from each segment, empty and dot
 *   segments resolved, then re-encoded where a path needs it; case, version and a trailing `/` kept; query kept.
 * - `path`: what `path` globs match: `upstream`'s path decoded, lower-cased (EC2 answers either case; lower-casing
 *   for a case-sensitive service only widens what a rule covers, never lets a differently written path past it),
 *   trailing dots cut from each segment (`security-credentials./`: a service that ignores them must not be read
 *   past a rule; for one that does not, it again only widens a rule), a dated API version (`/2021-07-15/`, `/1.0/`)
 *   read as `/latest/`, and no trailing `/` (the glob matcher tries the path with and without one).
 * - `classifiedPath`: the forwarded path, without its query and with the trailing dots of its segments cut, for the
 *   endpoint catalogue (so `path_class: credentials` covers the same paths).
 * @example canonicalTarget('/LATEST//meta-data/iam/security-credentials;x/role/?a=1')
 * // { upstream: '/LATEST/meta-data/iam/security-credentials/role/?a=1', path: '/latest/meta-data/iam/security-credentials/role' }
 */
export interface CanonicalTarget {
  /** The origin-form target forwarded upstream (path, and the query as written). */
  upstream: string;
  /** The path policy globs and the service's own rules are checked against. */
  path: string;
  /** The forwarded path without its query, trailing dots of segments cut: what the endpoint catalogue classifies. */
  classifiedPath: string;
}

/** A leading dated API version (EC2 and its look-alikes serve every version at `/YYYY-MM-DD/` and `/1.0/`). */
const DATED_VERSION = /^(?:\d{4}-\d{2}-\d{2}|1\.0)$/;

const utf8 = new TextDecoder('utf-8', { fatal: false });
const encoder = new TextEncoder();

/** Undo every well-formed `%XX` (as UTF-8 bytes); a malformed `%` stays as written. */
export function percentDecode(s: string): string {
  if (!s.includes('%')) return s;
  const bytes: number[] = [];
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x25 && /^[0-9A-Fa-f]{2}$/.test(s.slice(i + 1, i + 3))) {
      bytes.push(Number.parseInt(s.slice(i + 1, i + 3), 16));
      i += 2;
    } else if (c < 0x80) bytes.push(c);
    else for (const b of encoder.encode(s[i]!)) bytes.push(b);
  }
  return utf8.decode(new Uint8Array(bytes));
}

/** Characters a path segment carries as they are (RFC 3986 pchar, without `;`, which would start parameters). */
const PCHAR = /[A-Za-z0-9\-._~!$&'()*+,=:@]/;

function encodeSegment(seg: string): string {
  let out = '';
  for (const ch of seg) {
    if (PCHAR.test(ch)) out += ch;
    else for (const b of encoder.encode(ch)) out += `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

export function canonicalTarget(target: string): CanonicalTarget {
  let t = target;
  // Absolute-form (`http://host/path`): the service reads the path.
  const abs = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/[^/?#]*/.exec(t);
  if (abs) t = t.slice(abs[0].length) || '/';
  const cut = t.search(/[?#]/);
  const rawPath = cut < 0 ? t : t.slice(0, cut);
  let query = '';
  if (cut >= 0 && t[cut] === '?') {
    const hash = t.indexOf('#', cut);
    query = hash < 0 ? t.slice(cut) : t.slice(cut, hash);
  }
  const decoded = percentDecode(rawPath).replace(/\\/g, '/');
  const segs: string[] = [];
  let trailing = false;
  for (const part of decoded.split('/')) {
    const semi = part.indexOf(';');
    const seg = semi < 0 ? part : part.slice(0, semi);
    trailing = seg === '' || seg === '.' || seg === '..';
    if (seg === '' || seg === '.') continue;
    if (seg === '..') segs.pop();
    else segs.push(seg);
  }
  const tail = trailing && segs.length > 0 ? '/' : '';
  const upstreamPath = `/${segs.map(encodeSegment).join('/')}${tail}`;
  const undotted = segs.map((s) => s.replace(TRAILING_DOTS, ''));
  const lower = undotted.map((s) => s.toLowerCase());
  if (lower.length > 0 && DATED_VERSION.test(lower[0]!)) lower[0] = 'latest';
  return {
    upstream: `${upstreamPath}${query}`,
    path: `/${lower.join('/')}`,
    classifiedPath: `/${undotted.map(encodeSegment).join('/')}${tail}`,
  };
}

/** Dots ending a segment that has something else (`a.` → `a`; `...` stays, it names nothing else). */
const TRAILING_DOTS = /(?<=[^.])\.+$/;

/**
 * Canonicalise a path glob of a policy rule the way request paths are: duplicate slashes collapsed, lower case, a
 * dated version read as `latest`. (Glob characters are kept; a trailing `/` is kept, the matcher tries both forms.)
 */
export function canonicalGlob(glob: string): string {
  const g = glob.replace(/\/{2,}/g, '/').toLowerCase();
  return g.replace(/^\/(?:\d{4}-\d{2}-\d{2}|1\.0)(?=\/|$)/, '/latest');
}
