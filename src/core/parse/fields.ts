/** Small helpers shared by the line parsers. Pure; no allocation beyond what the caller keeps. */

/** `-` and empty mean "not logged". */
export function orUndef(v: string | undefined): string | undefined {
  return v === undefined || v === '' || v === '-' ? undefined : v;
}

/** A non-negative integer field, or undefined for `-`, empty or garbage. */
export function intOrUndef(v: string | number | undefined | null): number | undefined {
  if (typeof v === 'number') return Number.isFinite(v) ? Math.trunc(v) : undefined;
  if (v === undefined || v === null || v === '' || v === '-') return undefined;
  if (!/^-?\d{1,15}$/.test(v)) return undefined;
  return Number(v);
}

/** Split `METHOD target PROTOCOL`; a target with spaces (malformed requests) keeps them. */
export function splitRequestLine(r: string): {
  method?: string | undefined;
  target?: string | undefined;
  protocol?: string | undefined;
} {
  const s = r.trim();
  if (s === '' || s === '-') return {};
  const first = s.indexOf(' ');
  if (first < 0) return { target: s };
  const method = s.slice(0, first);
  let rest = s.slice(first + 1);
  let protocol: string | undefined;
  const last = rest.lastIndexOf(' ');
  if (last >= 0 && /^(?:HTTP|HTTPS|RTSP)\/\d/i.test(rest.slice(last + 1))) {
    protocol = rest.slice(last + 1);
    rest = rest.slice(0, last);
  }
  return /^[A-Za-z_-]{1,20}$/.test(method) ? { method, target: rest, protocol } : { target: s };
}

const isWs = (c: number) => c <= 32 || c >= 128;

function isMethodChar(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95 || c === 45;
}

/** Whether `s[i, b)` starts with `word` (upper-case ASCII letters and `/`), in any case. */
function startsWithWord(s: string, i: number, b: number, word: string): boolean {
  if (i + word.length > b) return false;
  for (let k = 0; k < word.length; k++) {
    const w = word.charCodeAt(k);
    const c = s.charCodeAt(i + k);
    // Setting bit 5 folds exactly the two cases of a letter onto one value; `/` is compared as is.
    if (w === 47 ? c !== 47 : (c | 0x20) !== (w | 0x20)) return false;
  }
  return true;
}

/** `HTTP/d`, `HTTPS/d` or `RTSP/d` (any case) at `i`, within `s[.., b)`. */
function isProtocolAt(s: string, i: number, b: number): boolean {
  const digitAt = (k: number) => k < b && s.charCodeAt(k) >= 48 && s.charCodeAt(k) <= 57;
  return (
    ((startsWithWord(s, i, b, 'HTTP/') || startsWithWord(s, i, b, 'RTSP/')) && digitAt(i + 5)) ||
    (startsWithWord(s, i, b, 'HTTPS/') && digitAt(i + 6))
  );
}

/**
 * `splitRequestLine(s.slice(a, b)).target` as a span, without making any string (the hot path of `scan` calls it on
 * every line): writes `[start, end)` to `out` and returns 1, returns 0 when there is no target (or an empty one),
 * and -1 where the general function must decide (surrounding or Unicode whitespace). A property test holds the two
 * equal.
 */
export function requestTargetSpan(s: string, a: number, b: number, out: Int32Array, at: number): number {
  if (b > a && (isWs(s.charCodeAt(a)) || isWs(s.charCodeAt(b - 1)))) return -1;
  if (b <= a || (b === a + 1 && s.charCodeAt(a) === 45)) return 0;
  let ta = a;
  let tb = b;
  const first = s.indexOf(' ', a);
  if (first >= 0 && first < b && first - a <= 20) {
    let method = true;
    for (let k = a; k < first; k++)
      if (!isMethodChar(s.charCodeAt(k))) {
        method = false;
        break;
      }
    if (method) {
      ta = first + 1;
      const last = s.lastIndexOf(' ', b - 1);
      if (last > first && isProtocolAt(s, last + 1, b)) tb = last;
    }
  }
  if (tb <= ta) return 0;
  out[at] = ta;
  out[at + 1] = tb;
  return 1;
}

const MONTHS: Record<string, number> = {
  Jan: 0,
  Feb: 1,
  Mar: 2,
  Apr: 3,
  May: 4,
  Jun: 5,
  Jul: 6,
  Aug: 7,
  Sep: 8,
  Oct: 9,
  Nov: 10,
  Dec: 11,
};

function iso(ms: number): string | undefined {
  return Number.isFinite(ms) ? new Date(ms).toISOString() : undefined;
}

