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
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import url from 'node:url';
import {
  ArrayIsArray,
  ArrayPrototypePush,
  arrayHas,
  bare,
  MapPrototypeGet,
  MapPrototypeSet,
  ObjectFreeze,
  ReflectApply,
  ReflectGetOwnPropertyDescriptor,
  StringPrototypeCharCodeAt,
  StringPrototypeIncludes,
  StringPrototypeIndexOf,
  StringPrototypeLastIndexOf,
  StringPrototypeSlice,
  StringPrototypeStartsWith,
  WeakSetPrototypeAdd,
  WeakSetPrototypeHas,
} from './intrinsics.ts';
import { REQUEST_SITES, type RequestSite } from './request-sites.ts';

// Node's functions as they are when the guard loads: replacing them on their modules later (and refreshing the ES
// namespaces with syncBuiltinESMExports) does not reach these. A file's hash read through a replaced readFileSync
// or digest would be whatever the replacement says.
const readFileSync = fs.readFileSync;
const realpathSync = fs.realpathSync;
const statSync = fs.statSync;
const hash = crypto.hash as (algorithm: string, data: Uint8Array, encoding: 'hex') => string;
const dirname = path.dirname;
const sep = path.sep;
const fileURLToPath = url.fileURLToPath;
const subarray = Uint8Array.prototype.subarray;

/** The catalogued request sites by package, without a prototype (a key missing here is missing). */
const SITES: Readonly<Record<string, readonly RequestSite[]>> = ObjectFreeze(Object.assign(bare(), REQUEST_SITES));

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

/** Holders this guard captured: a stack object from anywhere else is not read. */
const holders = new WeakSet<object>();

/** Record the current stack, async frames included (`at async …`), without formatting it. */
export function captureCaller(): CallerStack {
  const holder: { stack?: unknown } = { __proto__: null } as { stack?: unknown };
  const prev = ErrorCtor.stackTraceLimit;
  ErrorCtor.stackTraceLimit = CAPTURE_DEPTH;
  captureStackTrace(holder, captureCaller);
  ErrorCtor.stackTraceLimit = prev;
  WeakSetPrototypeAdd(holders, holder);
  return { holder };
}

interface RawSite {
  file: string;
  hash: string;
  isEval: boolean;
  line: number;
}

/** The lists readRaw made: the guard reads no other value as a stack. */
const rawLists = new WeakSet<object>();

const readRaw = (_err: Error, sites: NodeJS.CallSite[]): RawSite[] => {
  const out: RawSite[] = [];
  for (let i = 0; i < sites.length; i++) {
    // V8 makes the CallSite methods read-only and non-configurable: they answer for the script that ran.
    const s = sites[i]!;
    const isEval = s.isEval();
    // getFileName only: a sourceURL comment is the script's own claim about itself.
    const f = isEval ? '' : s.getFileName();
    const h = (s as unknown as { getScriptHash?: () => string }).getScriptHash?.() ?? '';
    const line = s.getLineNumber();
    ArrayPrototypePush(out, {
      file: typeof f === 'string' ? f : '',
      hash: typeof h === 'string' ? h : '',
      isEval,
      line: typeof line === 'number' ? line : 0,
    });
  }
  WeakSetPrototypeAdd(rawLists, out);
  return out;
};

/** SHA-256 of each file on disk (and of its text without a BOM, which the CommonJS loader strips), by path. */
const diskHashes = new Map<string, readonly string[]>();

function hashesOnDisk(path: string): readonly string[] {
  let h = MapPrototypeGet(diskHashes, path);
  if (h) return h;
  try {
    const buf = readFileSync(path);
    const whole = hash('sha256', buf, 'hex');
    const bom = buf.length >= 3 && buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf;
    h = bom ? [whole, hash('sha256', ReflectApply(subarray, buf, [3]) as Uint8Array, 'hex')] : [whole];
  } catch {
    h = [];
  }
  MapPrototypeSet(diskHashes, path, h);
  return h;
}

/** The text of each catalogued request-site file on disk, by path (read only for those files). */
const diskTexts = new Map<string, string>();

