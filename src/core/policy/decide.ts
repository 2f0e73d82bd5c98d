/**
 * The proxy's decision as a pure function of the policy, the request, the caller and the rate-limit state.
 * Order: request-target sanity → what could not be relayed as seen (relay-check.ts) → the service's own protocol rules → `defaults` (a failed check refuses whatever
 * the rules say) → the first matching rule and its protections → the default for unmatched paths.
 */
import type { Severity } from '../model/severity.ts';
import { awsProtocolProblem, isAwsImds, isTokenRequest } from './aws-semantics.ts';
import { type RateState, take } from './rate-limit.ts';
import { relayProblem } from './relay-check.ts';
import { targetProblem } from './target-check.ts';
import type { Action, CallerIdentity, Decision, Policy, PolicyRequest, Protections, Rule } from './types.ts';

/** Name reported when no rule matched a credentials or token path. */
export const DEFAULT_CREDENTIALS_RULE = 'default: credentials and token paths';
export const DEFAULT_UNMATCHED_RULE = 'default: unmatched';

export interface DecideContext {
  nowMs: number;
  rate: RateState;
}

function severityFor(req: PolicyRequest, action: Action, rule?: Rule): Severity {
  if (rule?.severity) return rule.severity;
  const sensitive =
    req.pathClass === 'credentials'
      ? 'high'
      : req.pathClass === 'token' || req.pathClass === 'user-data'
        ? 'medium'
        : 'low';
  return action === 'allow' ? 'info' : sensitive;
}

function refuse(status: number, reason: string, rule: string, req: PolicyRequest, report = true): Decision {
  return { action: 'deny', status, reason, rule, report, severity: severityFor(req, 'deny') };
}

/** Fields a relaying proxy adds naming the client it relays for (X-Real-IP: nginx; True-Client-IP: CDNs). */
const RELAY_MARKS = new Set(['forwarded', 'via', 'x-real-ip', 'x-client-ip', 'true-client-ip']);

/**
 * The first field that marks a request relayed by a proxy, as written, or undefined: Forwarded, Via, any
 * X-Forwarded-* field, X-Real-IP, X-Client-IP, True-Client-IP — with `_` read as `-`, since servers that map
 * header names to variables (CGI, WSGI, PHP) read `X_Forwarded_For` as X-Forwarded-For.
 */
export function forwardingField(h: PolicyRequest['headers']): string | undefined {
  for (const name of Object.keys(h)) {
    if (h[name] === undefined) continue;
    const n = name.replaceAll('_', '-');
    if (RELAY_MARKS.has(n) || n.startsWith('x-forwarded-')) return name;
  }
  return undefined;
}

/** A stable key for "the same caller" across connections and pids (rate limits). */
export function callerKey(c: CallerIdentity): string {
  if (!c.known) return 'unknown';
  return `${c.uid ?? ''}|${c.exe ?? ''}|${c.netns ?? ''}|${c.container ?? ''}`;
}

/** Caller-side conditions only (who), without method/path/provider (what). */
function matchesCaller(rule: Rule, c: CallerIdentity): boolean {
  const m = rule.match;
  return (!m.caller || m.caller(c)) && (!m.exeSha256 || m.exeSha256(c.exeSha256));
}

function matchesRequest(rule: Rule, req: PolicyRequest): boolean {
  const m = rule.match;
  return (
    (!m.method || m.method(req.method.toUpperCase())) &&
    (!m.path || m.path(req.path)) &&
    (!m.provider || m.provider(req.provider)) &&
    (!m.pathClass || m.pathClass(req.pathClass))
  );
}

const restrictsWhat = (r: Rule) => Boolean(r.match.method || r.match.path || r.match.provider || r.match.pathClass);

/** Protections switched on by the defaults or a rule: [status, reason, check] of the first that fails, or null. */
function protectionProblem(
  p: Protections,
  scope: string,
  req: PolicyRequest,
  caller: CallerIdentity,
  ctx: DecideContext,
): [number, string, string] | null {
  const relayed = p.rejectForwarded ? forwardingField(req.headers) : undefined;
  if (relayed !== undefined) {
    return [403, `request carries ${relayed} (a mark of a request relayed by a proxy)`, `${scope}reject_forwarded`];
  }
  if (p.imdsv2Only && isAwsImds(req) && !isTokenRequest(req) && req.token !== 'valid') {
    return [
      401,
      req.token === 'none' ? 'IMDSv2 token required' : 'IMDSv2 token invalid or expired',
      `${scope}imdsv2_only`,
    ];
  }
  if (p.rateLimit && !take(ctx.rate, `${scope}\u0000${callerKey(caller)}`, p.rateLimit, ctx.nowMs)) {
    return [429, 'rate limit exceeded', `${scope}rate_limit`];
  }
  return null;
}

