/** Operator-written YAML (policy, allowlist, hub config) → a value checked by its schema, every error placed. */
import { isMap, isScalar, LineCounter, parseDocument } from 'yaml';
import type { z } from 'zod';
import { InputSyntaxError } from '../errors.ts';

export type YamlPlace = { line?: number; column?: number };

export interface YamlConfig<T> {
  value: T;
  /** Where a path of the document starts; a missing key points at the deepest node that exists (its parent). */
  at(path: ReadonlyArray<PropertyKey>): YamlPlace;
}

/**
 * Parse `text` as YAML (duplicate keys refused, aliases bounded) and validate it with `schema`. Throws
 * InputSyntaxError naming file, line and column: `Invalid YAML: …` for syntax, `Invalid <what> at "<key>": …` for the
 * first schema issue. An empty document reads as `empty`.
 * @example parseYamlConfig('a: 1\n', 'x.yaml', z.object({ a: z.number() }), 'example').value.a // 1
 */
export function parseYamlConfig<S extends z.ZodType>(
  text: string,
  file: string,
  schema: S,
  what: string,
  empty: unknown = {},
): YamlConfig<z.output<S>> {
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
  const at = (path: ReadonlyArray<PropertyKey>): YamlPlace => {
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
  /** Where the key `name` of the mapping at `path` is written. */
  const keyPlace = (path: ReadonlyArray<PropertyKey>, name: string | undefined): YamlPlace | undefined => {
    const holder = path.length === 0 ? doc.contents : doc.getIn(path as Array<string | number>, true);
    if (name === undefined || !isMap(holder)) return undefined;
    const pair = holder.items.find((p) => isScalar(p.key) && String(p.key.value) === name);
    const range = isScalar(pair?.key) ? pair.key.range : undefined;
    if (!range) return undefined;
    const pos = lc.linePos(range[0]);
    return { line: pos.line, column: pos.col };
  };
  let js: unknown;
  try {
    js = doc.toJS({ maxAliasCount: 100 });
  } catch (e) {
    // The yaml library's alias bound (a "billion laughs" document) throws a bare error naming no file.
    throw new InputSyntaxError(`Invalid YAML: ${(e as Error).message}`, { file });
  }
  const parsed = schema.safeParse(js ?? empty);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const key = issue.path.join('.');
    // An unknown key is reported where it is written, not at the object holding it (1:1 for a top-level key).
    const unknown = issue.code === 'unrecognized_keys' ? keyPlace(issue.path, issue.keys[0]) : undefined;
    throw new InputSyntaxError(`Invalid ${what}${key ? ` at "${key}"` : ''}: ${issue.message}`, {
      file,
      ...(unknown ?? at(issue.path)),
    });
  }
  return { value: parsed.data, at };
}
