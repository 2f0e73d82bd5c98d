/** Guard options: what to do with a metadata connection, whom to let through, where findings go. */
import type { Finding } from '../core/model/finding.ts';

export type GuardMode = 'block' | 'monitor';

/**
 * Let a caller through: a metadata connection is allowed when `package` is on the JavaScript stack that made the
 * request and (when `providers` is given) the destination belongs to one of those providers.
 */
export interface AllowRule {
  package: string;
  providers?: readonly string[];
  /**
   * Also require this request header (value compared case-insensitively). Used for an SDK's HTTP transport, which
   * is on the stack of every request the SDK makes but also of the app's own: the metadata protocol header the
   * SDK sends (and that a user-supplied URL cannot add) narrows it to the SDK's requests.
   */
  header?: { name: string; value: string };
  /**
   * Count the package only on a stack whose innermost frame is one of the catalogued lines where an SDK sends
   * its metadata request (request-sites.ts), not wherever the package is on the stack. The built-in entries set
   * it; an entry without it trusts every frame of its package.
   */
  requestSite?: boolean;
  /** Why this entry exists (shown in findings). */
  reason?: string;
}

/** Where findings go. `stderr`: one JSON object per line; `{ file }`: appended, one per line; `none`: only the callback. */
export type GuardReport = 'stderr' | 'none' | { file: string };

export interface GuardOptions {
  /** `block` (default) refuses the connection; `monitor` lets it through. Both emit a finding. */
  mode?: GuardMode;
  /** Extra allowlist entries, checked with the defaults. */
  allow?: readonly AllowRule[];
  /** Keep the built-in allowlist of cloud SDK credential providers (default true). */
  allowDefaults?: boolean;
  /** Called synchronously with every finding; exceptions it throws are swallowed. */
  onFinding?: (finding: Finding) => void;
  /** Default `stderr`. */
  report?: GuardReport;
  /** Also report metadata connections that the allowlist let through, at `info` (default false). */
  reportAllowed?: boolean;
}

/**
 * Frozen copies: the allowlist is exported and handed around, and code that could add an entry to it could let
 * itself through.
 */
function frozenRules(rules: readonly AllowRule[]): readonly AllowRule[] {
  return Object.freeze(
    rules.map((r) =>
      Object.freeze({
        ...r,
        ...(r.providers ? { providers: Object.freeze([...r.providers]) } : {}),
        ...(r.header ? { header: Object.freeze({ ...r.header }) } : {}),
      }),
    ),
  );
}

/**
 * The cloud SDKs' own metadata clients. They are the code paths that legitimately read credentials from the
 * metadata service; each may reach only its own provider.
 */
export const DEFAULT_ALLOW: readonly AllowRule[] = frozenRules([
  {
    requestSite: true,
    package: '@smithy/credential-provider-imds',
    providers: ['aws'],
    reason: 'AWS SDK v3 instance/container credential provider',
  },
  {
    requestSite: true,
    package: '@aws-sdk/credential-provider-imds',
    providers: ['aws'],
    reason: 'AWS SDK v3 instance credential provider',
  },
  {
    requestSite: true,
    package: '@aws-sdk/credential-provider-http',
    providers: ['aws'],
    reason: 'AWS SDK v3 container (ECS/EKS) credential provider',
  },
  {
    requestSite: true,
    package: 'gcp-metadata',
    providers: ['gcp'],
    reason: 'google-auth-library metadata client',
  },
  {
    requestSite: true,
    package: 'google-auth-library',
    providers: ['gcp'],
    reason: 'Google Cloud credentials',
  },
  {
    requestSite: true,
    package: '@azure/identity',
    providers: ['azure'],
    reason: 'Azure managed identity credential',
  },
  {
    requestSite: true,
    package: '@azure/msal-node',
    providers: ['azure'],
    reason: 'Azure managed identity (MSAL) used by @azure/identity',
  },
  // Their transports: async hops (`return promise` without await) hide the SDK frame from the stack, so the
  // transport counts only with the protocol header the SDK always sends.
  {
    requestSite: true,
    package: 'gaxios',
    providers: ['gcp'],
    header: { name: 'metadata-flavor', value: 'Google' },
    reason: 'google-auth-library transport with the Metadata-Flavor header',
  },
  {
    requestSite: true,
    package: '@azure/core-rest-pipeline',
    providers: ['azure'],
    header: { name: 'metadata', value: 'true' },
    reason: '@azure/identity transport with the Metadata header',
  },
]);

export interface ResolvedGuardOptions {
  mode: GuardMode;
  allow: readonly AllowRule[];
  onFinding: ((finding: Finding) => void) | undefined;
  report: GuardReport;
  reportAllowed: boolean;
  /**
   * Real paths of the node_modules directories whose packages can be callers (see package-roots.ts): an
   * allowlisted name counts only for a package installed there.
   */
  packageRoots: readonly string[];
}

function parseMode(v: string | undefined, source: string): GuardMode | undefined {
  if (v === undefined || v === '') return undefined;
  if (v === 'block' || v === 'monitor') return v;
  throw new TypeError(`Cannot use ${source} "${v}" (expected "block" or "monitor")`);
}

function parseReport(v: string | undefined): GuardReport | undefined {
  if (v === undefined || v === '') return undefined;
  if (v === 'stderr' || v === 'none') return v;
  return { file: v };
}

/**
 * Merge code options over `IMDSGUARD_GUARD_*` environment variables over defaults:
 * `IMDSGUARD_GUARD_MODE=block|monitor`, `IMDSGUARD_GUARD_REPORT=stderr|none|<file>`,
 * `IMDSGUARD_GUARD_ALLOW=pkg[:provider+provider],…` (extra allowlist entries).
 */
export function resolveOptions(
  o: GuardOptions,
  env: NodeJS.ProcessEnv,
  packageRoots: readonly string[] = [],
): ResolvedGuardOptions {
  const extra: AllowRule[] = [];
  for (const item of (env.IMDSGUARD_GUARD_ALLOW ?? '').split(',')) {
    const t = item.trim();
    if (!t) continue;
    // Scoped names contain no ':' so the first ':' after the name separates providers.
    const at = t.indexOf(':', t.startsWith('@') ? t.indexOf('/') : 0);
    if (at < 0) extra.push({ package: t, reason: 'IMDSGUARD_GUARD_ALLOW' });
    else
      extra.push({ package: t.slice(0, at), providers: t.slice(at + 1).split('+'), reason: 'IMDSGUARD_GUARD_ALLOW' });
  }
  return {
    mode: o.mode ?? parseMode(env.IMDSGUARD_GUARD_MODE, 'IMDSGUARD_GUARD_MODE') ?? 'block',
    allow: frozenRules([...(o.allowDefaults === false ? [] : DEFAULT_ALLOW), ...extra, ...(o.allow ?? [])]),
    onFinding: o.onFinding,
    report: o.report ?? parseReport(env.IMDSGUARD_GUARD_REPORT) ?? 'stderr',
    reportAllowed: o.reportAllowed ?? false,
    packageRoots: Object.freeze([...packageRoots]),
  };
}
