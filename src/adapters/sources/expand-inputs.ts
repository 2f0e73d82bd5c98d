import type { Dirent } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { join, sep } from 'node:path';
import { isTemporaryName } from '../files/output-file.ts';
import { isOwnOutput } from '../files/uncommitted.ts';
import { showAsName } from '../sinks/sanitize.ts';

/** What the user named, resolved to readable things. */
export type Input = { kind: 'stdin' } | { kind: 'file'; path: string };

export interface ExpandResult {
  inputs: Input[];
  /** Inputs that could not be resolved at all (missing, unreadable), with why. */
  errors: Array<{ input: string; message: string }>;
}

const GLOB_CHARS = /[*?[]/;

/** `*`, `?`, `[…]` within a segment and `**` across segments, as a RegExp over `/`-separated paths. */
export function globToRegExp(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*') {
      if (glob[i + 1] === '*') {
        const slash = glob[i + 2] === '/';
        re += slash ? '(?:.*/)?' : '.*';
        i += slash ? 2 : 1;
      } else re += '[^/]*';
    } else if (c === '?') re += '[^/]';
    else if (c === '[') {
      const j = glob.indexOf(']', i + 1);
      if (j < 0) re += '\\[';
      else {
        re += `[${glob
          .slice(i + 1, j)
          .replace(/^!/, '^')
          .replace(/\\/g, '\\\\')}]`;
        i = j;
      }
    } else re += c.replace(/[.+^${}()|\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

export interface WalkOptions {
  /** Files kept (all by default). */
  keep?: (name: string) => boolean;
  /** Directories not entered. */
  skipDir?: (name: string) => boolean;
  /** A directory that cannot be listed; without it, the walk throws. */
  onUnreadable?: (dir: string, err: NodeJS.ErrnoException) => void;
}

/** Why a directory could not be listed, as said to the user. */
export function unreadableDirectory(dir: string, err: NodeJS.ErrnoException): string {
  return `${dir}: cannot read directory (${err.code ?? err.message}); its files are not read`;
}

/**
 * Files under `dir`, sorted, recursively. Symlinks are followed (to files and to directories); a directory reached
 * again through a link (a loop, or the same tree twice) is walked once. Devices, FIFOs and sockets inside a directory
 * are not read (a FIFO would block the walk); outputs this run is writing, and their temporary files, are skipped.
 */
export async function walkFiles(
  dir: string,
  out: string[],
  opts: WalkOptions = {},
  seen = new Set<string>(),
  /** Each entry stepped over, with why (said on stderr by default: nothing is skipped silently). */
  onSkip: (path: string, why: string) => void = reportSkip,
): Promise<void> {
  const top = await stat(dir);
  const key = `${top.dev}:${top.ino}`;
  if (seen.has(key)) {
    onSkip(dir, 'a directory already walked (a link back to it, or a second name for it)');
    return;
  }
  seen.add(key);
  let entries: Dirent[];
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (e) {
    // One directory that cannot be listed (EACCES) costs its own files only: the walk goes on with its siblings.
    if (!opts.onUnreadable) throw e;
    opts.onUnreadable(dir, e as NodeJS.ErrnoException);
    return;
  }
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const e of entries) {
    if (isTemporaryName(e.name)) continue;
    showAsName(e.name);
    const p = join(dir, e.name);
    let isDir = e.isDirectory();
    let isFile = e.isFile();
    if (e.isSymbolicLink() || isFile) {
      const st = await stat(p).catch((err: NodeJS.ErrnoException) => {
        onSkip(p, err.code === 'ENOENT' ? 'a dangling link' : `cannot read (${err.code ?? err.message})`);
        return undefined;
      });
      if (!st || isOwnOutput(st)) continue;
      isDir = st.isDirectory();
      isFile = st.isFile();
    }
    if (isDir) {
      if (!opts.skipDir?.(e.name)) await walkFiles(p, out, opts, seen, onSkip);
    } else if (isFile) {
      if (opts.keep?.(e.name) ?? true) out.push(p);
    } else
      onSkip(p, 'a FIFO, device or socket inside a directory is not read (name it on the command line to read it)');
  }
}

/** Said once per process: a command may expand its inputs twice (to check its outputs against them, then to read). */
const reported = new Set<string>();
function reportSkip(path: string, why: string): void {
  if (reported.has(path)) return;
  reported.add(path);
  process.stderr.write(`imdsguard: skipped ${path}: ${why}\n`);
}

/**
 * Whether a file matching the glob may lie under `dir` (both `/`-separated, from the same place): each of the
 * directory's segments matches the glob's segment at its place, until a `**`. An unreadable directory the glob cannot
 * reach (`logs/*.log` and `logs/old/`) costs the glob nothing.
 */
function globMayReach(globSegments: string[], dir: string): boolean {
  const segments = dir.split('/');
  for (let i = 0; i < segments.length; i++) {
    const g = globSegments[i];
    if (g === undefined) return false;
    if (g.includes('**')) return true;
    if (!globToRegExp(g).test(segments[i]!)) return false;
  }
  return segments.length < globSegments.length;
}

/** The fixed directory a glob starts from (`logs/**` → `logs`). */
function globBase(glob: string): string {
  const parts = glob.split('/');
  const fixed: string[] = [];
  for (const p of parts) {
    if (GLOB_CHARS.test(p)) break;
    fixed.push(p);
  }
  if (fixed.length === parts.length) fixed.pop();
  const base = fixed.join('/');
  return base === '' ? (glob.startsWith('/') ? '/' : '.') : base;
}

/**
 * Files, directories (recursive, sorted), globs (quoted so the shell left them) and `-`/nothing for stdin.
 * Missing or unreadable inputs are reported, and the rest are still scanned: a directory that cannot be listed, at
 * the top or anywhere below, is one error naming it, and its siblings are walked all the same.
 */
export async function expandInputs(args: string[]): Promise<ExpandResult> {
  const inputs: Input[] = [];
  const errors: ExpandResult['errors'] = [];
  if (args.length === 0) return { inputs: [{ kind: 'stdin' }], errors };
  const seen = new Set<string>();
  // Directories walked in this expansion (device and inode): two names for one directory count once.
  const walked = new Set<string>();
  const add = (path: string) => {
    if (!seen.has(path)) {
      seen.add(path);
      inputs.push({ kind: 'file', path });
    }
  };
  for (const a of args) {
    if (a === '-') {
      inputs.push({ kind: 'stdin' });
      continue;
    }
    try {
      const st = await stat(a);
      if (st.isDirectory()) {
        const files: string[] = [];
        const again = walked.has(`${st.dev}:${st.ino}`);
        let unreadable = 0;
        await walkFiles(
          a,
          files,
          {
            onUnreadable: (dir, err) => {
              unreadable++;
              errors.push({ input: dir, message: unreadableDirectory(dir, err) });
            },
          },
          walked,
        );
        if (files.length === 0 && !again && unreadable === 0)
          errors.push({ input: a, message: `${a}: directory holds no files` });
        files.forEach(add);
      } else add(a);
      continue;
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      if (!GLOB_CHARS.test(a)) {
        errors.push({ input: a, message: `${a}: cannot read (${err.code ?? err.message})` });
        continue;
      }
    }
    const norm = a.split(sep).join('/');
    const base = globBase(norm);
    const glob = norm.startsWith('./') ? norm.slice(2) : norm;
    const re = globToRegExp(glob);
    const globSegments = glob.split('/');
    const files: string[] = [];
    let unreadable = 0;
    const onUnreadable = (dir: string, err: NodeJS.ErrnoException) => {
      // Gone or not a directory (`a.log/*`): nothing there to match, said as no match below.
      if (err.code === 'ENOENT' || err.code === 'ENOTDIR') return;
      if (dir !== base && !globMayReach(globSegments, dir.split(sep).join('/'))) return;
      unreadable++;
      errors.push({ input: dir, message: unreadableDirectory(dir, err) });
    };
    try {
      await walkFiles(base, files, { onUnreadable });
    } catch (e) {
      // The base itself cannot be reached (EACCES on a parent).
      onUnreadable(base, e as NodeJS.ErrnoException);
    }
    const matched = files.filter((f) => re.test(f.split(sep).join('/')));
    if (matched.length === 0 && unreadable === 0) errors.push({ input: a, message: `${a}: no file matches` });
    matched.forEach(add);
  }
  return { inputs, errors };
}