/**
 * The rule a token PUT falls under: a caller gets a token when at least one allow or audit rule would let it
 * through for some path. A rule that names the token path itself decides directly; a caller-wide deny ends the
 * search. (Shadowing of a path rule by an earlier path-specific deny is not computed: the token is granted.)
 */
function tokenRule(policy: Policy, req: PolicyRequest, caller: CallerIdentity): Rule | undefined {
  for (const rule of policy.rules) {
    if (!matchesCaller(rule, caller)) continue;
    const m = rule.match;
    if (m.provider && !m.provider(req.provider)) continue;
    const namesTokenPath = m.path?.(req.path) || m.pathClass?.('token');
    if (namesTokenPath) {
      if (!m.method || m.method('PUT')) return rule;
      continue;
    }
    if (rule.action !== 'deny') {
      // Rules limited to methods other than GET/HEAD never let a metadata read through.
      if (m.method && !m.method('GET') && !m.method('HEAD')) continue;
      return rule;
    }
    if (!restrictsWhat(rule)) return rule;
  }
  return undefined;
}

/**
 * Decide what to do with one request.
 * @example decide(parsePolicy(text), request, caller, { nowMs: 0, rate: newRateState() }).action
 */
export function decide(policy: Policy, req: PolicyRequest, caller: CallerIdentity, ctx: DecideContext): Decision {
  const d = policy.defaults;
  if (d.targetCheck) {
    const problem = targetProblem(req.target);
    if (problem) return refuse(400, `invalid request target: ${problem}`, 'defaults.target_check', req);
  }
  const relay = relayProblem(req.method, req.headers);
  if (relay) return refuse(400, relay, 'relay-check', req);
  const proto = awsProtocolProblem(req);
  if (proto) return refuse(proto[0], proto[1], 'aws-semantics', req, false);

  // Checks from the defaults: a deny here is final; an audit here marks the request whatever the rules say.
  let audited: string | undefined;
  if (!caller.known) {
    if (d.unknownCaller === 'deny')
      return refuse(
        403,
        `caller could not be identified (${caller.reason ?? 'unknown'})`,
        'defaults.unknown_caller',
        req,
      );
    if (d.unknownCaller === 'audit') audited = 'defaults.unknown_caller';
  }
  if (caller.otherNamespace) {
    if (d.otherNamespaces === 'deny')
      return refuse(403, 'caller is in another network namespace', 'defaults.other_namespaces', req);
    if (d.otherNamespaces === 'audit') audited ??= 'defaults.other_namespaces';
  }
  const fromDefaults = protectionProblem(d, 'defaults.', req, caller, ctx);
  if (fromDefaults) return refuse(fromDefaults[0], fromDefaults[1], fromDefaults[2], req);

  const rule = isTokenRequest(req)
    ? tokenRule(policy, req, caller)
    : policy.rules.find((r) => matchesCaller(r, caller) && matchesRequest(r, req));

  let decision: Decision;
  if (rule) {
    if (rule.action === 'deny') return refuse(403, 'denied by policy', rule.name, req, rule.report);
    const p = protectionProblem(rule, `${rule.name}: `, req, caller, ctx);
    if (p) return refuse(p[0], p[1], p[2], req, rule.report);
    decision = {
      action: rule.action,
      reason: rule.action === 'audit' ? 'allowed and reported' : 'allowed',
      rule: rule.name,
      report: rule.report,
      severity: severityFor(req, rule.action, rule),
    };
  } else if (req.pathClass === 'credentials' || req.pathClass === 'token') {
    return refuse(403, `no rule allows ${req.pathClass} paths`, DEFAULT_CREDENTIALS_RULE, req);
  } else if (d.unmatched === 'deny') {
    return refuse(403, 'no rule matched', DEFAULT_UNMATCHED_RULE, req);
  } else {
    decision = {
      action: d.unmatched,
      reason: 'no rule matched',
      rule: DEFAULT_UNMATCHED_RULE,
      report: d.unmatched === 'audit',
      severity: severityFor(req, d.unmatched),
    };
  }
  if (audited && decision.action === 'allow') {
    decision = {
      ...decision,
      action: 'audit',
      reason: `allowed and reported (${audited})`,
      report: true,
      severity: severityFor(req, 'audit'),
    };
  }
  return decision;
}
