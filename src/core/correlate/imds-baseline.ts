import type { PathClass } from '../model/hit.ts';

/** Learned callers: who normally talks to the metadata service on this host. Persisted by the agent. */
export interface BaselineState {
  /** When learning started (ms since the epoch). */
  startedMs: number;
  /** Learning lasts this long; afterwards new callers are findings. */
  warmupMs: number;
  entries: Record<string, { firstMs: number; lastMs: number; count: number }>;
}

/** Upper bound on remembered callers: the store stays small even on a host with churning containers. */
export const BASELINE_MAX_ENTRIES = 10_000;

export function newBaseline(nowMs: number, warmupMs: number): BaselineState {
  return { startedMs: nowMs, warmupMs, entries: {} };
}

/** The identity a baseline remembers: executable, user, container image (or cgroup) and path class. */
export function baselineKey(k: {
  exe?: string | undefined;
  user?: string | undefined;
  uid?: number | undefined;
  containerKey?: string | undefined;
  pathClass: PathClass | null;
}): string {
  return [
    k.exe ?? '?',
    k.user ?? (k.uid !== undefined ? `uid:${k.uid}` : '?'),
    k.containerKey ?? 'host',
    k.pathClass ?? 'connect',
  ].join('|');
}

export function learning(state: BaselineState, nowMs: number): boolean {
  return nowMs - state.startedMs < state.warmupMs;
}

/**
 * Record one observation. Returns whether the key was known before and whether we are still learning. The state
 * is changed in place (the caller owns and persists it). Past the bound, the least recently seen entry goes.
 */
export function observeBaseline(
  state: BaselineState,
  key: string,
  nowMs: number,
): { known: boolean; learning: boolean } {
  const prev = state.entries[key];
  const isLearning = learning(state, nowMs);
  if (prev) {
    prev.lastMs = nowMs;
    prev.count++;
  } else {
    const keys = Object.keys(state.entries);
    if (keys.length >= BASELINE_MAX_ENTRIES) {
      let oldest = keys[0] as string;
      for (const k of keys) if ((state.entries[k]?.lastMs ?? 0) < (state.entries[oldest]?.lastMs ?? 0)) oldest = k;
      delete state.entries[oldest];
    }
    state.entries[key] = { firstMs: nowMs, lastMs: nowMs, count: 1 };
  }
  return { known: prev !== undefined, learning: isLearning };
}
