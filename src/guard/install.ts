/**
 * Install the guard in this process, once. The handle `installGuard()` returns is the capability to change or
 * remove it: nothing else can (a second `installGuard()` throws, `guardInstalled()` gives a read-only view), so a
 * module that an attacker controls cannot switch the guard to monitor mode or uninstall it. With
 * `--import imdsguard/guard/register` nobody holds the handle: the settings of the environment stay.
 */
import type { Finding } from '../core/model/finding.ts';
import { decide } from './decide.ts';
import { hookFetch } from './hook-fetch.ts';
import { setHandleDecider } from './hook-handle.ts';
import { hookHttp } from './hook-http.ts';
import { type Decide, hookNet } from './hook-net.ts';
import { hookReuse } from './hook-reuse.ts';
import { hookWorkers } from './hook-worker.ts';
import { hookWrites } from './hook-write.ts';
import { type GuardMode, type GuardOptions, type ResolvedGuardOptions, resolveOptions } from './options.ts';
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
  if (current) {
    throw new Error(
      'imdsguard: the guard is already installed; only the handle returned by the first installGuard() can change or remove it',
    );
  }
  const resolved = resolveOptions(options, process.env);
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
    hookNet(decideHere),
    hookReuse(decideHere),
    hookFetch(),
    hookWrites(decideHere, () => inst.options.mode === 'block'),
    hookWorkers(() => ({ mode: inst.options.mode, report: inst.options.report })),
  ];
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
      inst.options = resolveOptions(next, process.env);
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
