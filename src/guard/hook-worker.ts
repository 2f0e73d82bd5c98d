/**
 * Worker threads have their own copy of every module, so the hooks of the main thread do not reach them, and
 * `--import` of the main thread is not run in them. Every Worker created after installation starts with the
 * guard's register module as its first preload, and with the guard's settings handed over by the guard itself.
 *
 * First: Node runs every `--require` preload before any `--import` one, whatever their order, so the register
 * module goes in front of the worker's execArgv as `--require` (Node ≥ 20.19 requires ES modules). A preload
 * that the worker's own options name (`--require /tmp/pre.cjs`, `--import …`) then runs with the guard already in
 * place and finds the TCP handle's methods replaced. Eval workers run `--require` preloads too. Loader hooks
 * (`--loader`, `--experimental-loader`) are installed before any preload and could serve other source for the
 * guard: a Worker whose options add one that this process was not started with is refused.
 *
 * Settings: not from the worker's environment, which the code creating the worker chooses (`env`, or
 * `process.env` changed just before, or `SHARE_ENV`). The guard puts its resolved settings into the worker's
 * environment data (`setEnvironmentData`, copied into the worker when it is constructed) right before
 * constructing it, under its own reference to that function; the register module reads them there, in the
 * worker, before anything else runs.
 */
import { createRequire, syncBuiltinESMExports } from 'node:module';
import { fileURLToPath } from 'node:url';
import type * as WorkerThreads from 'node:worker_threads';
import type { AllowRule, GuardMode, GuardReport, ResolvedGuardOptions } from './options.ts';

/** The module object itself (an ES import would only give this file a read-only namespace). */
const workerThreads = createRequire(import.meta.url)('node:worker_threads') as typeof WorkerThreads;
// Taken when the guard loads: code that replaces them on the module later cannot intercept the hand-over.
const setEnvironmentData = workerThreads.setEnvironmentData;
const getEnvironmentData = workerThreads.getEnvironmentData;

type WorkerCtor = typeof WorkerThreads.Worker;
type WorkerOptions = ConstructorParameters<WorkerCtor>[1];

/** The register module next to this file (src/guard/register.ts under tsx, dist/guard/register.js built). */
const REGISTER_PATH = fileURLToPath(
  new URL(import.meta.url.endsWith('.ts') ? './register.ts' : './register.js', import.meta.url),
);

/** What a worker's guard gets from its parent's: the resolved settings, less the callback that cannot cross. */
export interface WorkerSettings {
  mode: GuardMode;
  report: GuardReport;
  allow: AllowRule[];
  reportAllowed: boolean;
  packageRoots: string[];
}

const SETTINGS_KEY = 'imdsguard.guard.workerSettings';

export function workerSettingsOf(o: ResolvedGuardOptions): WorkerSettings {
  return {
    mode: o.mode,
    // A callback cannot cross threads: the worker writes where the parent would, or nowhere.
    report: typeof o.report === 'object' ? { file: o.report.file } : o.report,
    allow: o.allow.map((r) => ({
      package: r.package,
      ...(r.providers ? { providers: [...r.providers] } : {}),
      ...(r.header ? { header: { name: r.header.name, value: r.header.value } } : {}),
      ...(r.reason ? { reason: r.reason } : {}),
    })),
    reportAllowed: o.reportAllowed,
    packageRoots: [...o.packageRoots],
  };
}

const isStrings = (v: unknown): v is string[] => Array.isArray(v) && v.every((x) => typeof x === 'string');

/** In a worker started by a guarded thread: the settings its guard handed over; otherwise undefined. */
export function settingsFromParent(): WorkerSettings | undefined {
  if (workerThreads.isMainThread) return undefined;
  const v = getEnvironmentData(SETTINGS_KEY) as Partial<WorkerSettings> | undefined;
  if (!v || typeof v !== 'object') return undefined;
  const reportOk =
    v.report === 'stderr' ||
    v.report === 'none' ||
    (typeof v.report === 'object' && v.report !== null && typeof v.report.file === 'string');
  if ((v.mode !== 'block' && v.mode !== 'monitor') || !reportOk || !Array.isArray(v.allow)) {
    throw new Error('imdsguard: the guard settings handed to this worker are malformed');
  }
  if (!isStrings(v.packageRoots) || !v.allow.every((r) => r && typeof r.package === 'string')) {
    throw new Error('imdsguard: the guard settings handed to this worker are malformed');
  }
  return v as WorkerSettings;
}

const LOADER_FLAGS = ['--loader', '--experimental-loader'];

/** A loader flag in `execArgv` that the process was not started with (flag and value), or null. */
function addedLoader(execArgv: readonly string[]): string | null {
  const own = process.execArgv.join('\0');
  for (let i = 0; i < execArgv.length; i++) {
    const a = execArgv[i]!;
    const flag = LOADER_FLAGS.find((f) => a === f || a.startsWith(`${f}=`));
    if (!flag) continue;
    const pair = a === flag ? `${a}\0${execArgv[i + 1] ?? ''}` : a;
    if (!`\0${own}\0`.includes(`\0${pair}\0`)) return a === flag ? `${a} ${execArgv[i + 1] ?? ''}` : a;
  }
  return null;
}

export function hookWorkers(settings: () => ResolvedGuardOptions): () => void {
  const Original = workerThreads.Worker;
  class GuardedWorker extends Original {
    constructor(filename: string | URL, options: WorkerOptions = {}) {
      const o: NonNullable<WorkerOptions> = { ...options };
      const execArgv = o.execArgv ?? process.execArgv;
      const loader = addedLoader(execArgv);
      if (loader) {
        throw Object.assign(
          new Error(
            `imdsguard refused to start a worker with the loader "${loader}": its hooks would run before the guard's`,
          ),
          { code: 'ERR_IMDSGUARD_BLOCKED' },
        );
      }
      o.execArgv = ['--require', REGISTER_PATH, ...execArgv];
      setEnvironmentData(SETTINGS_KEY, workerSettingsOf(settings()) as unknown as WorkerThreads.Serializable);
      try {
        super(filename, o);
      } finally {
        // The worker took its copy when it was constructed.
        setEnvironmentData(SETTINGS_KEY, undefined);
      }
    }
  }
  Object.defineProperty(GuardedWorker, 'name', { value: 'Worker' });
  (workerThreads as { Worker: WorkerCtor }).Worker = GuardedWorker;
  // `import { Worker } from 'node:worker_threads'` reads the module's ES namespace, which may have been made
  // before this patch (by a loader, or an earlier import): refresh it.
  syncBuiltinESMExports();
  return () => {
    if (workerThreads.Worker === GuardedWorker) {
      (workerThreads as { Worker: WorkerCtor }).Worker = Original;
      syncBuiltinESMExports();
    }
  };
}
