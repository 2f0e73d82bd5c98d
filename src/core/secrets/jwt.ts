/**
 * Reading a JWT's claims without verifying it: enough to say whose token leaked and when it expires. The
 * signature is never checked (we do not have, and must not fetch, the issuer's keys); nothing here trusts the
 * claims for anything but a description.
 */

export type JwtClaims = Record<string, unknown>;

/** A JWT as it appears in text: header and payload are base64url JSON objects (so both start with `eyJ`). */
export const JWT_PATTERN = String.raw`eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*`;

function b64urlToString(part: string): string | null {
  if (!/^[A-Za-z0-9_-]*$/.test(part)) return null;
  return Buffer.from(part.replace(/-/g, '+').replace(/_/g, '/'), 'base64').toString('utf8');
}

/**
 * The payload's claims, or null when the text is not a JWT with a JSON object payload.
 * @example decodeJwtPayload('eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.') // { sub: 'x' }
 */
export function decodeJwtPayload(token: string): JwtClaims | null {
  const parts = token.split('.');
  if (parts.length < 2 || parts.length > 3) return null;
  const text = b64urlToString(parts[1]!);
  if (text === null) return null;
  try {
    const v: unknown = JSON.parse(text);
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as JwtClaims) : null;
  } catch {
    return null;
  }
}

function str(c: JwtClaims, k: string): string | undefined {
  const v = c[k];
  return typeof v === 'string' && v.length > 0 ? v : undefined;
}

/** What a cloud workload-identity JWT says about itself. */
export interface JwtIdentity {
  kind: 'azure-managed-identity-token' | 'gcp-identity-token' | 'oci-instance-principal-token';
  provider: 'azure' | 'gcp' | 'oracle';
  /** The identity the token stands for, as specific as the claims allow. */
  owner?: string;
  /** RFC 3339, from `exp`. */
  expires?: string;
  /** The claims used for `owner`, for the finding's evidence (identifiers, never the token). */
  claims: Record<string, string>;
}

function expiry(c: JwtClaims): string | undefined {
  const exp = c.exp;
  if (typeof exp !== 'number' || !Number.isFinite(exp) || exp <= 0 || exp > 1e11) return undefined;
  return new Date(exp * 1000).toISOString();
}

function pick(c: JwtClaims, keys: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of keys) {
    const v = str(c, k);
    if (v !== undefined) out[k] = v.replace(/[^\x20-\x7e]/g, '?').slice(0, 300);
  }
  return out;
}

/**
 * Classify a JWT as a cloud workload identity token, or null for any other JWT (user sessions, app tokens).
 * - Azure managed identity: issued by Entra ID (`sts.windows.net` / `login.microsoftonline.com`) and carrying
 *   `xms_mirid` (user-assigned identity resource id) or `xms_az_rid` (the resource a system-assigned identity
 *   belongs to). A user's Entra token has neither.
 * - GCP identity token from the metadata server: issued by `accounts.google.com` for a service account
 *   (`email` ending in `gserviceaccount.com`) or carrying the `google.compute_engine` claim.
 * - OCI instance principal: issued by `authService.oracle.com` (the federation service instance principals use).
 */
export function classifyJwt(token: string): JwtIdentity | null {
  const c = decodeJwtPayload(token);
  if (!c) return null;
  const iss = str(c, 'iss') ?? '';
  const exp = expiry(c);
  const withExp = <T extends object>(o: T): T & { expires?: string } => (exp ? { ...o, expires: exp } : o);
  if (
    /^https:\/\/(?:sts\.windows\.net|login\.microsoftonline\.com|login\.microsoftonline\.us|login\.chinacloudapi\.cn)\//i.test(
      iss,
    )
  ) {
    const mirid = str(c, 'xms_mirid');
    const azrid = str(c, 'xms_az_rid');
    if (!mirid && !azrid) return null;
    const claims = pick(c, ['xms_mirid', 'xms_az_rid', 'oid', 'appid', 'tid', 'aud']);
    const owner = mirid ?? azrid ?? str(c, 'oid');
    return withExp({
      kind: 'azure-managed-identity-token' as const,
      provider: 'azure' as const,
      claims,
      ...(owner ? { owner } : {}),
    });
  }
  if (/^(?:https:\/\/)?accounts\.google\.com$/i.test(iss)) {
    const email = str(c, 'email');
    const google = c.google;
    const gce = google && typeof google === 'object' ? (google as Record<string, unknown>).compute_engine : undefined;
    if (!(email && /\.gserviceaccount\.com$/i.test(email)) && !gce) return null;
    const claims = pick(c, ['email', 'sub', 'aud']);
    if (gce && typeof gce === 'object') {
      const g = gce as Record<string, unknown>;
      for (const k of ['project_id', 'instance_name', 'zone'])
        if (typeof g[k] === 'string') claims[k] = String(g[k]).slice(0, 200);
    }
    const owner = email ?? (claims.instance_name ? `instance ${claims.instance_name}` : undefined);
    return withExp({
      kind: 'gcp-identity-token' as const,
      provider: 'gcp' as const,
      claims,
      ...(owner ? { owner } : {}),
    });
  }
  if (/^authService\.oracle\.com$/i.test(iss)) {
    const claims = pick(c, ['opc-instance', 'opc-compartment', 'opc-tenant', 'sub', 'ptype']);
    const owner = str(c, 'opc-instance') ?? str(c, 'sub');
    return withExp({
      kind: 'oci-instance-principal-token' as const,
      provider: 'oracle' as const,
      claims,
      ...(owner ? { owner } : {}),
    });
  }
  return null;
}
