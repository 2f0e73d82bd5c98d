import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { compileCallerMatch, namesCaller } from '../../../core/caller/match.ts';
import { callerMatchFields } from '../../../core/caller/schema.ts';
import { parseYamlConfig } from '../../../core/config/yaml-config.ts';
import { ImdsguardError } from '../../../core/errors.ts';
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
  const { value } = parseYamlConfig(text, file, File, 'allowlist', { callers: [] });
  return value.callers.map((c) => ({
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
