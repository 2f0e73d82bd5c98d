/**
 * The guard's decision for one metadata connection, and the finding that records it.
 * Only reached when the destination is a metadata service, so nothing here is on the common request path.
 */
import { ATTACK } from '../core/model/attack.ts';
import { type Finding, makeFinding } from '../core/model/finding.ts';
import { maskArgv } from '../core/secrets/argv.ts';
import { maskRecord } from '../core/secrets/masker.ts';
import { GuardBlockedError } from './blocked-error.ts';
import { type CallerStack, type CallerSummary, callerFrames, summarise } from './caller.ts';
import type { MetadataDestination } from './destination.ts';
import { inspectorOpenedAfterInstall } from './inspector-port.ts';
import {
  ArrayPrototypePush,
  arrayHas,
  DateNow,
  ReflectApply,
  ReflectGetOwnPropertyDescriptor,
  StringPrototypeToLowerCase,
} from './intrinsics.ts';
import type { AllowRule, ResolvedGuardOptions } from './options.ts';

export const GUARD_RULE = { id: 'guard-metadata-connection', name: 'In-process metadata connection' } as const;

const INSPECTOR_OPEN_REASON =
  'an inspector port was opened in this process after the guard was installed: any code can reach the original connect through it, so no caller is trusted';

export interface ConnectionAttempt {
  /** The host the caller asked for, as written. */
  host: string;
  /** The address the socket would use (null when only the hostname is known). */
  address: string | null;
  port: number | null;
  /** Request path and method when the client told us (node:http, fetch). */
  path?: string;
  method?: string;
  header?: (name: string) => string | undefined;
  /** Which hook saw it: `net`, `http`, `fetch`. */
  via: string;
  /** Stacks that may name the caller: the one at connect time and, for fetch, the one at the call. */
  callers: readonly CallerStack[];
}

export interface Decision {
  allowed: boolean;
  error?: GuardBlockedError;
  finding?: Finding;
}

/**
 * An own property, or undefined: a property missing on an object would be read from `Object.prototype`, where any
 * code can put an accessor (`requestSite` answering false, `header` answering a function).
 */
function own<T extends object, K extends keyof T>(o: T, k: K): T[K] | undefined {
  const desc = ReflectGetOwnPropertyDescriptor(o, k);
  return desc === undefined || !('value' in desc) ? undefined : (desc.value as T[K]);
}

/**
 * The first rule naming a package on the stack whose providers include the destination's. When the path does not
 * tell which provider a shared address is (a raw socket to 169.254.169.254), any provider answering there counts.
 */
function matchAllow(
  allow: readonly AllowRule[],
  s: CallerSummary,
  d: MetadataDestination,
  header: ConnectionAttempt['header'],
): AllowRule | undefined {
  const providers = d.provider === 'multi' ? d.providers : [d.provider];
  for (let i = 0; i < allow.length; i++) {
    const r = allow[i]!;
    if (!arrayHas(own(r, 'requestSite') === true ? s.siteRequesters : s.requesters, r.package)) continue;
    const ps = own(r, 'providers');
    if (ps !== undefined) {
      let any = false;
      for (let j = 0; j < ps.length && !any; j++) any = arrayHas(providers, ps[j]!);
      if (!any) continue;
    }
    const h = own(r, 'header');
    if (h !== undefined) {
      const v = typeof header === 'function' ? ReflectApply(header, undefined, [h.name]) : undefined;
      if (typeof v !== 'string' || StringPrototypeToLowerCase(v) !== StringPrototypeToLowerCase(h.value)) continue;
    }
    return r;
  }
  return undefined;
}

export function processInfo(): NonNullable<Finding['process']> {
  const p: NonNullable<Finding['process']> = {
    pid: process.pid,
    ppid: process.ppid,
    exe: process.execPath,
    argv: maskArgv(process.argv),
  };
  if (typeof process.getuid === 'function') p.uid = process.getuid();
  return p;
}

/** The request line as the output contract has it: `token` says whether an IMDSv2 session token was sent. */
function httpOf(a: ConnectionAttempt): NonNullable<Finding['http']> {
  return {
    ...(a.method ? { method: a.method } : {}),
    ...(a.path ? { path: a.path } : {}),
    token: Boolean(a.header?.('x-aws-ec2-metadata-token')),
  };
}

/** IMDSv2 when the request carries a session token or asks for one (PUT …/api/token); IMDSv1 otherwise. */
function imdsVersion(a: ConnectionAttempt): 1 | 2 {
  if (a.header?.('x-aws-ec2-metadata-token')) return 2;
  if (a.method === 'PUT' && /\/api\/token/.test(a.path ?? '')) return 2;
  return 1;
}

