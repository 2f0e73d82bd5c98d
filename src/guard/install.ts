/** Install the guard in this process (once; a second call reconfigures it). */
import type { Finding } from '../core/model/finding.ts';
import { decide } from './decide.ts';
import { hookFetch } from './hook-fetch.ts';
import { hookHttp } from './hook-http.ts';
import { type Decide, hookNet } from './hook-net.ts';
import { hookReuse } from './hook-reuse.ts';
import { type GuardMode, type GuardOptions, type ResolvedGuardOptions, resolveOptions } from './options.ts';
import { makeReporter } from './report.ts';

export interface GuardHandle {
  readonly mode: GuardMode;
  /** Counts since installation. */
  readonly stats: { blocked: number; audited: number; allowed: number };
  /** Remove every hook (tests, or an app that wants to turn the guard off at run time). */
  uninstall(): void;
}

interface Installed {
  options: ResolvedGuardOptions;
  emit: (f: Finding) => void;
  stats: { blocked: number; audited: number; allowed: number };
  unhooks: Array<() => void>;
  handle: GuardHandle;
}

let current: Installed | undefined;

/**
 * Protect every outbound connection of this process. Options in code win over `IMDSGUARD_GUARD_*` variables.
 * @example
 * import { installGuard } from 'imdsguard/guard';
 * installGuard({ mode: 'block', onFinding: (f) => logger.warn(f) });
 */
export function installGuard(options: GuardOptions = {}): GuardHandle {
  const resolved = resolveOptions(options, process.env);
  if (current) {
    current.options = resolved;
    current.emit = makeReporter(resolved);
    return current.handle;
  }
  const stats = { blocked: 0, audited: 0, allowed: 0 };
  const decideHere: Decide = (d, a) => {
    const inst = current!;
    const dec = decide(d, a, inst.options, inst.emit);
    if (!dec.allowed) stats.blocked++;
    else if (dec.finding?.decision === 'audit') stats.audited++;
    else stats.allowed++;
    return dec;
  };
  const unhooks = [hookHttp(), hookNet(decideHere), hookReuse(decideHere), hookFetch()];
  const inst: Installed = {
    options: resolved,
    emit: makeReporter(resolved),
    stats,
    unhooks,
    handle: {
      get mode() {
        return current?.options.mode ?? resolved.mode;
      },
      stats,
      uninstall() {
        if (current !== inst) return;
        for (const u of unhooks.reverse()) u();
        current = undefined;
      },
    },
  };
  current = inst;
  return inst.handle;
}

/** The installed guard, if any. */
export function guardInstalled(): GuardHandle | undefined {
  return current?.handle;
}