function lineOnDisk(path: string, line: number): string {
  let text = MapPrototypeGet(diskTexts, path);
  if (text === undefined) {
    try {
      text = readFileSync(path, 'utf8');
    } catch {
      text = '';
    }
    MapPrototypeSet(diskTexts, path, text);
  }
  // Read by character: `split` consults String.prototype[Symbol.split], which code can define.
  let start = 0;
  for (let n = 1; n < line; n++) {
    const nl = StringPrototypeIndexOf(text, '\n', start);
    if (nl < 0) return '';
    start = nl + 1;
  }
  const end = StringPrototypeIndexOf(text, '\n', start);
  return StringPrototypeSlice(text, start, end < 0 ? text.length : end);
}

function pathOf(file: string): string {
  return StringPrototypeStartsWith(file, 'file://') ? fileURLToPath(file) : file;
}

/** `/` for every `\\` (Windows paths), by character. */
function slashed(file: string): string {
  if (StringPrototypeIndexOf(file, '\\') < 0) return file;
  let out = '';
  for (let i = 0; i < file.length; i++) {
    const c = StringPrototypeSlice(file, i, i + 1);
    out += c === '\\' ? '/' : c;
  }
  return out;
}

/** The frame is on the line of one of its package's catalogued request calls. */
function atRequestSite(file: string, line: number, pkg: string): boolean {
  const sites = SITES[pkg];
  if (!sites || line <= 0) return false;
  const norm = slashed(file);
  const marker = `/node_modules/${pkg}/`;
  const i = StringPrototypeLastIndexOf(norm, marker);
  if (i < 0) return false;
  const rel = StringPrototypeSlice(norm, i + marker.length);
  for (let k = 0; k < sites.length; k++) {
    const site = sites[k]!;
    if (site.file === rel) return StringPrototypeIncludes(lineOnDisk(pathOf(file), line), site.call);
  }
  return false;
}

/** The real path of each file, by the path a stack names (null: it does not exist). */
const realPaths = new Map<string, string | null>();

function realOf(path: string): string | null {
  let r = MapPrototypeGet(realPaths, path);
  if (r !== undefined) return r;
  try {
    r = realpathSync(path);
  } catch {
    r = null;
  }
  MapPrototypeSet(realPaths, path, r);
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
  let w = MapPrototypeGet(writableByOthers, dir);
  if (w !== undefined) return w;
  try {
    w = (statSync(dir).mode & 0o002) !== 0;
  } catch {
    w = true;
  }
  const parent = dirname(dir);
  if (!w && parent !== dir) w = underWorldWritable(parent);
  MapPrototypeSet(writableByOthers, dir, w);
  return w;
}

/** `C:\\` or `C:/` at the start of a path. */
function windowsDrive(file: string): boolean {
  const c = StringPrototypeCharCodeAt(file, 0) | 0x20;
  const d = StringPrototypeCharCodeAt(file, 2);
  return c >= 97 && c <= 122 && StringPrototypeCharCodeAt(file, 1) === 58 && (d === 92 || d === 47);
}

function insideRoots(real: string, roots: readonly string[]): boolean {
  for (let i = 0; i < roots.length; i++) {
    const root = roots[i]!;
    const dir =
      StringPrototypeCharCodeAt(root, root.length - 1) === StringPrototypeCharCodeAt(sep, 0) ? root : root + sep;
    if (StringPrototypeStartsWith(real, dir)) return true;
  }
  return false;
}

function genuine(file: string, scriptHash: string, roots: readonly string[]): boolean {
  if (!scriptHash || StringPrototypeStartsWith(file, 'node:')) return false;
  let path = file;
  if (StringPrototypeStartsWith(file, 'file://')) {
    try {
      path = fileURLToPath(file);
    } catch {
      return false;
    }
  } else if (StringPrototypeCharCodeAt(file, 0) !== 47 && !windowsDrive(file)) return false;
  // Installed where the application's own imports resolve, not in any directory that happens to be called
  // node_modules.
  const real = realOf(path);
  if (real === null || !insideRoots(real, roots)) return false;
  if (underWorldWritable(dirname(real))) return false;
  return arrayHas(hashesOnDisk(path), scriptHash);
}

