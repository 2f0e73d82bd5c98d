import type { Severity } from './severity.ts';

/** What a metadata path gives away. */
export const PATH_CLASSES = ['credentials', 'token', 'user-data', 'identity', 'index', 'other'] as const;
export type PathClass = (typeof PATH_CLASSES)[number];

/** `metadata`: addresses a cloud metadata service. `internal`: another internal target (loopback, private, …). */
export type Verdict = 'metadata' | 'internal';
export type VerdictOrNone = Verdict | 'none';

/**
 * One transformation the decoder had to undo to see the target, in the order it was undone.
 * Names are stable strings (`percent×2`, `ipv4-hex`, `ipv6-mapped`, `wildcard-dns`, …) because findings and
 * exported rules quote them.
 */
export type Transform = string;

/** Why an internal target is internal. */
export type InternalKind =
  | 'loopback'
  | 'unspecified'
  | 'private'
  | 'link-local'
  | 'unique-local'
  | 'shared-address'
  | 'container-host'
  | 'kubernetes'
  | 'internal-dns'
  | 'loopback-dns';

export interface MetadataHit {
  verdict: Verdict;
  /** Provider id from the catalogue (`aws`, `gcp`, …), `multi` when the address serves several and the path does not tell, or null for internal targets. */
  provider: string | null;
  /** Service within the provider (`ec2-imds`, `ecs-task`, `eks-pod-identity`, …), or null. */
  service: string | null;
  /** The text as it appeared in the input (before decoding). */
  raw: string;
  /** The target once every encoding was undone, as a canonical URL. */
  decoded: string;
  endpoint: {
    /** The host as written, after decoding the surrounding text but before host canonicalisation. */
    written: string;
    /** Canonical address or hostname (`169.254.169.254`, `fd00:ec2::254`, `metadata.google.internal`). */
    canonical: string;
    kind: 'ipv4' | 'ipv6' | 'hostname';
    port: number | null;
  };
  scheme: string | null;
  path: string;
  pathClass: PathClass;
  sensitivity: Severity;
  transforms: Transform[];
  /** Readings on which common URL parsers disagree (e.g. WHATWG vs curl), recorded when we chose the exploitable one. */
  disagreements: string[];
  /** For internal verdicts: why. */
  internalKind?: InternalKind;
  /** Where the candidate was found: an absolute URL, a parameter value, a bare host/path, a Host header, … */
  context: HitContext;
  /** Documentation link for the endpoint. */
  doc?: string;
  /**
   * Set when the text around the reference also reads as something other than a fetch target (a full URL among
   * words or inside a query): why. The hit is kept with lower confidence.
   */
  ambiguity?: string;
}

export type HitContext = 'url' | 'param' | 'hostpath' | 'host' | 'bare';
