/**
 * Who asked for a connection: the JavaScript call stack at the moment the request was made, reduced to the
 * npm packages on it. The guard lets a metadata connection through when an allowlisted package (a cloud SDK's
 * credential provider) is on that stack, and refuses it otherwise — so the SDK keeps working while a URL that a
 * user slipped into `fetch(url)` or `axios.get(url)` is stopped even though it goes to the same address.
 *
 * Capturing is cheap (V8 records raw frames; nothing is formatted); the frames are only read when the
 * destination turns out to be a metadata service.
 */
import { fileURLToPath } from 'node:url';

/** A captured stack, read lazily. */
export interface CallerStack {
  readonly holder: { stack?: unknown };
}

const CAPTURE_DEPTH = 64;

/** Record the current stack, async frames included (`at async …`), without formatting it. */
export function captureCaller(): CallerStack {
  const holder: { stack?: unknown } = {};
  const prev = Error.stackTraceLimit;
  Error.stackTraceLimit = CAPTURE_DEPTH;
  Error.captureStackTrace(holder, captureCaller);
  Error.stackTraceLimit = prev;
  return { holder };
}

/** The file names on a captured stack, innermost first. Reading consumes V8's lazy formatting once. */
export function callerFiles(c: CallerStack): string[] {
  const prev = Error.prepareStackTrace;
  let files: string[] = [];
  Error.prepareStackTrace = (_err, sites) =>
    sites.map((s) => s.getFileName() ?? s.getScriptNameOrSourceURL?.() ?? '').filter((f) => f.length > 0);
  try {
    const v = c.holder.stack;
    if (Array.isArray(v)) files = v as string[];
    else if (typeof v === 'string') files = fromText(v);
  } finally {
    Error.prepareStackTrace = prev;
  }
  return files;
}

/** Fallback when another library already formatted the stack to text. */
function fromText(stack: string): string[] {
  const out: string[] = [];
  for (const line of stack.split('\n')) {
    const m = /\(?((?:file:\/\/)?\/[^():]+):\d+:\d+\)?\s*$/.exec(line);
    if (m) out.push(m[1]!);
  }
  return out;
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

/** Distinct packages on the stack, innermost first, and the first file outside node_modules (the app's code). */
export function summarise(files: readonly string[]): { packages: string[]; appFrame: string | null } {
  const packages: string[] = [];
  let appFrame: string | null = null;
  for (const f of files) {
    if (f.startsWith('node:') || f.startsWith('internal/')) continue;
    if (f.startsWith(OWN_URL) || f.startsWith(OWN_PATH)) continue;
    const p = packageOf(f);
    if (p === null) {
      if (appFrame === null) appFrame = f;
      continue;
    }
    if (!packages.includes(p)) packages.push(p);
  }
  return { packages, appFrame };
}
