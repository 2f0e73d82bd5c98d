import { readFile, readlink } from 'node:fs/promises';
import { type ContainerIdentity, parseCgroup } from '../../../core/parse/host-cgroup.ts';

/** What /proc says about a live process. Every field is optional: the process may be gone or unreadable. */
export interface ProcSnapshot {
  pid: number;
  exe?: string;
  argv?: string[];
  ppid?: number;
  uid?: number;
  netns?: number;
  container?: ContainerIdentity;
  comm?: string;
}

async function maybe<T>(p: Promise<T>): Promise<T | undefined> {
  try {
    return await p;
  } catch {
    return undefined;
  }
}

/** Read the netns inode number from a `net:[4026531840]` link. */
export function nsInode(link: string | undefined): number | undefined {
  const m = link ? /\[(\d+)\]/.exec(link) : null;
  return m?.[1] ? Number(m[1]) : undefined;
}

/** Read /proc/<pid> (exe, cmdline, status, netns, cgroup). `root` lets tests point at a fixture tree. */
export async function readProc(pid: number, root = '/proc'): Promise<ProcSnapshot> {
  const base = `${root}/${pid}`;
  const [exe, cmdline, status, ns, cgroup] = await Promise.all([
    maybe(readlink(`${base}/exe`)),
    maybe(readFile(`${base}/cmdline`, 'latin1')),
    maybe(readFile(`${base}/status`, 'utf8')),
    maybe(readlink(`${base}/ns/net`)),
    maybe(readFile(`${base}/cgroup`, 'utf8')),
  ]);
  const out: ProcSnapshot = { pid };
  if (exe) out.exe = exe;
  if (cmdline) out.argv = cmdline.split('\0').filter((_, i, a) => i < a.length - 1 || a[i] !== '');
  if (status) {
    const ppid = /^PPid:\s*(\d+)/m.exec(status)?.[1];
    const uid = /^Uid:\s*(\d+)/m.exec(status)?.[1];
    const name = /^Name:\s*(.*)$/m.exec(status)?.[1];
    if (ppid) out.ppid = Number(ppid);
    if (uid) out.uid = Number(uid);
    if (name) out.comm = name;
  }
  const inode = nsInode(ns);
  if (inode !== undefined) out.netns = inode;
  const c = cgroup ? parseCgroup(cgroup) : undefined;
  if (c) out.container = c;
  return out;
}

/** uid → user name from /etc/passwd, re-read when an unknown uid shows up (users get added), at most every 10 s. */
export class UserNames {
  private names = new Map<number, string>();
  private loadedAt = 0;
  private readonly path: string;
  constructor(path = '/etc/passwd') {
    this.path = path;
  }

  async name(uid: number | undefined): Promise<string | undefined> {
    if (uid === undefined) return undefined;
    const hit = this.names.get(uid);
    if (hit !== undefined) return hit;
    if (Date.now() - this.loadedAt > 10_000) await this.load();
    return this.names.get(uid);
  }

  private async load(): Promise<void> {
    this.loadedAt = Date.now();
    const text = await maybe(readFile(this.path, 'utf8'));
    if (!text) return;
    const m = new Map<number, string>();
    for (const line of text.split('\n')) {
      const f = line.split(':');
      if (f.length >= 3 && f[0] && /^\d+$/.test(f[2] ?? '')) m.set(Number(f[2]), f[0]);
    }
    this.names = m;
  }
}
