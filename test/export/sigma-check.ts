/**
 * What the tests know of Sigma without a Sigma engine: the specification's required keys and value sets, its
 * modifiers, its condition grammar (identifiers, and/or/not, parentheses, `1 of`/`all of` with wildcards), the
 * taxonomy field names of the log sources we use, and a small evaluator for the subset of the language our rules
 * use, so that the rules can be run over real records. Sources: the Sigma specification (rules, modifiers,
 * taxonomy appendix) and the pySigma field mappings for webserver, proxy and network_connection.
 */

export const STATUSES = ['stable', 'test', 'experimental', 'deprecated', 'unsupported'];
export const LEVELS = ['informational', 'low', 'medium', 'high', 'critical'];
export const MODIFIERS = new Set([
  'contains',
  'all',
  'base64',
  'base64offset',
  'endswith',
  'startswith',
  'utf16le',
  'utf16be',
  'wide',
  'utf16',
  'windash',
  're',
  'i',
  'm',
  's',
  'cidr',
  'expand',
  'exists',
  'gt',
  'gte',
  'lt',
  'lte',
  'fieldref',
  'cased',
]);
export const RE_SUBMODIFIERS = new Set(['i', 'm', 's']);
export const ATTACK_TACTICS = new Set([
  'reconnaissance',
  'resource-development',
  'initial-access',
  'execution',
  'persistence',
  'privilege-escalation',
  'defense-evasion',
  'credential-access',
  'discovery',
  'lateral-movement',
  'collection',
  'command-and-control',
  'exfiltration',
  'impact',
]);
/** Taxonomy field names per log source category (Sigma taxonomy appendix). */
export const TAXONOMY: Record<string, Set<string>> = {
  webserver: new Set([
    'date',
    'time',
    'c-ip',
    'c-port',
    's-ip',
    's-port',
    'cs-username',
    'cs-method',
    'cs-uri-stem',
    'cs-uri-query',
    'cs-version',
    'cs-host',
    'cs-referer',
    'cs-user-agent',
    'cs-cookie',
    'sc-status',
    'sc-substatus',
    'sc-bytes',
    'cs-bytes',
    'time-taken',
  ]),
  proxy: new Set([
    'c-uri',
    'c-uri-extension',
    'c-uri-query',
    'c-uri-scheme',
    'c-uri-stem',
    'c-useragent',
    'cs-bytes',
    'cs-cookie',
    'cs-host',
    'cs-method',
    'r-dns',
    'cs-referrer',
    'cs-version',
    'sc-bytes',
    'sc-status',
    'src_ip',
    'dst_ip',
  ]),
  network_connection: new Set([
    'Image',
    'DestinationIp',
    'DestinationPort',
    'DestinationHostname',
    'DestinationIsIpv6',
    'Initiated',
    'SourceIp',
    'SourcePort',
    'SourceHostname',
    'User',
    'Protocol',
    'ProcessId',
    'CommandLine',
    'ParentImage',
  ]),
};

export interface Rule {
  title: string;
  id: string;
  status: string;
  description: string;
  author: string;
  date: string;
  tags: string[];
  logsource: Record<string, string>;
  detection: Record<string, unknown>;
  level: string;
  falsepositives?: string[];
  references?: string[];
}

/** Problems with a rule, empty when it follows the specification. */
export function checkRule(r: Rule): string[] {
  const p: string[] = [];
  if (typeof r.title !== 'string' || r.title.length === 0 || r.title.length > 256) p.push('title');
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(r.id)) p.push(`id ${r.id}`);
  if (!STATUSES.includes(r.status)) p.push(`status ${r.status}`);
  if (!LEVELS.includes(r.level)) p.push(`level ${r.level}`);
  if (!/^\d{4}-\d{2}-\d{2}$/.test(String(r.date))) p.push(`date ${r.date}`);
  if (typeof r.description !== 'string' || r.description.length > 65535) p.push('description');
  for (const t of r.tags ?? []) {
    if (!/^[a-z0-9_-]+\.[a-z0-9._-]+$/.test(t)) p.push(`tag format ${t}`);
    else if (t.startsWith('attack.')) {
      const v = t.slice('attack.'.length);
      if (!ATTACK_TACTICS.has(v) && !/^t\d{4}(?:\.\d{3})?$/.test(v) && !/^[gs]\d{4}$/.test(v))
        p.push(`attack tag ${t}`);
    }
  }
  const ls = r.logsource ?? {};
  if (!ls.category && !ls.product && !ls.service) p.push('logsource');
  const det = r.detection ?? {};
  if (typeof det.condition !== 'string') p.push('condition');
  const ids = Object.keys(det).filter((k) => k !== 'condition' && k !== 'timeframe');
  for (const id of ids) {
    const sel = det[id];
    const maps = Array.isArray(sel) ? sel : [sel];
    for (const m of maps) {
      if (!m || typeof m !== 'object') {
        p.push(`selection ${id} is not a map`);
        continue;
      }
      for (const [key, value] of Object.entries(m as Record<string, unknown>)) {
        const [field, ...mods] = key.split('|');
        if (!field) p.push(`empty field in ${id}`);
        for (const [i, mod] of mods.entries()) {
          if (!MODIFIERS.has(mod)) p.push(`modifier ${mod}`);
          if (RE_SUBMODIFIERS.has(mod) && mods[i - 1] !== 're' && !RE_SUBMODIFIERS.has(mods[i - 1] ?? ''))
            p.push(`${mod} must follow re`);
        }
        const category = ls.category;
        if (category && TAXONOMY[category] && !TAXONOMY[category]!.has(field!))
          p.push(`field ${field} not in the ${category} taxonomy`);
        if (mods.includes('re')) {
          for (const v of Array.isArray(value) ? value : [value]) {
            try {
              new RegExp(String(v), mods.includes('i') ? 'i' : '');
            } catch (e) {
              p.push(`regex in ${key}: ${(e as Error).message}`);
            }
          }
        }
      }
    }
  }
  try {
    const names = parseCondition(String(det.condition ?? ''), ids);
    for (const n of names) if (!ids.includes(n)) p.push(`condition names unknown ${n}`);
  } catch (e) {
    p.push(`condition: ${(e as Error).message}`);
  }
  return p;
}

