/** Policy text (YAML) → a compiled Policy, with line/column on every error. */
import { parseYamlConfig } from '../config/yaml-config.ts';
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
  const { value: raw, at } = parseYamlConfig(text, file, policySchema, 'policy');
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
