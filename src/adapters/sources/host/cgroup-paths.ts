import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * cgroup v2 id → cgroup path. bpftrace's `cgroup` builtin is the inode number of the process's cgroup directory on
 * the unified hierarchy, which stays resolvable after a short-lived process is gone (the container outlives it).
 * The tree is walked on a miss, at most once a second, and bounded in depth and size.
 */
export class CgroupPaths {
  private byId = new Map<number, string>();
  private walkedAt = 0;
  private root: string | undefined | null = null;

  private readonly candidates: string[];
  constructor(candidates = ['/sys/fs/cgroup/unified', '/sys/fs/cgroup']) {
    this.candidates = candidates;
  }

  private async findRoot(): Promise<string | undefined> {
    if (this.root !== null) return this.root;
    for (const c of this.candidates) {
      try {
        // The unified hierarchy has cgroup.controllers at its root; a v1 tmpfs does not.
        await stat(join(c, 'cgroup.controllers'));
        this.root = c;
        return c;
      } catch {}
    }
    this.root = undefined;
    return undefined;
  }

  async path(id: number | undefined): Promise<string | undefined> {
    if (id === undefined || id <= 1) return undefined;
    const hit = this.byId.get(id);
    if (hit !== undefined) return hit;
    if (Date.now() - this.walkedAt < 1000) return undefined;
    this.walkedAt = Date.now();
    const root = await this.findRoot();
    if (!root) return undefined;
    const next = new Map<number, string>();
    const walk = async (dir: string, rel: string, depth: number): Promise<void> => {
      if (depth > 8 || next.size > 50_000) return;
      let entries: import('node:fs').Dirent[];
      try {
        entries = await readdir(dir, { withFileTypes: true });
      } catch {
        return;
      }
      for (const e of entries) {
        if (!e.isDirectory()) continue;
        const full = join(dir, e.name);
        const r = `${rel}/${e.name}`;
        try {
          next.set(Number((await stat(full)).ino), r);
        } catch {}
        await walk(full, r, depth + 1);
      }
    };
    await walk(root, '', 0);
    this.byId = next;
    return next.get(id);
  }
}
