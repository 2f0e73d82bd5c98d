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
