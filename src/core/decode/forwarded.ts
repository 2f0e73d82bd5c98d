/**
 * The `Forwarded` header (RFC 7239): comma-separated elements of `;`-separated `name=value` pairs, each value a token
 * or a quoted string (`for=192.0.2.60;proto=http;host=example.com, for="[2001:db8:cafe::17]:4711"`).
 *
 * `host=` carries the Host the first proxy received. Frameworks that trust the header build absolute URLs and route
 * from it, so it is read like a Host header. `for=` and `by=` name the client and the proxy: machines that sent or
 * passed the request, not destinations, so a metadata address there is no target.
 */

/** Parameter names RFC 7239 defines; a value that uses none of them is not read as a Forwarded header. */
const KNOWN_PARAMS = new Set(['for', 'by', 'host', 'proto']);
const TOKEN = /^[!#$%&'*+.^_`|~0-9a-z-]+$/i;

/**
 * The `host=` values of a Forwarded header value, unquoted, in order; `[]` when it has none; `null` when the text is
 * not a Forwarded value (a pair without `=`, an unterminated quote, no parameter RFC 7239 defines), so the caller
 * reads it as ordinary text instead.
 * @example forwardedHosts('for=192.0.2.60;host="[fd00:ec2::254]"') // ['[fd00:ec2::254]']
 */
export function forwardedHosts(value: string): string[] | null {
  const pairs: Array<[string, string]> = [];
  let i = 0;
  const n = value.length;
  const skipSpace = () => {
    while (i < n && (value[i] === ' ' || value[i] === '\t')) i++;
  };
  while (i < n) {
    skipSpace();
    // Empty pairs and elements (`;;`, `, ,`) are allowed by the grammar.
    if (value[i] === ';' || value[i] === ',') {
      i++;
      continue;
    }
    if (i >= n) break;
    const eq = value.indexOf('=', i);
    if (eq < 0) return null;
    const name = value.slice(i, eq).trim();
    if (!TOKEN.test(name)) return null;
    i = eq + 1;
    skipSpace();
    let v = '';
    if (value[i] === '"') {
      i++;
      for (;;) {
        if (i >= n) return null;
        const c = value[i]!;
        if (c === '\\' && i + 1 < n) {
          v += value[i + 1];
          i += 2;
        } else if (c === '"') {
          i++;
          break;
        } else {
          v += c;
          i++;
        }
      }
    } else {
      const start = i;
      while (i < n && value[i] !== ';' && value[i] !== ',') i++;
      v = value.slice(start, i).trim();
      if (v === '' || /[\s"]/.test(v)) return null;
    }
    skipSpace();
    if (i < n && value[i] !== ';' && value[i] !== ',') return null;
    pairs.push([name.toLowerCase(), v]);
  }
  if (!pairs.some(([k]) => KNOWN_PARAMS.has(k))) return null;
  return pairs.filter(([k, v]) => k === 'host' && v !== '').map(([, v]) => v);
}

/**
 * Headers that name the host a reverse proxy or framework forwards to or builds URLs from (X-Forwarded-Host and its
 * kin), as logs record them: the header name, nginx's `$http_x_forwarded_host`, a JSON key (`x_forwarded_host`,
 * `xfh`, `headers.x-forwarded-host`). Their value is a host like the Host header's, so every host form counts there.
 */
const FORWARDED_HOST_FIELDS = new Set([
  'xforwardedhost',
  'xfh',
  'xforwardedserver',
  'xoriginalhost',
  'xhost',
  'forwardedhost',
  'xhttphostoverride',
]);

/**
 * A header's name as logs spell it, reduced to compare: `$http_x_forwarded_host`, `headers.X-Forwarded-Host`,
 * `req.headers["x-forwarded-host"][0]` → `xforwardedhost`; `http_forwarded` → `forwarded`.
 */
export function headerKey(name: string): string {
  return name
    .toLowerCase()
    .replace(/(?:\[\d+\])+$/, '')
    .replace(/^.*[.[]/, '')
    .replace(/[-_\]"'$]/g, '')
    .replace(/^http(?=x|forwarded$)/, '');
}

/** The field records X-Forwarded-Host or one of its kin: its value is a host. */
export function isForwardedHostField(name: string): boolean {
  return FORWARDED_HOST_FIELDS.has(headerKey(name));
}

/** The field records a `Forwarded` header or an X-Forwarded-Host kin: a log keeps it for the host it names. */
export function isHostNamingField(name: string): boolean {
  const k = headerKey(name);
  return k === 'forwarded' || FORWARDED_HOST_FIELDS.has(k);
}
