/**
 * IMDSv2 tokens this proxy saw the metadata service issue, kept as sha256 digests with their expiry, so the proxy
 * can tell a valid token from a made-up or expired one without storing any token.
 */
import { createHash } from 'node:crypto';

const digest = (token: string) => createHash('sha256').update(token).digest('base64');

export class TokenLedger {
  private readonly tokens = new Map<string, number>();
  private readonly max: number;
  constructor(max = 100_000) {
    this.max = max;
  }

  add(token: string, ttlSeconds: number, nowMs: number): void {
    if (this.tokens.size >= this.max) this.prune(nowMs);
    if (this.tokens.size >= this.max) {
      const oldest = this.tokens.keys().next().value;
      if (oldest !== undefined) this.tokens.delete(oldest);
    }
    this.tokens.set(digest(token.trim()), nowMs + ttlSeconds * 1000);
  }

  check(token: string, nowMs: number): 'valid' | 'invalid' {
    const key = digest(token.trim());
    const exp = this.tokens.get(key);
    if (exp === undefined) return 'invalid';
    if (exp <= nowMs) {
      this.tokens.delete(key);
      return 'invalid';
    }
    return 'valid';
  }

  private prune(nowMs: number): void {
    for (const [k, exp] of this.tokens) if (exp <= nowMs) this.tokens.delete(k);
  }
}
