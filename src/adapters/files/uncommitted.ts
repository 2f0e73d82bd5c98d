import { lstatSync, rmdirSync, unlinkSync } from 'node:fs';

/**
 * Files this process created and has not yet committed (temporary files written beside a target, outputs created
 * by this run). If the process exits first (a signal, an error, a closed stdout), each is removed — but only if the
 * name still holds the very file we created (same device and inode): a command never unlinks what it did not create.
 */
const pending = new Map<string, { dev: number; ino: number }>();
/** Every file this process created as an output, committed or not: inputs that walk into them skip them. */
const created = new Set<string>();
/** Directories this process created for its outputs: removed at exit when they are still empty. */
const dirs: string[] = [];
let hooked = false;

const idOf = (dev: number, ino: number) => `${dev}:${ino}`;

function hookExit(): void {
  if (!hooked) {
    hooked = true;
    process.once('exit', removeUncommitted);
  }
}

export function trackUncommitted(path: string, id: { dev: number; ino: number }): void {
  hookExit();
  pending.set(path, { dev: id.dev, ino: id.ino });
  created.add(idOf(id.dev, id.ino));
}

/** The file at `path` is complete (renamed into place, or kept): it is no longer removed at exit. */
export function settled(path: string): void {
  pending.delete(path);
}

/** Remove `path` if it still is the file we created; never anything else. */
export function removeIfOurs(path: string): void {
  const id = pending.get(path);
  pending.delete(path);
  if (!id) return;
  try {
    const st = lstatSync(path);
    if (st.dev === id.dev && st.ino === id.ino && st.isFile()) unlinkSync(path);
  } catch {
    // Already gone.
  }
}

/** Directories made for outputs (outermost first): if the process ends with them still empty, they go. */
export function trackMadeDirs(made: readonly string[]): void {
  hookExit();
  dirs.push(...made);
}

function removeUncommitted(): void {
  for (const p of [...pending.keys()]) removeIfOurs(p);
  for (const d of dirs.reverse()) {
    try {
      rmdirSync(d);
    } catch {
      // Not empty (outputs were written there, or something else was), or gone.
    }
  }
}

/** Whether a file (by device and inode) is an output this process created: never read it back as an input. */
export function isOwnOutput(st: { dev: number; ino: number }): boolean {
  return created.has(idOf(st.dev, st.ino));
}
