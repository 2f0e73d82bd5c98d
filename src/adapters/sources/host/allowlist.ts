import { readFile } from 'node:fs/promises';
import { LineCounter, parseDocument } from 'yaml';
import { z } from 'zod';
import { ImdsguardError, InputSyntaxError } from '../../../core/errors.ts';
import { PATH_CLASSES } from '../../../core/model/hit.ts';
import type { CallerPattern } from '../../../core/rules/imds-expected-callers.ts';

/**
 * The user allowlist: callers that may read metadata on this host, beyond the built-in cloud agents.
 *   callers:
 *     - name: nightly backup
 *       exe: /usr/local/bin/backup      # a path, a glob (* within a segment, ** across), or a bare name
 *       user: backup                    # optional
 *       container: host                 # optional: `host`, or a container id / cgroup substring
 *       path_classes: [credentials]     # optional
 */
const Entry = z
  .object({
    name: z.string().min(1).max(200),
    exe: z.string().min(1).max(500).optional(),
    user: z.string().min(1).max(64).optional(),
    container: z.string().min(1).max(300).optional(),
    path_classes: z.array(z.enum(PATH_CLASSES)).optional(),
  })
  .strict()
  .refine((e) => e.exe || e.user || e.container, { message: 'an entry needs at least one of exe, user, container' });
const File = z.object({ callers: z.array(Entry).max(10_000) }).strict();

/** A glob over paths: `*` stays within a segment, `**` crosses them; a bare name matches that base name anywhere. */
export function globToRegExp(glob: string): RegExp {
  const esc = glob
    .split('**')
    .map((part) => part.replace(/[.+^${}()|[\]\\?]/g, '\\$&').replace(/\*/g, '[^/]*'))
    .join('.*');
  return glob.includes('/') ? new RegExp(`^${esc}$`) : new RegExp(`(?:^|/)${esc}$`);
}

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
    ...(c.exe ? { exe: globToRegExp(c.exe) } : {}),
    ...(c.user ? { user: c.user } : {}),
    ...(c.container ? { container: c.container } : {}),
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
