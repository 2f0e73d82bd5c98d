/**
 * Who asked for a connection: the JavaScript call stack at the moment the request was made, reduced to the
 * npm packages on it. The guard lets a metadata connection through when an allowlisted package (a cloud SDK's
 * credential provider) made the request, and refuses it otherwise — so the SDK keeps working while a URL that a
 * user slipped into `fetch(url)` or `axios.get(url)` is stopped even though it goes to the same address.
 *
 * A file name on a stack is only a claim: `vm.runInThisContext(code, { filename })` and `//# sourceURL=` let any
 * code name any file. So a frame counts as a package's only when the script V8 ran there is that file: V8 reports
 * the SHA-256 of each script's source (`CallSite.getScriptHash()`), and it must equal the hash of the file on disk
 * at that path. `eval` and `new Function` frames never count as a package, and a package counts only where the
 * application's packages are installed (package-roots.ts), and not under a directory anyone may write to.
 *
 * Capturing is cheap (V8 records raw frames; nothing is formatted); the frames are only read when the
 * destination turns out to be a metadata service.
 */
import { createHash } from 'node:crypto';
import { readFileSync, realpathSync, statSync } from 'node:fs';
import { dirname, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { REQUEST_SITES } from './request-sites.ts';

/** A captured stack, read lazily. */
export interface CallerStack {
  readonly holder: { stack?: unknown };
}

/** One frame as the guard reads it. */
export interface CallerFrame {
  file: string;
  /** The file on disk is the script V8 ran there (not a vm filename, sourceURL or eval). */
  genuine: boolean;
  /** A genuine frame on one of its package's catalogued request calls (request-sites.ts). */
  site?: boolean;
}

const CAPTURE_DEPTH = 64;
// Taken when the guard loads: code that later replaces these cannot forge or hide the frames the guard reads.
const captureStackTrace = Error.captureStackTrace;
const ErrorCtor = Error;

/** Record the current stack, async frames included (`at async …`), without formatting it. */
export function captureCaller(): CallerStack {
  const holder: { stack?: unknown } = {};
  const prev = ErrorCtor.stackTraceLimit;
  ErrorCtor.stackTraceLimit = CAPTURE_DEPTH;
  captureStackTrace(holder, captureCaller);
  ErrorCtor.stackTraceLimit = prev;
  return { holder };
}

interface RawSite {
  file: string;
  hash: string;
  isEval: boolean;
  line: number;
}

const readRaw = (_err: Error, sites: NodeJS.CallSite[]): RawSite[] =>
  sites.map((s) => {
    const isEval = s.isEval();
    // getFileName only: a sourceURL comment is the script's own claim about itself.
    const file = isEval ? '' : (s.getFileName() ?? '');
    const hash = (s as unknown as { getScriptHash?: () => string }).getScriptHash?.() ?? '';
    return { file, hash, isEval, line: s.getLineNumber() ?? 0 };
  });

/** SHA-256 of each file on disk (and of its text without a BOM, which the CommonJS loader strips), by path. */
const diskHashes = new Map<string, readonly string[]>();

function hashesOnDisk(path: string): readonly string[] {
  let h = diskHashes.get(path);
  if (h) return h;
  try {
    const buf = readFileSync(path);
    const whole = createHash('sha256').update(buf).digest('hex');
    const bom = buf.length >= 3 && buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf;
    h = bom ? [whole, createHash('sha256').update(buf.subarray(3)).digest('hex')] : [whole];
  } catch {
    h = [];
  }
  diskHashes.set(path, h);
  return h;
}

/** The lines of each catalogued request-site file on disk, by path (read only for those files). */
const diskLines = new Map<string, readonly string[]>();

function lineOnDisk(path: string, line: number): string {
  let lines = diskLines.get(path);
  if (!lines) {
    try {
      lines = readFileSync(path, 'utf8').split('\n');
    } catch {
      lines = [];
    }
    diskLines.set(path, lines);
  }
  return lines[line - 1] ?? '';
}

function pathOf(file: string): string {
  return file.startsWith('file://') ? fileURLToPath(file) : file;
}

/** The frame is on the line of one of its package's catalogued request calls. */
function atRequestSite(file: string, line: number, pkg: string): boolean {
  const sites = REQUEST_SITES[pkg];
  if (!sites || line <= 0) return false;
  const norm = file.replace(/\\/g, '/');
  const marker = `/node_modules/${pkg}/`;
  const i = norm.lastIndexOf(marker);
  if (i < 0) return false;
  const rel = norm.slice(i + marker.length);
  const site = sites.find((x) => x.file === rel);
  return site !== undefined && lineOnDisk(pathOf(file), line).includes(site.call);
}

/** The real path of each file, by the path a stack names (null: it does not exist). */
const realPaths = new Map<string, string | null>();

function realOf(path: string): string | null {
  let r = realPaths.get(path);
  if (r !== undefined) return r;
  try {
    r = realpathSync(path);
  } catch {
    r = null;
  }
  realPaths.set(path, r);
  return r;
}

/** Per directory: it or a directory above it can be written by users other than its owner's group (o+w). */
const writableByOthers = new Map<string, boolean>();

/**
 * A file under a world-writable directory (`/tmp/node_modules/…`, even with the sticky bit: anyone may create the
 * `node_modules` there before the application runs) is not the application's install, whoever wrote it.
 */
function underWorldWritable(dir: string): boolean {
  if (process.platform === 'win32') return false;
  let w = writableByOthers.get(dir);
  if (w !== undefined) return w;
  try {
    w = (statSync(dir).mode & 0o002) !== 0;
  } catch {
    w = true;
  }
  const parent = dirname(dir);
  if (!w && parent !== dir) w = underWorldWritable(parent);
  writableByOthers.set(dir, w);
  return w;
}

function genuine(file: string, hash: string, roots: readonly string[]): boolean {
  if (!hash || file.startsWith('node:')) return false;
  let path = file;
  if (file.startsWith('file://')) {
    try {
      path = fileURLToPath(file);
    } catch {
      return false;
    }
  } else if (!file.startsWith('/') && !/^[A-Za-z]:[\\/]/.test(file)) return false;
  // Installed where the application's own imports resolve, not in any directory that happens to be called
  // node_modules.
  const real = realOf(path);
  if (real === null || !roots.some((root) => real.startsWith(root.endsWith(sep) ? root : root + sep))) return false;
  if (underWorldWritable(dirname(real))) return false;
  return hashesOnDisk(path).includes(hash);
}

/**
 * The frames on a captured stack, innermost first. Node's own frames are dropped; an eval frame is kept as an
 * anonymous, non-genuine frame so that it cannot hide between an SDK and the request. A package frame is genuine
 * only inside one of `roots` (real paths of node_modules directories, from package-roots.ts).
 */
export function callerFrames(c: CallerStack, roots: readonly string[]): CallerFrame[] {
  const prev = ErrorCtor.prepareStackTrace;
  let raw: RawSite[] = [];
  try {
    ErrorCtor.prepareStackTrace = readRaw;
    // A prepareStackTrace that code made unassignable would decide what the guard reads: read nothing then.
    if (ErrorCtor.prepareStackTrace !== readRaw) return [];
    const v = c.holder.stack;
    if (Array.isArray(v)) raw = v as RawSite[];
  } catch {
    return [];
  } finally {
    try {
      ErrorCtor.prepareStackTrace = prev;
    } catch {
      // It was not ours to restore.
    }
  }
  const out: CallerFrame[] = [];
  for (const s of raw) {
    if (s.isEval) {
      out.push({ file: '<eval>', genuine: false });
      continue;
    }
    if (!s.file || s.file.startsWith('node:') || s.file.startsWith('internal/')) continue;
    const pkg = packageOf(s.file);
    const real = pkg !== null && genuine(s.file, s.hash, roots);
    out.push({ file: s.file, genuine: real, site: real && pkg !== null && atRequestSite(s.file, s.line, pkg) });
  }
  return out;
}

/** The file names on a captured stack, innermost first. */
export function callerFiles(c: CallerStack): string[] {
  return callerFrames(c, []).map((f) => f.file);
}

/** The npm package a file belongs to (`@scope/name` or `name`), from its last node_modules segment. */
export function packageOf(file: string): string | null {
  const norm = file.replace(/\\/g, '/');
  const i = norm.lastIndexOf('/node_modules/');
  if (i < 0) return null;
  const rest = norm.slice(i + '/node_modules/'.length).split('/');
  const first = rest[0];
  if (!first) return null;
  if (first.startsWith('@')) return rest[1] ? `${first}/${rest[1]}` : null;
  return first;
}

/** The guard's own directory (src/guard or dist/guard), as a URL and as a path: its frames are not callers. */
const OWN_URL = new URL('.', import.meta.url).href;
const OWN_PATH = fileURLToPath(OWN_URL);

export interface CallerSummary {
  /** Distinct packages on the stack, innermost first (for the finding). */
  packages: string[];
  /**
   * The packages that made the request: genuine package frames from the innermost frame outwards, up to the
   * first frame that is not one (the application's code, an eval, a vm script under a package's name). Only these
   * can match the allowlist, so an SDK that calls back into application code (a logger, a hook) does not lend
   * its name to requests that code makes.
   */
  requesters: string[];
  /**
   * The same chain, starting only at a catalogued request call (request-sites.ts) and entering each further
   * package only through one: an SDK frame reading an application's getter or calling its logger is not where
   * the SDK sends its request, so a bound built-in called from there does not borrow the SDK's name.
   */
  siteRequesters: string[];
  /** The first file outside node_modules (the app's code), or null. */
  appFrame: string | null;
}

export function summarise(frames: readonly CallerFrame[]): CallerSummary {
  const packages: string[] = [];
  const requesters: string[] = [];
  let appFrame: string | null = null;
  const siteRequesters: string[] = [];
  let chain = true;
  let siteChain = true;
  let last: string | null = null;
  for (const f of frames) {
    if (f.file.startsWith(OWN_URL) || f.file.startsWith(OWN_PATH)) continue;
    // The innermost frame, and each frame where the chain passes into another package, must be a catalogued
    // call (a transport called by its SDK), not an SDK line that merely ran a getter or a callback.
    const p0 = f.file === '<eval>' ? null : packageOf(f.file);
    if (siteChain && (p0 === null || !f.genuine || (p0 !== last && f.site !== true))) siteChain = false;
    if (siteChain && p0 !== null) {
      if (!siteRequesters.includes(p0)) siteRequesters.push(p0);
      last = p0;
    }
    const p = f.file === '<eval>' ? null : packageOf(f.file);
    if (p === null) {
      if (appFrame === null && f.file !== '<eval>') appFrame = f.file;
      chain = false;
      continue;
    }
    if (!packages.includes(p)) packages.push(p);
    if (!f.genuine) chain = false;
    else if (chain && !requesters.includes(p)) requesters.push(p);
  }
  return { packages, requesters, siteRequesters, appFrame };
}
