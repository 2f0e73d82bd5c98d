import { createHmac } from 'node:crypto';

/**
 * The masked form of a secret: its first and last four characters around `****`, ASCII only, e.g.
 * `ASIA****QX7Z`. Eight characters of a 40-character secret leave 32 unknown (about 190 bits), so the mask still
 * lets a responder match it against the key list in the console without making the secret usable.
 * Values shorter than 16 characters keep only their first 2 characters, so little is revealed.
 * Only `[A-Za-z0-9._-]` characters are copied into the mask.
 * @example mask('ASIAQ3EGU7LR2WNPQX7Z') // 'ASIA****QX7Z'
 */
export function mask(value: string): string {
  // Only characters that need no escaping anywhere (URL, JSON, shell, HTML) are copied, so a mask written back
  // into an encoded context never changes how the rest of the line decodes. Padding and separators are dropped.
  const safe = value.replace(/[^A-Za-z0-9._-]/g, '');
  if (safe.length < 16) return `${safe.slice(0, 2)}****`;
  return `${safe.slice(0, 4)}****${safe.slice(-4)}`;
}

/**
 * A salted hash of a secret (HMAC-SHA-256 keyed by the salt, 96 bits shown). The same secret seen twice, in any
 * encoding, gives the same hash under the same salt; without the salt the hash cannot be tested against guesses.
 * @example secretHash('ASIAQ3EGU7LR2WNPQX7Z', 'per-site salt') // 'hmac-sha256:5c1f…'
 */
export function secretHash(value: string, salt: string): string {
  return `hmac-sha256:${createHmac('sha256', salt).update(value).digest('hex').slice(0, 24)}`;
}
