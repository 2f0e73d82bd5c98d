/**
 * Exported Falco rules checked against Falco's rules-file schema and documented fields and operators (Falco is not
 * installable here): item kinds and required keys, priorities, condition syntax, defined lists and macros, and
 * every field in conditions and outputs.
 */
import assert from 'node:assert/strict';
import { isIP } from 'node:net';
import { describe, test } from 'node:test';
import { parse } from 'yaml';
import { exportFalco } from '../../src/core/export/falco.ts';

/** Falco's priorities (case-insensitive in rules files). */
const PRIORITIES = ['EMERGENCY', 'ALERT', 'CRITICAL', 'ERROR', 'WARNING', 'NOTICE', 'INFORMATIONAL', 'INFO', 'DEBUG'];
/** Fields the rules may use, from Falco's supported-fields reference (syscall event source). */
const FIELDS = new Set([
  'evt.type',
  'evt.dir',
  'evt.rawres',
  'evt.res',
  'evt.time',
  'fd.typechar',
  'fd.sip',
  'fd.sport',
  'fd.cip',
  'fd.cport',
  'fd.name',
  'fd.snet',
  'fd.l4proto',
  'proc.name',
  'proc.exepath',
  'proc.exe',
  'proc.cmdline',
  'proc.pid',
  'proc.ppid',
  'proc.pname',
  'user.name',
  'user.uid',
  'container.id',
  'container.name',
  'container.image.repository',
  'k8s.ns.name',
  'k8s.pod.name',
]);
const OPERATORS = new Set([
  '=',
  '!=',
  '<',
  '<=',
  '>',
  '>=',
  'in',
  'intersects',
  'pmatch',
  'contains',
  'icontains',
  'startswith',
  'endswith',
  'glob',
  'exists',
]);
const KEYWORDS = new Set(['and', 'or', 'not']);

interface Item {
  rule?: string;
  macro?: string;
  list?: string;
  [k: string]: unknown;
}

/** Problems in one condition: unbalanced parentheses, unknown fields, undefined macros or lists. */
function checkCondition(cond: string, macros: Set<string>, lists: Set<string>): string[] {
  const p: string[] = [];
  let depth = 0;
  for (const ch of cond.replace(/"[^"]*"/g, '')) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (depth < 0) p.push('unbalanced )');
  }
  if (depth !== 0) p.push('unbalanced (');
  const stripped = cond.replace(/"[^"]*"/g, '""');
  // Lists appear inside `in (...)`; everything else that is a bare word is a field, macro, operator or value.
  for (const m of stripped.matchAll(/\bin\s*\(([^)]*)\)/g)) {
    for (const x of m[1]!.split(',').map((s) => s.trim())) {
      if (/^[a-z_][a-z0-9_]*$/.test(x) && !lists.has(x)) p.push(`list ${x} is not defined`);
    }
  }
  for (const m of stripped.matchAll(/[A-Za-z_][A-Za-z0-9_.]*/g)) {
    const w = m[0];
    if (KEYWORDS.has(w) || OPERATORS.has(w)) continue;
    if (w.includes('.')) {
      if (!FIELDS.has(w)) p.push(`field ${w} is not a documented field`);
    } else if (/^[a-z]+_[a-z0-9_]+$/.test(w)) {
      if (!macros.has(w) && !lists.has(w)) p.push(`${w} is neither a macro nor a list`);
    }
  }
  for (const m of stripped.matchAll(/\b([a-z]+\.[a-z0-9_.]+)\s*([!<>=]+|[a-z]+)/g)) {
    if (!OPERATORS.has(m[2]!) && !KEYWORDS.has(m[2]!)) p.push(`operator ${m[2]} after ${m[1]}`);
  }
  return p;
}

describe('Falco export', () => {
  const file = exportFalco({ version: 'test' }).files[0]!;
  const items = parse(file.content) as Item[];

  test('the header says it was not loaded into Falco and what Falco cannot express', () => {
    assert.match(file.content, /^# imdsguard .*\n# Not loaded into Falco here/);
    assert.match(file.content, /cannot express/);
  });

  test('every item is a rule, macro or list with the keys Falco requires', () => {
    assert.ok(Array.isArray(items));
    for (const it of items) {
      const kinds = ['rule', 'macro', 'list'].filter((k) => k in it);
      assert.equal(kinds.length, 1, JSON.stringify(it));
      if (it.list) assert.ok(Array.isArray(it.items), it.list);
      if (it.macro) assert.equal(typeof it.condition, 'string');
      if (it.rule) {
        for (const k of ['desc', 'condition', 'output', 'priority'])
          assert.equal(typeof it[k], 'string', `${it.rule}: ${k}`);
        assert.ok(PRIORITIES.includes(String(it.priority).toUpperCase()), String(it.priority));
        assert.ok(Array.isArray(it.tags) && (it.tags as string[]).includes('T1552.005'));
      }
    }
  });

  test('conditions parse, use documented fields and operators, and refer only to defined macros and lists', () => {
    const macros = new Set(items.filter((i) => i.macro).map((i) => i.macro!));
    const lists = new Set(items.filter((i) => i.list).map((i) => i.list!));
    for (const it of items) {
      if (typeof it.condition !== 'string') continue;
      assert.deepEqual(checkCondition(it.condition, macros, lists), [], `${it.rule ?? it.macro}: ${it.condition}`);
    }
    // The checker catches what it should.
    assert.notDeepEqual(checkCondition('fd.sipp in (x_y)', macros, lists), []);
    assert.notDeepEqual(checkCondition('(evt.type = connect', macros, lists), []);
    assert.notDeepEqual(checkCondition('undefined_macro and evt.type = connect', macros, lists), []);
  });

  test('outputs name only documented fields; the address list holds every catalogue address', () => {
    for (const it of items.filter((i) => i.rule)) {
      for (const m of String(it.output).matchAll(/%([a-z0-9_.]+)/g)) assert.ok(FIELDS.has(m[1]!), m[1]);
    }
    const addrs = items.find((i) => i.list === 'imdsguard_metadata_addresses')!.items as string[];
    assert.ok(addrs.includes('169.254.169.254') && addrs.includes('fd00:ec2::254') && addrs.includes('169.254.170.2'));
    for (const a of addrs) assert.ok(isIP(a) !== 0, a);
  });
});
