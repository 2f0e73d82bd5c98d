import { mkdirSync, rmdirSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

/**
 * `mkdir -p`, one directory at a time, returning the directories it created (outermost first), so a run that fails
 * can remove exactly those. Node's own `mkdir(…, { recursive: true })` is not used: where the parent exists but
 * refuses new entries with ENOENT (`/proc`, `/sys`), libuv's recursive mkdir retries the parent forever, spinning a
 * core instead of failing.
 */
export function makeDirsSync(path: string, mode = 0o777): string[] {
  const missing: string[] = [];
  for (let p = resolve(path); ; p = dirname(p)) {
    const st = statIfAny(p);
    if (st) {
      if (!st.isDirectory())
        throw Object.assign(new Error(`ENOTDIR: not a directory, mkdir '${p}'`), { code: 'ENOTDIR', path: p });
      break;
    }
    missing.unshift(p);
    if (dirname(p) === p) break;
  }
  const made: string[] = [];
  try {
    for (const p of missing) {
      try {
        mkdirSync(p, { mode });
        made.push(p);
      } catch (e) {
        // Made by someone else meanwhile: fine if it is a directory.
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST' || !statIfAny(p)?.isDirectory()) throw e;
      }
    }
  } catch (e) {
    removeMadeDirs(made);
    throw e;
  }
  return made;
}

/** The async form of makeDirsSync (the work is a few syscalls; it runs synchronously). */
export async function makeDirs(path: string, mode = 0o777): Promise<string[]> {
  return makeDirsSync(path, mode);
}

/** Remove directories makeDirs created, innermost first, each only if it is still empty. */
export function removeMadeDirs(made: readonly string[]): void {
  for (const p of [...made].reverse()) {
    try {
      rmdirSync(p);
    } catch {
      // Not empty (something else was put there) or already gone: leave it.
    }
  }
}

function statIfAny(p: string): ReturnType<typeof statSync> | undefined {
  try {
    return statSync(p);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    throw e;
  }
}
