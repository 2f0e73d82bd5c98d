/**
 * Decisions remembered per caller and request shape. decide() is a pure function of the policy, the caller, the
 * method, the request target (which fixes the path and its classification), the token state, whether forwarding
 * headers are present, and — only for a token PUT — the TTL header; plus the rate-limit state when some check
 * limits rates. So while the policy object is the same (a reload makes a new one) and no rate limit is configured,
 * a keep-alive client asking for the same path again gets the same decision without the request-target checks
 * and the rule walk. Token PUTs and policies with rate limits always go through decide().
 */
import { AWS_TOKEN_PATH } from './aws-semantics.ts';
import { decide } from './decide.ts';
import type { RateState } from './rate-limit.ts';
import type { CallerIdentity, Decision, Policy, PolicyRequest } from './types.ts';

const MAX_PER_CALLER = 256;

function limitsRates(p: Policy): boolean {
  return p.defaults.rateLimit !== undefined || p.rules.some((r) => r.rateLimit !== undefined);
}

export class DecisionCache {
  private readonly rate: RateState;
  private policy: Policy | undefined;
  private cacheable = false;
  private byCaller = new WeakMap<CallerIdentity, Map<string, Decision>>();

  constructor(rate: RateState) {
    this.rate = rate;
  }

  decide(policy: Policy, req: PolicyRequest, caller: CallerIdentity, nowMs: number): Decision {
    if (policy !== this.policy) {
      this.policy = policy;
      this.cacheable = !limitsRates(policy);
      this.byCaller = new WeakMap();
    }
    if (!this.cacheable || req.path === AWS_TOKEN_PATH) return decide(policy, req, caller, { nowMs, rate: this.rate });
    const h = req.headers;
    const fwd = h['x-forwarded-for'] !== undefined || h.forwarded !== undefined || h.via !== undefined;
    const key = `${req.method}\u0000${req.token}\u0000${fwd ? 1 : 0}\u0000${req.target}`;
    let m = this.byCaller.get(caller);
    if (!m) {
      m = new Map();
      this.byCaller.set(caller, m);
    }
    let d = m.get(key);
    if (!d) {
      d = decide(policy, req, caller, { nowMs, rate: this.rate });
      if (m.size >= MAX_PER_CALLER) m.clear();
      m.set(key, d);
    }
    return d;
  }
}
