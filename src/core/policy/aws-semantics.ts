/**
 * The EC2 metadata service's own protocol rules, which the proxy keeps whatever the policy says:
 * PUT only to the token path, a TTL header of 1–21600 seconds on it (else 400), GET on the token path 405.
 */
import type { PolicyRequest } from './types.ts';

export const AWS_TOKEN_PATH = '/latest/api/token';
export const AWS_TTL_HEADER = 'x-aws-ec2-metadata-token-ttl-seconds';
export const AWS_TOKEN_HEADER = 'x-aws-ec2-metadata-token';
export const AWS_MAX_TOKEN_TTL = 21600;

export function isAwsImds(req: Pick<PolicyRequest, 'provider' | 'service'>): boolean {
  return req.provider === 'aws' && req.service === 'ec2-imds';
}

export function isTokenRequest(req: Pick<PolicyRequest, 'provider' | 'service' | 'path'>): boolean {
  return isAwsImds(req) && req.path === AWS_TOKEN_PATH;
}

/** The TTL a token PUT asks for, or null when the header is missing or out of bounds. */
export function tokenTtlSeconds(value: string | undefined): number | null {
  if (value === undefined || !/^\s*\d{1,6}\s*$/.test(value)) return null;
  const n = Number(value.trim());
  return n >= 1 && n <= AWS_MAX_TOKEN_TTL ? n : null;
}

/** A protocol violation the real service would answer itself: [status, reason], or null. */
export function awsProtocolProblem(req: PolicyRequest): [number, string] | null {
  if (!isAwsImds(req)) return null;
  const m = req.method.toUpperCase();
  if (req.path === AWS_TOKEN_PATH) {
    if (m !== 'PUT') return [405, 'the token path takes PUT only'];
    if (tokenTtlSeconds(req.headers[AWS_TTL_HEADER]) === null) {
      return [400, `token PUT needs ${AWS_TTL_HEADER} between 1 and ${AWS_MAX_TOKEN_TTL}`];
    }
    return null;
  }
  if (m !== 'GET' && m !== 'HEAD') return [405, `${m} is only allowed on ${AWS_TOKEN_PATH}`];
  return null;
}