/** Decide, emit the finding, and return what the hook must do. */
export function decide(
  d: MetadataDestination,
  a: ConnectionAttempt,
  o: ResolvedGuardOptions,
  emit: (f: Finding) => void,
): Decision {
  // Each stack is read on its own: the packages that made the request are those innermost on one stack.
  const summaries: CallerSummary[] = [];
  for (let i = 0; i < a.callers.length; i++)
    ArrayPrototypePush(summaries, summarise(callerFrames(a.callers[i]!, o.packageRoots)));
  const packages: string[] = [];
  let appFrame: string | null = null;
  let rule: AllowRule | undefined;
  const header = own(a, 'header');
  // While an inspector port opened after installation is open, any code may have taken the guard's originals
  // through it, and may be driving an SDK: in block mode no caller is trusted.
  const inspectorOpen = o.mode === 'block' && inspectorOpenedAfterInstall();
  for (let i = 0; i < summaries.length; i++) {
    const s = summaries[i]!;
    for (let j = 0; j < s.packages.length; j++)
      if (!arrayHas(packages, s.packages[j]!)) ArrayPrototypePush(packages, s.packages[j]!);
    if (appFrame === null) appFrame = s.appFrame;
    if (!inspectorOpen) rule ??= matchAllow(o.allow, s, d, header);
  }
  const outcome: 'allow' | 'deny' | 'audit' = rule ? 'allow' : o.mode === 'block' ? 'deny' : 'audit';
  if (outcome === 'allow' && !o.reportAllowed) return { allowed: true };
  try {
    return recorded(d, a, o, emit, outcome, rule, packages, appFrame, inspectorOpen);
  } catch {
    // Built-ins broken under the finding: the decision stands, recorded with what can still be said.
    const reason = rule
      ? `allowed: ${rule.package} is on the caller's stack`
      : inspectorOpen
        ? INSPECTOR_OPEN_REASON
        : 'no allowlisted cloud SDK made the request';
    try {
      emit(minimalFinding(d, a, outcome, reason));
    } catch {
      // Reporting must not decide.
    }
    if (outcome !== 'deny') return { allowed: true };
    return { allowed: false, error: new GuardBlockedError(d, a, reason, '') };
  }
}

/**
 * A finding made of literals and the destination only, for when building the full one failed (the masker and the
 * finding model use the built-ins of the moment, which code may have broken).
 */
function minimalFinding(
  d: MetadataDestination,
  a: ConnectionAttempt,
  outcome: 'allow' | 'deny' | 'audit',
  reason: string,
): Finding {
  return {
    id: `${GUARD_RULE.id}-${process.pid}-${DateNow()}`,
    rule: { id: GUARD_RULE.id, name: GUARD_RULE.name },
    severity: 'high',
    title:
      outcome === 'deny'
        ? 'Blocked an in-process connection to a metadata service'
        : 'In-process connection to a metadata service',
    description: reason,
    origin: { sensor: 'imdsguard-guard' },
    verdict: 'metadata',
    provider: d.provider,
    decision: outcome,
    destination: { ip: a.address ?? a.host, port: a.port ?? 0 },
    evidence: { via: a.via, finding: 'minimal: the full finding could not be built' },
  } as unknown as Finding;
}

/** The finding for a decision, emitted, and what the hook must do. */
function recorded(
  d: MetadataDestination,
  a: ConnectionAttempt,
  o: ResolvedGuardOptions,
  emit: (f: Finding) => void,
  outcome: 'allow' | 'deny' | 'audit',
  rule: AllowRule | undefined,
  packages: string[],
  appFrame: string | null,
  inspectorOpen: boolean,
): Decision {
  const hostPart = `${a.host.includes(':') ? `[${a.host}]` : a.host}${a.port !== null ? `:${a.port}` : ''}`;
  const addrPart = a.address
    ? `${a.address.includes(':') ? `[${a.address}]` : a.address}${a.port !== null ? `:${a.port}` : ''}`
    : hostPart;
  const path = a.path ?? '';
  const reason = rule
    ? `allowed: ${rule.package} is on the caller's stack${rule.reason ? ` (${rule.reason})` : ''}`
    : inspectorOpen
      ? INSPECTOR_OPEN_REASON
      : a.callers.length === 0
        ? `"${a.host}" resolved to a metadata address (cloud SDKs use the address or the provider's hostname, so the allowlist does not apply)`
        : packages.length > 0
          ? `no allowlisted cloud SDK made the request (packages on the stack: ${packages.slice(0, 6).join(', ')})`
          : 'no allowlisted cloud SDK made the request';
  const finding = maskRecord(
    makeFinding({
      idEvidence: [GUARD_RULE.id, process.pid, a.host, a.address, a.port, path, outcome, DateNow()],
      rule: { ...GUARD_RULE },
      severity:
        outcome === 'allow' ? 'info' : d.sensitivity === 'low' || d.sensitivity === 'info' ? 'medium' : d.sensitivity,
      confidence: 1,
      attack: [ATTACK.cloudInstanceMetadataApi],
      title:
        outcome === 'deny'
          ? `Blocked an in-process connection to the ${d.provider} metadata service`
          : outcome === 'audit'
            ? `In-process connection to the ${d.provider} metadata service`
            : `Allowed ${rule?.package} to reach the ${d.provider} metadata service`,
      description: reason,
      remediation:
        'If the application must read instance metadata, do it through the cloud SDK (allowlisted) or add the calling package to the guard allowlist. Otherwise find where the destination came from (often a user-supplied URL) and validate it; require IMDSv2 and a hop limit of 1 on AWS.',
      origin: { sensor: 'imdsguard-guard' },
      time: new Date().toISOString(),
      verdict: 'metadata',
      provider: d.provider,
      service: d.service,
      target: {
        raw: `${hostPart}${path}`,
        decoded: `http://${addrPart}${path}`,
        host: a.host,
        ...(a.path !== undefined ? { path: a.path, path_class: d.pathClass } : {}),
      },
      transforms: a.address && a.address !== a.host ? ['dns-resolution'] : [],
      outcome: outcome === 'deny' ? 'attempt' : 'likely-success',
      process: processInfo(),
      ...(a.address ? { destination: { ip: a.address, port: a.port ?? 0 } } : {}),
      ...(a.method || a.path ? { http: httpOf(a) } : {}),
      ...(d.service === 'ec2-imds' && a.header ? { imds_version: imdsVersion(a) } : {}),
      decision: outcome,
      policy_rule: rule ? `allow:${rule.package}` : `mode:${o.mode}`,
      evidence: { via: a.via, caller_packages: packages, app_frame: appFrame },
    }),
  );
  emit(finding);
  if (outcome === 'deny') {
    return { allowed: false, finding, error: new GuardBlockedError(d, a, reason, finding.id) };
  }
  return { allowed: true, finding };
}
