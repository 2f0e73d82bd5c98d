/** Proxy policy: what a caller may read from a metadata service, as values the pure decision function reads. */
import type { PathClass } from '../model/hit.ts';
import type { Severity } from '../model/severity.ts';

export type Action = 'allow' | 'deny' | 'audit';

/** Who is asking, as far as the proxy could tell. `known: false` is the explicit "unknown" identity. */
export interface CallerIdentity {
  known: boolean;
  /** Why attribution failed (unknown callers only). */
  reason?: string;
  pid?: number;
  ppid?: number;
  exe?: string;
  exeSha256?: string;
  argv?: string[];
  uid?: number;
  user?: string;
  container?: string;
  /** Network namespace inode number. */
  netns?: number;
  /** The caller sits in another network namespace than the proxy (a container), or on another host. */
  otherNamespace: boolean;
}

/** The request as the policy sees it. */
export interface PolicyRequest {
  method: string;
  /** The raw request target (path and query, or absolute-form). */
  target: string;
  /** The canonical path (canonical-path.ts): what `path` globs and the service's own rules are checked against. */
  path: string;
  /** Lower-case header names → values. */
  headers: Readonly<Record<string, string | undefined>>;
  provider: string | null;
  service: string | null;
  pathClass: PathClass;
  /** AWS token state: no token header, a token this proxy saw issued and still live, or anything else. */
  token: 'none' | 'valid' | 'invalid';
}

export interface RateLimit {
  /** Requests allowed per window. */
  requests: number;
  /** Window length in ms. */
  perMs: number;
}

/** Protections a rule or the defaults can switch on. */
export interface Protections {
  imdsv2Only?: boolean;
  rejectForwarded?: boolean;
  rateLimit?: RateLimit;
}

export interface Defaults extends Protections {
  otherNamespaces: Action;
  unknownCaller: Action;
  /** Request-target sanity check (absolute-form, encoded dot segments, CRLF, …). */
  targetCheck: boolean;
  /** What happens when no rule matches a path that is neither credentials nor token (those are always denied). */
  unmatched: Action;
}

/** A compiled matcher over one field: any of the alternatives. */
export type Matcher<T> = (value: T) => boolean;

export interface Match {
  /** exe, argv, user, uid, container, netns: the shared caller language (src/core/caller/match.ts). */
  caller?: Matcher<CallerIdentity>;
  exeSha256?: Matcher<string | undefined>;
  method?: Matcher<string>;
  path?: Matcher<string>;
  provider?: Matcher<string | null>;
  pathClass?: Matcher<PathClass>;
}

export interface Rule extends Protections {
  name: string;
  action: Action;
  match: Match;
  /** Emit a finding (default: deny and audit do, allow does not). */
  report: boolean;
  severity?: Severity;
  /** Where it was written (for messages). */
  line?: number;
}

export interface Policy {
  defaults: Defaults;
  rules: Rule[];
  /** True when some rule matches on exe_sha256 (the proxy then hashes executables). */
  needsExeHash: boolean;
  /** Listener/upstream pairs given in the file (flags take precedence). */
  listeners?: Array<{ listen: string; upstream: string }>;
  source?: string;
}

/** What the proxy does with a request. `status` set: answer it locally; unset: forward upstream. */
export interface Decision {
  action: Action;
  status?: number;
  /** Short, safe to show the caller. */
  reason: string;
  /** The rule name, or the default check (`defaults.imdsv2_only`, …). */
  rule: string;
  report: boolean;
  severity: Severity;
}
