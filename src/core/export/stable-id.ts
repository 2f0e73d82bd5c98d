import { createHash } from 'node:crypto';

/**
 * A UUID derived from a name (the RFC 9562 v5 layout over SHA-256 bits): the same rule gets the same id in every
 * export, so SIEMs keep its history across versions.
 * @example stableUuid('sigma:web-ssrf-host') // always the same 36-character UUID
 */
export function stableUuid(name: string): string {
  const h = createHash('sha256').update(`imdsguard:${name}`).digest();
  h[6] = (h[6]! & 0x0f) | 0x50;
  h[8] = (h[8]! & 0x3f) | 0x80;
  const x = h.subarray(0, 16).toString('hex');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20, 32)}`;
}
