/**
 * Worker threads have their own copy of every module, so the hooks of the main thread do not reach them, and
 * `--import` of the main thread is not run in them. Every Worker created after installation starts with the
 * guard's register module preloaded (`--import` in its execArgv; for `eval` workers a `require` in front of
 * the code) and with the parent's mode and report target in its environment.
 */
import { createRequire, syncBuiltinESMExports } from 'node:module';
import { fileURLToPath } from 'node:url';
import type * as WorkerThreads from 'node:worker_threads';
import type { GuardMode, GuardReport } from './options.ts';

/** The module object itself (an ES import would only give this file a read-only namespace). */
const workerThreads = createRequire(import.meta.url)('node:worker_threads') as typeof WorkerThreads;

type WorkerCtor = typeof WorkerThreads.Worker;
type WorkerOptions = ConstructorParameters<WorkerCtor>[1];

/** The register module next to this file (src/guard/register.ts under tsx, dist/guard/register.js built). */
const REGISTER_URL = new URL(import.meta.url.endsWith('.ts') ? './register.ts' : './register.js', import.meta.url);

export function hookWorkers(settings: () => { mode: GuardMode; report: GuardReport }): () => void {
  const Original = workerThreads.Worker;
  class GuardedWorker extends Original {
    constructor(filename: string | URL, options: WorkerOptions = {}) {
      const s = settings();
      const o: NonNullable<WorkerOptions> = { ...options };
      if (o.env !== workerThreads.SHARE_ENV) {
        const base = (o.env as NodeJS.Dict<string> | undefined) ?? process.env;
        o.env = {
          ...base,
          IMDSGUARD_GUARD_MODE: s.mode,
          // A callback cannot cross threads: the worker writes where the parent would, or to stderr.
          IMDSGUARD_GUARD_REPORT: typeof s.report === 'object' ? s.report.file : s.report,
        };
      }
      let what = filename;
      if (o.eval) {
        // Eval workers run no --import preloads; their code is CommonJS, which can require the ES module.
        what = `require(${JSON.stringify(fileURLToPath(REGISTER_URL))});\n${String(filename)}`;
      } else {
        // First, so that no other preload of the worker runs before the guard is in place.
        o.execArgv = ['--import', REGISTER_URL.href, ...(o.execArgv ?? process.execArgv)];
      }
      super(what, o);
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
