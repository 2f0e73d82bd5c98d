/** Per-caller token buckets. State is a value the caller owns and passes in; time comes in as a number. */
import type { RateLimit } from './types.ts';

export interface RateState {
  buckets: Map<string, { tokens: number; at: number }>;
  /** Bound on remembered callers; the oldest are forgotten first. */
  max: number;
}

export function newRateState(max = 10_000): RateState {
  return { buckets: new Map(), max };
}

/**
 * Take one token from `key`'s bucket. True when the request is within the limit.
 * @example const s = newRateState(); take(s, 'k', { requests: 1, perMs: 1000 }, 0) // true, then false at the same time
 */
export function take(state: RateState, key: string, limit: RateLimit, nowMs: number): boolean {
  let b = state.buckets.get(key);
  if (!b) {
    if (state.buckets.size >= state.max) {
      const oldest = state.buckets.keys().next().value;
      if (oldest !== undefined) state.buckets.delete(oldest);
    }
    b = { tokens: limit.requests, at: nowMs };
    state.buckets.set(key, b);
  } else {
    const refill = ((nowMs - b.at) * limit.requests) / limit.perMs;
    b.tokens = Math.min(limit.requests, b.tokens + Math.max(0, refill));
    b.at = nowMs;
    // Keep insertion order as recency, so eviction drops idle callers.
    state.buckets.delete(key);
    state.buckets.set(key, b);
  }
  if (b.tokens < 1) return false;
  b.tokens -= 1;
  return true;
}
