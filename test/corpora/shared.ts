import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** ../shared beside the project root (CI has it; a user's clone may not). */
export const SHARED = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'shared');
export const CORPORA = join(SHARED, 'corpora');

/** Skip reason when the public corpora are absent, or false when present. */
export function corporaSkip(sub: string): string | false {
  return existsSync(join(CORPORA, sub))
    ? false
    : `public corpus ${sub} not found at ${join(CORPORA, sub)} (it ships beside the project in CI as ../shared)`;
}
