/** Proxy decisions as output records: one event per request, and a finding where the decision says so. */
import { ATTACK } from '../model/attack.ts';
import { type Finding, makeFinding } from '../model/finding.ts';
import type { Severity } from '../model/severity.ts';
import { maskArgv } from '../secrets/argv.ts';
import { mayHoldSecret } from '../secrets/detect.ts';
import { mayBeEncoded } from '../secrets/layers.ts';
import { maskText } from '../secrets/masker.ts';
import { AWS_TOKEN_HEADER, isAwsImds, isTokenRequest } from './aws-semantics.ts';
import type { CallerIdentity, Decision, PolicyRequest } from './types.ts';

export const PROXY_SENSOR = 'imdsguard-proxy';

/** What one proxied request came to. */
export interface ProxyOutcome {
  /** RFC 3339 UTC. */
  time: string;
  request: PolicyRequest;
  caller: CallerIdentity;
  decision: Decision;
  destination: { ip: string; port: number };
  status: number;
  latencyMs: number;
  /** The listener it arrived on (host:port). */
  listener: string;
  /** Set when the upstream failed (refused, timed out). */
  upstreamError?: string;
}

export interface ProxyEventRecord {
  type: 'event';
  kind: 'proxy-request';
  time: string;
  origin: { sensor: string; listener: string };
  process: Record<string, unknown>;
  destination: { ip: string; port: number };
  http: { method: string; path: string; token: boolean };
  imds_version?: 1 | 2;
  provider: string | null;
  service: string | null;
  path_class: string;
  decision: Decision['action'];
  policy_rule: string;
  reason: string;
  status: number;
  latency_ms: number;
  upstream_error?: string;
}

function processOf(c: CallerIdentity): Record<string, unknown> {
  const p: Record<string, unknown> = { identity: c.known ? 'known' : 'unknown' };
  if (!c.known && c.reason) p.reason = c.reason;
  for (const k of ['pid', 'ppid', 'exe', 'uid', 'user', 'netns', 'container'] as const) {
    if (c[k] !== undefined) p[k] = c[k];
  }
  if (c.argv) p.argv = maskArgv(c.argv);
  if (c.exeSha256) p.exe_sha256 = c.exeSha256;
  p.other_namespace = c.otherNamespace;
  return p;
}

const MASKED_PATHS = new Map<string, string>();

/** The path of a request target, without its query, any secret in it masked (cached: clients repeat paths). */
function pathOnly(target: string): string {
  const q = target.search(/[?#]/);
  const path = q < 0 ? target : target.slice(0, q);
  if (!mayHoldSecret(path) && !mayBeEncoded(path)) return path;
  let m = MASKED_PATHS.get(path);
  if (m === undefined) {
    m = maskText(path);
    if (MASKED_PATHS.size > 1024) MASKED_PATHS.clear();
    MASKED_PATHS.set(path, m);
  }
  return m;
}

function imdsVersion(r: PolicyRequest): 1 | 2 | undefined {
  if (!isAwsImds(r)) return undefined;
  return isTokenRequest(r) || r.headers[AWS_TOKEN_HEADER] !== undefined ? 2 : 1;
}

/**
 * The event every request becomes. Holds no body and no token value: `http.token` says only whether one was sent.
 * @example proxyEvent(outcome).decision // 'allow'
 */
export function proxyEvent(o: ProxyOutcome): ProxyEventRecord {
  const v = imdsVersion(o.request);
  return {
    type: 'event',
    kind: 'proxy-request',
    time: o.time,
    origin: { sensor: PROXY_SENSOR, listener: o.listener },
    process: processOf(o.caller),
    destination: o.destination,
    http: {
      method: o.request.method,
      path: pathOnly(o.request.target),
      token: o.request.headers[AWS_TOKEN_HEADER] !== undefined,
    },
    ...(v ? { imds_version: v } : {}),
    provider: o.request.provider,
    service: o.request.service,
    path_class: o.request.pathClass,
    decision: o.decision.action,
    policy_rule: o.decision.rule,
    reason: o.decision.reason,
    status: o.status,
    latency_ms: Math.round(o.latencyMs * 1000) / 1000,
    ...(o.upstreamError ? { upstream_error: o.upstreamError } : {}),
  };
}

/** The finding for a reported decision (deny and audit by default), or null. */
export function proxyFinding(o: ProxyOutcome): Finding | null {
  if (!o.decision.report) return null;
  const d = o.decision;
  const ev = proxyEvent(o);
  const who = o.caller.known
    ? `${o.caller.exe ?? `pid ${o.caller.pid}`} (uid ${o.caller.uid ?? '?'})`
    : 'an unidentified caller';
  const verb = d.action === 'deny' ? 'refused' : d.action === 'audit' ? 'audited' : 'allowed';
  const severity: Severity = d.severity;
  const c = o.caller;
  return makeFinding({
    rule: { id: `proxy-${d.action}`, name: `Metadata request ${verb} by the proxy policy` },
    severity,
    confidence: 1,
    attack: [ATTACK.cloudInstanceMetadataApi],
    title: `${who} ${ev.http.method} ${ev.http.path}: ${verb} (${d.rule})`,
    description: d.reason,
    remediation:
      d.action === 'deny'
        ? 'Check whether this process should read instance metadata; if it should, add a rule for it, otherwise investigate how it came to ask.'
        : 'Review whether this caller needs this metadata path; narrow the rule or deny it once confirmed.',
    origin: { sensor: PROXY_SENSOR },
    time: o.time,
    ...(c.known && c.pid !== undefined
      ? {
          process: {
            pid: c.pid,
            ...(c.ppid !== undefined ? { ppid: c.ppid } : {}),
            ...(c.exe !== undefined ? { exe: c.exe } : {}),
            ...(c.argv !== undefined ? { argv: maskArgv(c.argv) } : {}),
            ...(c.uid !== undefined ? { uid: c.uid } : {}),
            ...(c.user !== undefined ? { user: c.user } : {}),
            ...(c.netns !== undefined ? { netns: c.netns } : {}),
            ...(c.container !== undefined ? { container: c.container } : {}),
          },
        }
      : {}),
    destination: o.destination,
    http: ev.http,
    ...(ev.imds_version ? { imds_version: ev.imds_version } : {}),
    provider: o.request.provider,
    service: o.request.service,
    decision: d.action,
    policy_rule: d.rule,
    status: o.status,
    latency_ms: ev.latency_ms,
    evidence: { process: ev.process, path_class: o.request.pathClass, reason: d.reason },
    idEvidence: [o.time, c.pid, c.exe, ev.http.method, ev.http.path, d.rule, o.listener],
  });
}