/** Common Log Format time `10/Oct/2000:13:55:36 -0700` (HAProxy adds `.655` milliseconds) → RFC 3339 UTC. */
export function clfTime(t: string): string | undefined {
  const m =
    /^(\d{2})\/([A-Z][a-z]{2})\/(\d{4}):(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?(?: ([+-])(\d{2})(\d{2}))?$/.exec(t);
  if (!m) return undefined;
  const mon = MONTHS[m[2]!];
  if (mon === undefined) return undefined;
  const ms = m[7] ? Number(m[7].padEnd(3, '0').slice(0, 3)) : 0;
  let utc = Date.UTC(Number(m[3]), mon, Number(m[1]), Number(m[4]), Number(m[5]), Number(m[6]), ms);
  if (m[8]) utc -= (m[8] === '-' ? -1 : 1) * (Number(m[9]) * 60 + Number(m[10])) * 60_000;
  return iso(utc);
}

/** Any date string `Date.parse` understands (ISO 8601 with or without zone), normalised to UTC. */
export function isoTime(t: string | undefined): string | undefined {
  if (!t) return undefined;
  // eve.json writes `+0000`; Date.parse wants `+00:00`.
  const fixed = t.replace(/([+-]\d{2})(\d{2})$/, '$1:$2');
  return iso(Date.parse(fixed));
}

/** Seconds (or milliseconds when `ms`) since the epoch, as numbers or strings. */
export function epochTime(v: unknown, ms = false): string | undefined {
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^\d+(?:\.\d+)?$/.test(v) ? Number(v) : Number.NaN;
  return iso(ms ? n : n * 1000);
}

/** W3C extended log `date time` (UTC by definition). */
export function w3cTime(date: string | undefined, time: string | undefined): string | undefined {
  if (!date || !time) return undefined;
  return iso(Date.parse(`${date}T${time}Z`));
}

/**
 * Split a line into space-separated fields where `"…"` (with `\"` escapes) and `[…]` are single fields.
 * Quotes and brackets are removed; escapes are left for the rule to decode (they are evidence).
 */
export function splitQuoted(line: string): string[] {
  const out: string[] = [];
  const n = line.length;
  let i = 0;
  while (i < n) {
    while (i < n && line.charCodeAt(i) === 32) i++;
    if (i >= n) break;
    const c = line[i];
    if (c === '"') {
      let j = i + 1;
      while (j < n && line[j] !== '"') j += line[j] === '\\' ? 2 : 1;
      out.push(line.slice(i + 1, Math.min(j, n)));
      i = j + 1;
    } else if (c === '[') {
      const j = line.indexOf(']', i + 1);
      const end = j < 0 ? n : j;
      out.push(line.slice(i + 1, end));
      i = end + 1;
    } else {
      let j = line.indexOf(' ', i);
      if (j < 0) j = n;
      out.push(line.slice(i, j));
      i = j;
    }
  }
  return out;
}

/** Split an absolute-form target `http://host:port/path?q` into the authority and the origin-form rest. */
export function splitAbsolute(target: string): { authority?: string | undefined; rest: string } {
  const m = /^[a-z][a-z0-9+.-]*:\/\/([^/?#]*)(.*)$/i.exec(target);
  if (!m) return { rest: target };
  return { authority: m[1], rest: m[2] || '/' };
}

/** A dotted path's ways of splitting into a key and the rest, longest key first (computed once per path). */
const SPLITS = new Map<string, ReadonlyArray<readonly [string, string]>>();
function splitsOf(path: string): ReadonlyArray<readonly [string, string]> {
  let s = SPLITS.get(path);
  if (!s) {
    const list: Array<readonly [string, string]> = [];
    for (let i = path.lastIndexOf('.'); i > 0; i = path.lastIndexOf('.', i - 1))
      list.push([path.slice(0, i), path.slice(i + 1)]);
    s = list;
    // Paths come from the code and from --field flags: a handful, but bounded all the same.
    if (SPLITS.size < 4096) SPLITS.set(path, s);
  }
  return s;
}

/** Read a dotted path (`httpRequest.uri`) from a parsed JSON object; keys that contain dots are tried whole first. */
export function getPath(obj: unknown, path: string): unknown {
  if (obj === null || typeof obj !== 'object') return undefined;
  const o = obj as Record<string, unknown>;
  if (path in o) return o[path];
  if (path.lastIndexOf('.') <= 0) return undefined;
  // Longest prefix that is a key, so `id.orig_h`-style keys work inside nested objects too.
  const splits = splitsOf(path);
  for (let i = 0; i < splits.length; i++) {
    const [head, rest] = splits[i]!;
    if (head in o) return getPath(o[head], rest);
  }
  return undefined;
}

/** A JSON scalar as text, or undefined. */
export function str(v: unknown): string | undefined {
  if (typeof v === 'string') return v === '' || v === '-' ? undefined : v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return undefined;
}

/** Parse a line as a JSON object, or undefined (never throws). */
export function parseJsonObject(line: string): Record<string, unknown> | undefined {
  const s = line.trimStart();
  if (!s.startsWith('{')) return undefined;
  try {
    const v: unknown = JSON.parse(s);
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
