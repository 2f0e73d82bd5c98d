import { readFile } from 'node:fs/promises';
import { LineCounter, parseDocument } from 'yaml';
import { z } from 'zod';
import { compileCallerMatch, namesCaller } from '../../../core/caller/match.ts';
import { callerMatchFields } from '../../../core/caller/schema.ts';
import { ImdsguardError, InputSyntaxError } from '../../../core/errors.ts';
import { PATH_CLASSES } from '../../../core/model/hit.ts';
import type { CallerPattern } from '../../../core/rules/imds-expected-callers.ts';

/**
 * The user allowlist: callers that may read metadata on this host, beyond the built-in cloud agents. Entries use the
 * caller-matching language shared with the proxy policy (docs/callers.md: exe, argv, user, uid, container, netns).
 *   callers:
 *     - name: nightly backup
 *       exe: /usr/local/bin/backup      # a path glob (* within a segment, ** across), or a bare name
 *       user: backup                    # optional
 *       container: false                # optional: true, false (or host), or container id / image globs
 *       path_classes: [credentials]     # optional
 */
const Entry = z
  .object({
    name: z.string().min(1).max(200),
    ...callerMatchFields,
    path_classes: z.array(z.enum(PATH_CLASSES)).optional(),
  })
  .strict()
  .refine((e) => namesCaller(e), { message: 'an entry needs at least one of exe, argv, user, uid, container, netns' });
const File = z.object({ callers: z.array(Entry).max(10_000) }).strict();

/** Parse allowlist text; errors name the file and line. */
export function parseAllowlist(text: string, file: string): CallerPattern[] {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const e = doc.errors[0];
    const pos = e?.linePos?.[0];
    throw new InputSyntaxError(`Invalid YAML: ${e?.message.split('\n')[0]}`, {
      file,
      ...(pos ? { line: pos.line, column: pos.col } : {}),
    });
  }
  const parsed = File.safeParse(doc.toJS() ?? { callers: [] });
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const path = issue?.path ?? [];
    let node: unknown = doc.getIn(path as Array<string | number>, true);
    // Point at the closest node that exists (a missing key points at its entry).
    for (let n = path.length - 1; (!node || !(node as { range?: unknown }).range) && n >= 0; n--)
      node = doc.getIn(path.slice(0, n) as Array<string | number>, true);
    const range = (node as { range?: [number, number, number] } | undefined)?.range;
    const pos = range ? lc.linePos(range[0]) : undefined;
    throw new InputSyntaxError(`Invalid allowlist at ${path.join('.') || '(root)'}: ${issue?.message}`, {
      file,
      ...(pos ? { line: pos.line, column: pos.col } : {}),
    });
  }
  return parsed.data.callers.map((c) => ({
    name: c.name,
    caller: compileCallerMatch(c),
    ...(c.path_classes ? { pathClasses: c.path_classes } : {}),
  }));
}

export async function loadAllowlist(file: string): Promise<CallerPattern[]> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    throw new ImdsguardError('E_CONFIG', `Cannot read allowlist "${file}": ${(e as Error).message}`, { cause: e });
  }
  return parseAllowlist(text, file);
}
