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
 * A worker created with no `execArgv` gets this process's own: Node hands such a worker its copy of the process's
 * options unchecked. An explicit list, which the guard has to pass to put its preload in front, is checked instead,
 * and Node refuses in it every option that is not a worker's own (ERR_WORKER_INVALID_EXEC_ARGV): per-process
 * options (`--title`, `--v8-pool-size`, `--secure-heap`, `--node-snapshot`, …) and V8 options
 * (`--stack-trace-limit`, `--max-old-space-size`, `--expose-gc`, …) — node_worker.cc parses the list with the
 * per-isolate parser, and whatever that parser does not know is refused. Both kinds act on the whole process, so
 * they are already in force in the worker (a worker given `execArgv: []` still has the process's stack trace
 * limit). Node 24's test runner starts its children with many of them. So for a worker given no `execArgv`, the
 * guard passes the process's list less exactly the options Node names as refused (with their values), and keeps
 * every other; which ones those are is Node's answer, not a list kept here, because it changes between versions
 * (`--experimental-permission` is a worker's own on Node 20 and per-process on 24). An `execArgv` the code creating
 * the worker chose is passed as it is: Node refuses it or not exactly as it would without the guard.
 *
 * `NODE_OPTIONS` in the worker's environment is read by Node for the worker, and its `--require` preloads run
 * before those of `execArgv`: whoever creates the worker chooses that environment (its `env` option, `process.env`
 * changed just before, `SHARE_ENV`). So when the worker's environment has a `NODE_OPTIONS`, the guard's register
 * module is put in front of it as well (its preloads run in order); a loader flag there is refused as in `execArgv`.
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
import { ArrayIsArray, ObjectKeys, ReflectConstruct, StringCtor, StringPrototypeReplaceAll } from './intrinsics.ts';
import { type NodeOption, nodeOptions, nodeOptionsWords } from './node-flags.ts';
import type { AllowRule, GuardMode, GuardReport, ResolvedGuardOptions } from './options.ts';

/** The module object itself (an ES import would only give this file a read-only namespace). */
const workerThreads = createRequire(import.meta.url)('node:worker_threads') as typeof WorkerThreads;
// Taken when the guard loads: code that replaces them on the module later cannot intercept the hand-over.
const setEnvironmentData = workerThreads.setEnvironmentData;
const getEnvironmentData = workerThreads.getEnvironmentData;
const SHARE_ENV = workerThreads.SHARE_ENV;

type WorkerCtor = typeof WorkerThreads.Worker;
type WorkerOptions = ConstructorParameters<WorkerCtor>[1];

/** The register module next to this file (src/guard/register.ts under tsx, dist/guard/register.js built). */
const REGISTER_PATH = fileURLToPath(
  new URL(import.meta.url.endsWith('.ts') ? './register.ts' : './register.js', import.meta.url),
);

/**
 * `NODE_OPTIONS` that loads the register module first, in Node's quoting (a double-quoted word, `\\` and `"`
 * escaped inside), made once here: nothing the application replaces later takes part in building it.
 */
const NODE_OPTIONS_PRELOAD = `--require "${StringPrototypeReplaceAll(StringPrototypeReplaceAll(REGISTER_PATH, '\\', '\\\\'), '"', '\\"')}" `;

/** The process's environment object as Node made it: it reads and writes the real environment, whatever later
 * replaces `process.env`. */
const REAL_ENV = process.env;

/**
 * The options this process was started with, as Node hands them to a worker created with no `execArgv`: Node keeps
 * its own copy, so code that changes `process.execArgv` later changes neither what a worker inherits nor what the
 * loader check below compares with.
 */
const PROCESS_EXEC_ARGV: readonly string[] = Object.freeze([...process.execArgv]);

/**
 * Options a worker may not add, by the name Node reads (node-flags.ts: any spelling, any value form), and why.
 * A loader's hooks are installed before any preload and can serve other source for the guard's own modules;
 * `--expose-internals` opens Node's internal modules, and `require('internal/worker')` is a Worker constructor the
 * guard never wrapped, whose workers run without the guard.
 */
const REFUSED_OPTIONS: Readonly<Record<string, string>> = Object.freeze({
  __proto__: null,
  '--experimental-loader': "its hooks would run before the guard's",
  '--expose-internals': "Node's internal Worker it exposes starts workers without the guard",
} as unknown as Record<string, string>);

/** The process's own options, read once: a worker may have what the process was started with. */
const PROCESS_OPTIONS: readonly NodeOption[] = Object.freeze(nodeOptions(PROCESS_EXEC_ARGV));

/** The first refused option in `options` that the process was not started with (same name and value), or null. */
function addedRefused(options: readonly NodeOption[]): NodeOption | null {
  for (let i = 0; i < options.length; i++) {
    const o = options[i]!;
    if (REFUSED_OPTIONS[o.name] === undefined) continue;
    let inherited = false;
    for (let j = 0; j < PROCESS_OPTIONS.length; j++)
      if (PROCESS_OPTIONS[j]!.name === o.name && PROCESS_OPTIONS[j]!.value === o.value) inherited = true;
    if (!inherited) return o;
  }
  return null;
}

const refusal = (message: string): Error => Object.assign(new Error(message), { code: 'ERR_IMDSGUARD_BLOCKED' });

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
      ...(r.requestSite ? { requestSite: true } : {}),
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

/** How Node's ERR_WORKER_INVALID_EXEC_ARGV message names what it refused: this, then the items joined by ", ". */
const REFUSED_ITEMS = 'invalid execArgv flags: ';
/** An option no Node has, which it refuses in any worker's execArgv: a construction that ends with it never starts. */
const PROBE = '--imdsguard-worker-probe';

/**
 * `execArgv` less the options `refusal` (Node's ERR_WORKER_INVALID_EXEC_ARGV) names, or null when it names none of
 * them (only the probe, a malformed value, or a refusal worded otherwise).
 * An option refused without "=" takes the next word with it when that word does not start with "-": the list is
 * the process's, and Node stops reading its command line at the script, so a word there that is not an option is
 * the value of the option before it (`--v8-pool-size 4`, `--title app`).
 */
function withoutRefused(execArgv: readonly string[], refusal: unknown): string[] | null {
  if (!(refusal instanceof Error) || (refusal as NodeJS.ErrnoException).code !== 'ERR_WORKER_INVALID_EXEC_ARGV') {
    return null;
  }
  const at = refusal.message.indexOf(REFUSED_ITEMS);
  if (at < 0) return null;
  const items = `, ${refusal.message.slice(at + REFUSED_ITEMS.length)}, `;
  const kept: string[] = [];
  for (let i = 0; i < execArgv.length; i++) {
    const a = execArgv[i]!;
    if (!a.startsWith('-') || !items.includes(`, ${a}, `)) {
      kept.push(a);
      continue;
    }
    const next = execArgv[i + 1];
    if (!a.includes('=') && next !== undefined && !next.startsWith('-')) i++;
  }
  return kept.length < execArgv.length ? kept : null;
}

/**
 * The options of the process's `execArgv` that a worker takes in an explicit list, in order: Node is asked, with
 * constructions that end with `PROBE` and so never start a worker, until it names none of them. It names every
 * refused option it reads in one construction but stops reading at a word it does not take as an option, hence the
 * rounds; each drops at least one word. If Node refuses for another reason, the list is left as it is and the
 * worker's own construction meets the same refusal: the worker is refused, never started unguarded.
 */
function acceptedInWorkers(execArgv: readonly string[], Worker: WorkerCtor): readonly string[] {
  let list = execArgv;
  for (;;) {
    let refusal: unknown = null;
    try {
      // Never started: Node refuses PROBE. Should some Node take it, the worker is stopped before it runs.
      void new Worker('', { eval: true, execArgv: [...list, PROBE] }).terminate();
    } catch (e) {
      refusal = e;
    }
    const kept = withoutRefused(list, refusal);
    if (!kept) return list;
    list = kept;
  }
}

export function hookWorkers(settings: () => ResolvedGuardOptions): () => void {
  const Original = workerThreads.Worker;
  // Worked out at the first worker created without an execArgv; the process's options do not change.
  let inherited: readonly string[] | undefined;
  const inheritedExecArgv = (): readonly string[] => {
    if (!inherited) inherited = acceptedInWorkers(PROCESS_EXEC_ARGV, Original);
    return inherited;
  };
  // A Proxy, not a subclass: a subclass's prototype is the original constructor (`Object.getPrototypeOf(Worker)`),
  // which starts a worker without the guard. The Proxy's own prototype is the original's (EventEmitter), and the
  // original prototype's `constructor` is repointed to it, so neither the constructor, its `prototype`, nor an
  // instance leads back to the unguarded one. Subclasses of it (`class X extends Worker`) pass through the trap.
  const guardedConstruct = (args: unknown[], newTarget: WorkerCtor): object => {
    const [filename, options] = args as [string | URL, WorkerOptions | undefined];
    const o: NonNullable<WorkerOptions> = { ...(options ?? {}) };
    // Each word read once, as a string: the list checked is the list Node gets (an item whose `toString`
    // answers twice, or an array whose getters do, cannot show the check one option and Node another).
    let own: string[] | undefined;
    if (ArrayIsArray(o.execArgv)) {
      const given = o.execArgv as unknown[];
      own = [];
      for (let i = 0, n = given.length; i < n; i++) own[i] = StringCtor(given[i]);
    } else if (o.execArgv !== undefined) own = o.execArgv;
    const added = own ? addedRefused(nodeOptions(own)) : null;
    if (added) {
      throw refusal(
        added.name === '--experimental-loader'
          ? `imdsguard refused to start a worker with the loader "${added.text}": ${REFUSED_OPTIONS[added.name]}`
          : `imdsguard refused to start a worker with ${added.text}: ${REFUSED_OPTIONS[added.name]}`,
      );
    }
    const execArgv = own ?? inheritedExecArgv();
    o.execArgv = ['--require', REGISTER_PATH, ...execArgv];
    // The environment the worker will have: a copy of the given object (each value read once, as Node reads it),
    // or the real environment (copied for it, or shared).
    const shared = o.env === SHARE_ENV;
    let env: Record<string, string> | null = null;
    if (o.env !== null && typeof o.env === 'object') {
      env = { __proto__: null } as unknown as Record<string, string>;
      const given = o.env as Record<string, unknown>;
      const keys = ObjectKeys(given);
      for (let i = 0; i < keys.length; i++) {
        const k = keys[i]!;
        const v = given[k];
        env[k] = typeof v === 'string' ? v : StringCtor(v);
      }
    }
    const envOptions = env ? env.NODE_OPTIONS : REAL_ENV.NODE_OPTIONS;
    let restore: (() => void) | null = null;
    if (typeof envOptions === 'string' && envOptions !== '') {
      // Any refused option there, inherited or not: Node reads a worker's NODE_OPTIONS as the worker's own.
      const named = nodeOptions(nodeOptionsWords(envOptions));
      for (let i = 0; i < named.length; i++) {
        const reason = REFUSED_OPTIONS[named[i]!.name];
        if (reason !== undefined)
          throw refusal(`imdsguard refused to start a worker whose NODE_OPTIONS adds ${named[i]!.text}: ${reason}`);
      }
      const first = NODE_OPTIONS_PRELOAD + envOptions;
      if (env) env.NODE_OPTIONS = first;
      else if (shared) {
        // The worker reads the shared environment when it is constructed: the guard's preload is in it for that
        // moment only.
        REAL_ENV.NODE_OPTIONS = first;
        restore = () => {
          REAL_ENV.NODE_OPTIONS = envOptions;
        };
      } else {
        env = { __proto__: null } as unknown as Record<string, string>;
        const keys = ObjectKeys(REAL_ENV);
        for (let i = 0; i < keys.length; i++) env[keys[i]!] = REAL_ENV[keys[i]!] as string;
        env.NODE_OPTIONS = first;
      }
    }
    if (env) o.env = env;
    setEnvironmentData(SETTINGS_KEY, workerSettingsOf(settings()) as unknown as WorkerThreads.Serializable);
    try {
      return ReflectConstruct(Original, [filename, o], newTarget === GuardedWorker ? Original : newTarget);
    } finally {
      // The worker took its copy when it was constructed.
      setEnvironmentData(SETTINGS_KEY, undefined);
      restore?.();
    }
  };
  const GuardedWorker: WorkerCtor = new Proxy(Original, {
    construct: (_target, args, newTarget) => guardedConstruct(args, newTarget as WorkerCtor),
  });
  Object.defineProperty(Original.prototype, 'constructor', {
    value: GuardedWorker,
    writable: true,
    enumerable: false,
    configurable: true,
  });
  (workerThreads as { Worker: WorkerCtor }).Worker = GuardedWorker;
  // `import { Worker } from 'node:worker_threads'` reads the module's ES namespace, which may have been made
  // before this patch (by a loader, or an earlier import): refresh it.
  syncBuiltinESMExports();
  return () => {
    if (workerThreads.Worker === GuardedWorker) {
      (workerThreads as { Worker: WorkerCtor }).Worker = Original;
      Object.defineProperty(Original.prototype, 'constructor', { value: Original });
      syncBuiltinESMExports();
    }
  };
}
