/** The guard's refusal: what was refused, where it resolved to, and why. */
import type { MetadataDestination } from './destination.ts';

export const GUARD_BLOCKED_CODE = 'ERR_IMDSGUARD_BLOCKED';

export class GuardBlockedError extends Error {
  readonly code = GUARD_BLOCKED_CODE;
  /** The host the caller asked for, as written (a name or an address). */
  readonly host: string;
  /** The address the connection would have used, or null when the name alone identified the service. */
  readonly address: string | null;
  readonly port: number | null;
  readonly provider: string;
  readonly service: string | null;
  readonly reason: string;
  /** The id of the finding emitted for this refusal. */
  readonly findingId: string;

  constructor(
    d: MetadataDestination,
    where: { host: string; address: string | null; port: number | null },
    reason: string,
    findingId: string,
  ) {
    const dest = `${where.address ?? where.host}${where.port !== null ? `:${where.port}` : ''}`;
    const via = where.address && where.address !== where.host ? ` (resolved from "${where.host}")` : '';
    super(
      `imdsguard blocked a connection to ${dest}${via}, the ${d.provider}${d.service ? ` ${d.service}` : ''} metadata service: ${reason}`,
    );
    this.name = 'GuardBlockedError';
    this.host = where.host;
    this.address = where.address;
    this.port = where.port;
    this.provider = d.provider;
    this.service = d.service;
    this.reason = reason;
    this.findingId = findingId;
  }
}

/** True for the guard's refusal, also when a client library wrapped it (`cause`) or copied its `code`. */
export function isGuardBlocked(e: unknown): boolean {
  let cur: unknown = e;
  for (let i = 0; i < 5 && cur && typeof cur === 'object'; i++) {
    if ((cur as { code?: unknown }).code === GUARD_BLOCKED_CODE) return true;
    cur = (cur as { cause?: unknown }).cause;
  }
  return false;
}
