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

/** Entry counts, so the bound is checked without counting keys on every insert (not persisted). */
const COUNTS = new WeakMap<BaselineState, number>();

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
 * is changed in place (the caller owns and persists it). Past the bound, the least recently seen entries go.
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
    let n = COUNTS.get(state) ?? Object.keys(state.entries).length;
    if (n >= BASELINE_MAX_ENTRIES) {
      // Evict the least recently seen tenth at once, so a flood of new callers costs one sort per 1,000 inserts.
      const byAge = Object.entries(state.entries).sort((a, b) => a[1].lastMs - b[1].lastMs);
      const drop = Math.max(1, Math.floor(BASELINE_MAX_ENTRIES / 10));
      for (const [k] of byAge.slice(0, drop)) delete state.entries[k];
      n -= drop;
    }
    state.entries[key] = { firstMs: nowMs, lastMs: nowMs, count: 1 };
    COUNTS.set(state, n + 1);
  }
  return { known: prev !== undefined, learning: isLearning };
}
