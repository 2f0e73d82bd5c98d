/**
 * A temporary directory with no world-writable directory above it. The guard does not count packages installed
 * under one (os.tmpdir() is: anyone may create `/tmp/node_modules`), so tests whose fake packages must count as
 * installed put them here, in `.test-tmp/` of this checkout (outside its node_modules, which is the application's).
 */
import { mkdirSync, mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export function privateTempDir(prefix: string): string {
  const base = fileURLToPath(new URL('../../.test-tmp/', import.meta.url));
  mkdirSync(base, { recursive: true, mode: 0o755 });
  return mkdtempSync(join(base, prefix));
}
