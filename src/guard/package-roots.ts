/**
 * Where the application's packages are installed. A frame in `…/node_modules/@smithy/credential-provider-imds/…`
 * names the AWS SDK only by its path: any directory called node_modules anywhere (`/tmp/x/node_modules/…`,
 * written by code that can write files but not into the application) would do. So a package counts as a caller
 * only when its file is inside one of the node_modules directories Node searches for the application's own bare
 * imports: from the directory of the entry script (or the working directory when there is none, as with
 * `node -e`) and from the guard's own directory (the application installed it), upwards, plus Node's global
 * folders (`NODE_PATH`, `~/.node_modules`). Nested copies (`node_modules/a/node_modules/b`) and pnpm's store
 * (`node_modules/.pnpm/…`) lie inside those. Computed once, when the guard is installed; real paths, because
 * Node names module files by their real path.
 */
import { realpathSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

function real(path: string): string | null {
  try {
    return realpathSync(path);
  } catch {
    return null;
  }
}

/** The node_modules directories a bare import from a file in `dir` is looked up in, in Node's order. */
function lookupPaths(dir: string): readonly string[] {
  return createRequire(join(dir, 'imdsguard-package-roots.js')).resolve.paths('imdsguard-package-roots') ?? [];
}

/**
 * The real paths of the node_modules directories that exist on the lookup paths of the entry script (or of the
 * working directory) and of `ownDir`.
 */
export function applicationPackageRoots(entry: string | undefined, ownDir: string): string[] {
  const entryDir = entry ? dirname(real(entry) ?? entry) : process.cwd();
  const roots = new Set<string>();
  for (const dir of [entryDir, ownDir]) {
    for (const p of lookupPaths(dir)) {
      const r = real(p);
      if (r) roots.add(r);
    }
  }
  return [...roots];
}
