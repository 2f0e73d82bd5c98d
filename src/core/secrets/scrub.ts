import { applyMasks, detectLine, mayHoldSecret, newDetectState } from './detect.ts';
import { mask } from './mask.ts';

/** A string with every secret masked (each string read on its own: no state from other strings). */
export function scrubText(s: string): string {
  if (!mayHoldSecret(s) && !s.includes('PRIVATE KEY')) return s;
  const parts = s.split('\n');
  const state = newDetectState();
  return parts.map((p) => applyMasks(p, detectLine(p, state), (m) => mask(m.value))).join('\n');
}

/**
 * A copy of a record (a finding) with every secret in any string field masked. Findings quote what they saw
 * (a raw request target, a header, a body), and what they saw may hold a credential next to the SSRF payload: this is
 * the last step before any sink, so that no output ever carries a secret.
 * @example scrubRecord({ target: { raw: '/x?k=ASIAQ3EGU7LR2WNPQX7Z' } }) // { target: { raw: '/x?k=ASIA****QX7Z' } }
 */
export function scrubRecord<T>(value: T): T {
  return walk(value, 0) as T;
}

function walk(v: unknown, depth: number): unknown {
  if (typeof v === 'string') return scrubText(v);
  if (depth > 32 || v === null || typeof v !== 'object') return v;
  if (Array.isArray(v)) {
    let changed = false;
    const out = v.map((x) => {
      const y = walk(x, depth + 1);
      if (y !== x) changed = true;
      return y;
    });
    return changed ? out : v;
  }
  let changed = false;
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
    const y = walk(x, depth + 1);
    if (y !== x) changed = true;
    out[k] = y;
  }
  return changed ? out : v;
}