// ---- condition grammar: expr := term (('and'|'or') term)* ; term := 'not' term | '(' expr ')' | quant | ident
type Node =
  | { k: 'id'; name: string }
  | { k: 'not'; a: Node }
  | { k: 'and' | 'or'; a: Node; b: Node }
  | { k: 'of'; all: boolean; pattern: string };

function tokens(s: string): string[] {
  return s.match(/\(|\)|[A-Za-z0-9_*]+/g) ?? [];
}

function parse(s: string): Node {
  const t = tokens(s);
  let i = 0;
  const term = (): Node => {
    const x = t[i++];
    if (x === undefined) throw new Error('unexpected end');
    if (x === 'not') return { k: 'not', a: term() };
    if (x === '(') {
      const e = expr();
      if (t[i++] !== ')') throw new Error('missing )');
      return e;
    }
    if (x === '1' || x === 'all') {
      if (t[i++] !== 'of') throw new Error(`expected "of" after ${x}`);
      const pattern = t[i++];
      if (!pattern) throw new Error('missing pattern after of');
      return { k: 'of', all: x === 'all', pattern };
    }
    if (['and', 'or', ')'].includes(x)) throw new Error(`unexpected ${x}`);
    return { k: 'id', name: x };
  };
  const expr = (): Node => {
    let left = term();
    while (t[i] === 'and' || t[i] === 'or') {
      const op = t[i++] as 'and' | 'or';
      left = { k: op, a: left, b: term() };
    }
    return left;
  };
  const e = expr();
  if (i !== t.length) throw new Error(`trailing ${t.slice(i).join(' ')}`);
  return e;
}

function expand(pattern: string, ids: string[]): string[] {
  if (pattern === 'them') return ids;
  const re = new RegExp(`^${pattern.replace(/\*/g, '.*')}$`);
  return ids.filter((x) => re.test(x));
}

/** The identifiers a condition refers to (wildcards expanded); throws on a syntax error or an empty wildcard. */
export function parseCondition(cond: string, ids: string[]): string[] {
  const out: string[] = [];
  const walk = (n: Node): void => {
    if (n.k === 'id') out.push(n.name);
    else if (n.k === 'not') walk(n.a);
    else if (n.k === 'of') {
      const m = expand(n.pattern, ids);
      if (m.length === 0) throw new Error(`"${n.pattern}" matches no selection`);
      out.push(...m);
    } else {
      walk(n.a);
      walk(n.b);
    }
  };
  walk(parse(cond));
  return out;
}

// ---- evaluation over one record (field paths with dots; values compared as Sigma does: case-insensitive strings)
function get(rec: Record<string, unknown>, path: string): unknown {
  if (path in rec) return rec[path];
  let cur: unknown = rec;
  for (const part of path.split('.')) {
    if (!cur || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}

const compiled = new Map<string, RegExp>();

function matchValue(actual: unknown, expected: unknown, mods: string[]): boolean {
  if (actual === undefined || actual === null) return false;
  const a = String(actual);
  const e = String(expected);
  if (mods.includes('re')) {
    const flags = mods.includes('i') ? 'i' : '';
    let re = compiled.get(flags + e);
    if (!re) {
      re = new RegExp(e, flags);
      compiled.set(flags + e, re);
    }
    return re.test(a);
  }
  const al = a.toLowerCase();
  const el = e.toLowerCase();
  if (mods.includes('contains')) return al.includes(el);
  if (mods.includes('startswith')) return al.startsWith(el);
  if (mods.includes('endswith')) return al.endsWith(el);
  return al === el;
}

function matchSelection(sel: unknown, rec: Record<string, unknown>): boolean {
  const maps = Array.isArray(sel) ? sel : [sel];
  return maps.some((m) =>
    Object.entries(m as Record<string, unknown>).every(([key, value]) => {
      const [field, ...mods] = key.split('|');
      const values = Array.isArray(value) ? value : [value];
      const hit = (v: unknown) => matchValue(get(rec, field!), v, mods);
      return mods.includes('all') ? values.every(hit) : values.some(hit);
    }),
  );
}

/** Does the rule fire on this record? */
export function evaluate(r: Rule, rec: Record<string, unknown>): boolean {
  const det = r.detection;
  const ids = Object.keys(det).filter((k) => k !== 'condition' && k !== 'timeframe');
  const ev = (n: Node): boolean => {
    switch (n.k) {
      case 'id':
        return matchSelection(det[n.name], rec);
      case 'not':
        return !ev(n.a);
      case 'and':
        return ev(n.a) && ev(n.b);
      case 'or':
        return ev(n.a) || ev(n.b);
      case 'of': {
        const m = expand(n.pattern, ids);
        return n.all ? m.every((x) => matchSelection(det[x], rec)) : m.some((x) => matchSelection(det[x], rec));
      }
    }
  };
  return ev(parse(String(det.condition)));
}
