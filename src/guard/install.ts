/**
 * Install the guard in this process, once. The handle `installGuard()` returns is the capability to change or
 * remove it: nothing else can (a second `installGuard()` throws, `guardInstalled()` gives a read-only view), so a
 * module that an attacker controls cannot switch the guard to monitor mode or uninstall it. With
 * `--import imdsguard/guard/register` nobody holds the handle: the settings of the environment stay.
 */
import { fileURLToPath } from 'node:url';
import type { Finding } from '../core/model/finding.ts';
import { setCapabilityPolicy } from './capability.ts';
import { decide } from './decide.ts';
import { hookFetch } from './hook-fetch.ts';
import { setHandleDecider } from './hook-handle.ts';
import { hookHttp } from './hook-http.ts';
import { hookHttp2 } from './hook-http2.ts';
import { hookInspector } from './hook-inspector.ts';
import { hookLoader } from './hook-loader.ts';
import { type Decide, hookNet } from './hook-net.ts';
import { hookReuse } from './hook-reuse.ts';
import { hookVm } from './hook-vm.ts';
import { hookWorkers, type WorkerSettings } from './hook-worker.ts';
import { hookWrites } from './hook-write.ts';
import { type GuardMode, type GuardOptions, type ResolvedGuardOptions, resolveOptions } from './options.ts';
import { applicationPackageRoots } from './package-roots.ts';
import { makeReporter } from './report.ts';

/** What anyone may read about the installed guard. */
export interface GuardStatus {
  readonly mode: GuardMode;
  /** Counts since installation. */
  readonly stats: Readonly<{ blocked: number; audited: number; allowed: number }>;
  /** Whether the TCP-handle check (the last line, below net) is active in this process. */
  readonly handleCheck: boolean;
}

/** The capability returned to whoever installed the guard. */
export interface GuardHandle extends GuardStatus {
  /** Replace the settings (mode, allowlist, reporting). */
  reconfigure(options: GuardOptions): void;
  /** Remove every hook (tests, or an app that wants to turn the guard off at run time). */
  uninstall(): void;
}

interface Installed {
  options: ResolvedGuardOptions;
  emit: (f: Finding) => void;
  stats: { blocked: number; audited: number; allowed: number };
  status: GuardStatus;
}

let current: Installed | undefined;

/**
 * Protect every outbound connection of this process. Options in code win over `IMDSGUARD_GUARD_*` variables.
 * Throws when the guard is already installed: change it with the handle the first call returned.
 * @example
 * import { installGuard } from 'imdsguard/guard';
 * const guard = installGuard({ mode: 'block', onFinding: (f) => logger.warn(f) });
 */
export function installGuard(options: GuardOptions = {}): GuardHandle {
  if (current) throw alreadyInstalled();
  return install(options, guardEnv(process.env), applicationPackageRoots(process.argv[1], OWN_DIR));
}

/**
 * A worker thread's guard, with the settings its parent's guard handed over (hook-worker.ts): nothing comes from
 * the worker's environment, which the code that created the worker chose.
 */
export function installWorkerGuard(s: WorkerSettings): GuardHandle {
  if (current) throw alreadyInstalled();
  const options: GuardOptions = {
    mode: s.mode,
    report: s.report,
    allow: s.allow,
    allowDefaults: false,
    reportAllowed: s.reportAllowed,
  };
  return install(options, {}, s.packageRoots);
}

/** The guard's own directory: the application installed it, so the node_modules above it hold its packages. */
const OWN_DIR = fileURLToPath(new URL('.', import.meta.url));

/** The guard's variables, read once at installation: later changes to `process.env` change nothing. */
function guardEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {};
  for (const k of ['IMDSGUARD_GUARD_MODE', 'IMDSGUARD_GUARD_REPORT', 'IMDSGUARD_GUARD_ALLOW']) {
    if (env[k] !== undefined) out[k] = env[k];
  }
  return Object.freeze(out);
}

function alreadyInstalled(): Error {
  return new Error(
    'imdsguard: the guard is already installed; only the handle returned by the first installGuard() can change or remove it',
  );
}

function install(options: GuardOptions, env: NodeJS.ProcessEnv, packageRoots: readonly string[]): GuardHandle {
  if (current) {
    throw alreadyInstalled();
  }
  const resolved = resolveOptions(options, env, packageRoots);
  const stats = { blocked: 0, audited: 0, allowed: 0 };
  const inst: Installed = {
    options: resolved,
    emit: makeReporter(resolved),
    stats,
    status: undefined as unknown as GuardStatus,
  };
  const decideHere: Decide = (d, a) => {
    const dec = decide(d, a, inst.options, inst.emit);
    if (!dec.allowed) stats.blocked++;
    else if (dec.finding?.decision === 'audit') stats.audited++;
    else stats.allowed++;
    return dec;
  };
  const handleCheck = setHandleDecider(decideHere) === 'yes';
  const unhooks = [
    hookHttp(decideHere),
    hookHttp2(decideHere),
    hookNet(decideHere),
    hookReuse(decideHere),
    hookFetch(),
    hookWrites(decideHere, () => inst.options.mode === 'block'),
    hookWorkers(() => inst.options),
    setCapabilityPolicy(() => ({ mode: inst.options.mode, emit: inst.emit })),
  ];
  hookInspector();
  hookLoader();
  hookVm();
  inst.status = Object.freeze({
    get mode() {
      return inst.options.mode;
    },
    get stats() {
      return { ...stats };
    },
    handleCheck,
  });
  current = inst;
  let removed = false;
  return Object.freeze({
    get mode() {
      return inst.options.mode;
    },
    get stats() {
      return { ...stats };
    },
    handleCheck,
    reconfigure(next: GuardOptions) {
      if (removed) throw new Error('imdsguard: this guard was uninstalled');
      inst.options = resolveOptions(next, env, packageRoots);
      inst.emit = makeReporter(inst.options);
    },
    uninstall() {
      if (removed) return;
      removed = true;
      setHandleDecider(null);
      for (const u of unhooks.reverse()) u();
      current = undefined;
    },
  });
}

/** A read-only view of the installed guard, if any. */
export function guardInstalled(): GuardStatus | undefined {
  return current?.status;
}