/**
 * The frames on a captured stack, innermost first. Node's own frames are dropped; an eval frame is kept as an
 * anonymous, non-genuine frame so that it cannot hide between an SDK and the request. A package frame is genuine
 * only inside one of `roots` (real paths of node_modules directories, from package-roots.ts).
 */
export function callerFrames(c: CallerStack, roots: readonly string[]): CallerFrame[] {
  if (!WeakSetPrototypeHas(holders, c.holder)) return [];
  const prev = ErrorCtor.prepareStackTrace;
  let raw: RawSite[] = [];
  try {
    ErrorCtor.prepareStackTrace = readRaw;
    // A prepareStackTrace that code made unassignable, or an accessor (which could answer readRaw here and another
    // function to V8), would decide what the guard reads: read nothing then. Only a list readRaw made counts.
    const desc = ReflectGetOwnPropertyDescriptor(ErrorCtor, 'prepareStackTrace');
    if (desc === undefined || desc.value !== readRaw) return [];
    const v = c.holder.stack;
    if (ArrayIsArray(v) && WeakSetPrototypeHas(rawLists, v)) raw = v as RawSite[];
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
  for (let i = 0; i < raw.length; i++) {
    const s = raw[i]!;
    if (s.isEval) {
      ArrayPrototypePush(out, { file: '<eval>', genuine: false });
      continue;
    }
    if (!s.file || StringPrototypeStartsWith(s.file, 'node:') || StringPrototypeStartsWith(s.file, 'internal/'))
      continue;
    const pkg = packageOf(s.file);
    const real = pkg !== null && genuine(s.file, s.hash, roots);
    ArrayPrototypePush(out, {
      file: s.file,
      genuine: real,
      site: real && pkg !== null && atRequestSite(s.file, s.line, pkg),
    });
  }
  return out;
}

/** The file names on a captured stack, innermost first. */
export function callerFiles(c: CallerStack): string[] {
  return callerFrames(c, []).map((f) => f.file);
}

const NODE_MODULES = '/node_modules/';

/** The npm package a file belongs to (`@scope/name` or `name`), from its last node_modules segment. */
export function packageOf(file: string): string | null {
  const norm = slashed(file);
  const i = StringPrototypeLastIndexOf(norm, NODE_MODULES);
  if (i < 0) return null;
  const from = i + NODE_MODULES.length;
  const end1 = StringPrototypeIndexOf(norm, '/', from);
  const first = StringPrototypeSlice(norm, from, end1 < 0 ? norm.length : end1);
  if (!first) return null;
  if (StringPrototypeCharCodeAt(first, 0) !== 64) return first;
  if (end1 < 0) return null;
  const end2 = StringPrototypeIndexOf(norm, '/', end1 + 1);
  const second = StringPrototypeSlice(norm, end1 + 1, end2 < 0 ? norm.length : end2);
  return second ? `${first}/${second}` : null;
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
  for (let i = 0; i < frames.length; i++) {
    const f = frames[i]!;
    if (StringPrototypeStartsWith(f.file, OWN_URL) || StringPrototypeStartsWith(f.file, OWN_PATH)) continue;
    // The innermost frame, and each frame where the chain passes into another package, must be a catalogued
    // call (a transport called by its SDK), not an SDK line that merely ran a getter or a callback.
    const p0 = f.file === '<eval>' ? null : packageOf(f.file);
    if (siteChain && (p0 === null || !f.genuine || (p0 !== last && f.site !== true))) siteChain = false;
    if (siteChain && p0 !== null) {
      if (!arrayHas(siteRequesters, p0)) ArrayPrototypePush(siteRequesters, p0);
      last = p0;
    }
    const p = f.file === '<eval>' ? null : packageOf(f.file);
    if (p === null) {
      if (appFrame === null && f.file !== '<eval>') appFrame = f.file;
      chain = false;
      continue;
    }
    if (!arrayHas(packages, p)) ArrayPrototypePush(packages, p);
    if (!f.genuine) chain = false;
    else if (chain && !arrayHas(requesters, p)) ArrayPrototypePush(requesters, p);
  }
  return { packages, requesters, siteRequesters, appFrame };
}
