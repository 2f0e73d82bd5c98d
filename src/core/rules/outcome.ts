import type { PathClass } from '../model/hit.ts';

/**
 * Did the request probably get the metadata back? Inferred from the logged status and response size: 2xx/3xx with a
 * size in the range that path returns (a role name is a few bytes, a credentials document about 1–1.5 KiB, an
 * IMDSv2 token 56 bytes, an identity document under 1 KiB, user data at most 16 KiB) is `likely-success`;
 * 4xx/5xx, an empty body, or a size that only fits an error or application page is `attempt`.
 */
const SIZE: Record<PathClass, [number, number]> = {
  credentials: [4, 6144],
  token: [20, 4096],
  'user-data': [1, 16_384 + 1024],
  identity: [64, 8192],
  index: [4, 4096],
  other: [1, 8192],
};

export interface Outcome {
  outcome: 'likely-success' | 'attempt';
  reason: string;
}

export function inferOutcome(pathClass: PathClass, status: number | undefined, bytes: number | undefined): Outcome {
  if (status === undefined) return { outcome: 'attempt', reason: 'no response status logged' };
  if (status >= 400 || status < 200) return { outcome: 'attempt', reason: `response status ${status}` };
  if (bytes === undefined) return { outcome: 'attempt', reason: `status ${status} but no response size logged` };
  const [lo, hi] = SIZE[pathClass];
  if (bytes < lo)
    return { outcome: 'attempt', reason: `status ${status} with ${bytes} bytes, too small for ${pathClass}` };
  if (bytes > hi)
    return {
      outcome: 'attempt',
      reason: `status ${status} with ${bytes} bytes, larger than ${pathClass} responses (an app page?)`,
    };
  return {
    outcome: 'likely-success',
    reason: `status ${status} with ${bytes} bytes, within the size of ${pathClass} responses (${lo}–${hi} bytes)`,
  };
}
