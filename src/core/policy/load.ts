/** Policy text (YAML) → a compiled Policy, with line/column on every error. */
import { LineCounter, parseDocument } from 'yaml';
import { InputSyntaxError } from '../errors.ts';
import { compileRule, durationMs } from './compile.ts';
import { policySchema } from './schema.ts';
import type { Policy } from './types.ts';

/** Policy files are operator-written and small; a cap keeps a hostile one from costing much. */
const MAX_POLICY_BYTES = 1024 * 1024;

/**
 * Parse and validate a policy. Throws InputSyntaxError naming file, line and column.
 * @example parsePolicy('rules:\n  - name: all\n    match: {}\n    action: audit\n', 'policy.yaml').rules.length // 1
 */
export function parsePolicy(text: string, file = '<policy>'): Policy {
  if (text.length > MAX_POLICY_BYTES)
    throw new InputSyntaxError(`Policy is larger than ${MAX_POLICY_BYTES} bytes`, { file });
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: true });
  const first = doc.errors[0];
  if (first) {
    const pos = lc.linePos(first.pos[0]);
    throw new InputSyntaxError(`Invalid YAML: ${first.message.split('\n')[0]}`, {
      file,
      line: pos.line,
      column: pos.col,
    });
  }
  const value: unknown = doc.toJS({ maxAliasCount: 100 }) ?? {};
  const parsed = policySchema.safeParse(value);
  const at = (path: ReadonlyArray<PropertyKey>): { line?: number; column?: number } => {
    // Walk to the deepest node that exists, so a missing key points at its parent.
    for (let n = path.length; n >= 0; n--) {
      const node = doc.getIn(path.slice(0, n) as Array<string | number>, true) as
        | { range?: [number, number, number] }
        | undefined;
      if (node && typeof node === 'object' && node.range) {
        const pos = lc.linePos(node.range[0]);
        return { line: pos.line, column: pos.col };
      }
    }
    return {};
  };
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const key = issue.path.join('.');
    throw new InputSyntaxError(`Invalid policy${key ? ` at "${key}"` : ''}: ${issue.message}`, {
      file,
      ...at(issue.path),
    });
  }
  const raw = parsed.data;
  const names = new Set<string>();
  const rules = raw.rules.map((r, i) => {
    if (names.has(r.name))
      throw new InputSyntaxError(`Duplicate rule name "${r.name}"`, { file, ...at(['rules', i, 'name']) });
    names.add(r.name);
    try {
      return compileRule(r, at(['rules', i]).line);
    } catch (e) {
      throw new InputSyntaxError(`Invalid rule "${r.name}": ${(e as Error).message}`, {
        file,
        ...at(['rules', i, 'match']),
      });
    }
  });
  const d = raw.defaults;
  return {
    defaults: {
      otherNamespaces: d.other_namespaces,
      unknownCaller: d.unknown_caller,
      targetCheck: d.target_check,
      unmatched: d.unmatched,
      imdsv2Only: d.imdsv2_only,
      rejectForwarded: d.reject_forwarded,
      ...(d.rate_limit ? { rateLimit: { requests: d.rate_limit.requests, perMs: durationMs(d.rate_limit.per) } } : {}),
    },
    rules,
    needsExeHash: raw.rules.some(
      (r) => r.match.exe_sha256 !== undefined || [r.match.exe ?? []].flat().some((e) => e.startsWith('sha256:')),
    ),
    ...(raw.listeners ? { listeners: raw.listeners } : {}),
    source: file,
  };
}
