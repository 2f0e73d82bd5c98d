/**
 * Secrets already recognised in an input, so that every later occurrence is masked too, even where nothing around
 * it says it is a secret (the value logged alone on a later line, a piece of it cut off by a logger's line
 * wrapping). Looked up by pieces: every 8-character window of every known secret is indexed by a rolling hash, and
 * text is probed at every fourth position inside runs of secret characters, so any piece of 11 characters or more
 * is found; a piece is masked once it is at least `MIN_PIECE` characters long. Bounded: two generations of
 * `MAX_ENTRIES` windows each; when the newer fills up, the older is forgotten.
 */

import type { SecretKind, SecretMatch } from './kinds.ts';

/** JWTs: the header and claims are shared by many tokens and not secret on their own; the signature is. */
const SIGNED: ReadonlySet<SecretKind> = new Set([
  'gcp-identity-token',
  'azure-managed-identity-token',
  'oci-instance-principal-token',
]);

/** Shortest piece of a known secret that is masked on its own. */
export const MIN_PIECE = 12;
const K = 8;
const STRIDE = 4;
/** Windows per generation. */
const MAX_ENTRIES = 1 << 19;
const CAPACITY = 1 << 20;
/** Characters of one secret indexed, at most. */
const MAX_INDEXED = 4096;
/** 31^(K-1) mod 2^32, to take the oldest character out of the rolling hash. */
const TOP = (() => {
  let x = 1;
  for (let i = 0; i < K - 1; i++) x = Math.imul(x, 31);
  return x;
})();

/** Characters secrets are made of (base64, base64url, the `.` of JWTs and Alibaba ids). */
const ALPHABET = new Uint8Array(128);
for (const c of 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=_-.') ALPHABET[c.charCodeAt(0)] = 1;

function mix(h: number): number {
  let x = Math.imul(h ^ (h >>> 16), 0x45d9f3b);
  x ^= x >>> 16;
  return x >>> 0;
}

class Generation {
  readonly secrets: string[] = [];
  /** Where each secret's indexed part starts. */
  readonly froms: number[] = [];
  readonly values = new Set<string>();
  readonly keys = new Int32Array(CAPACITY);
  /** Secret number + 1 (0: empty slot). */
  readonly sid = new Int32Array(CAPACITY);
  readonly off = new Int32Array(CAPACITY);
  entries = 0;

  add(value: string, from: number, mark: (h: number) => void): void {
    const id = this.secrets.length;
    this.secrets.push(value);
    this.froms.push(from);
    this.values.add(value);
    const end = Math.min(value.length, from + MAX_INDEXED);
    let h = 0;
    for (let i = from; i < end; i++) {
      h = Math.imul(h, 31) + value.charCodeAt(i);
      if (i - from >= K) h -= Math.imul(value.charCodeAt(i - K), Math.imul(TOP, 31));
      h |= 0;
      if (i - from >= K - 1) {
        this.put(h, id, i - K + 1);
        mark(h);
      }
    }
  }

  private put(h: number, id: number, at: number): void {
    let slot = mix(h) & (CAPACITY - 1);
    while (this.sid[slot] !== 0) slot = (slot + 1) & (CAPACITY - 1);
    this.keys[slot] = h;
    this.sid[slot] = id + 1;
    this.off[slot] = at;
    this.entries++;
  }
}

/** A piece of a known secret found in a text: `text[start, end)` equals `secret[at, at + end - start)`. */
export interface KnownPiece {
  start: number;
  end: number;
  secret: string;
  at: number;
}

/** Bits of a filter in front of the tables: most probes are answered from it without touching them. */
const FILTER_BITS = 1 << 22;
/**
 * Bits of a filter of every 4 characters of every known secret, at every offset. Text is read 4 characters at a
 * time: a window is hashed and probed only where its two halves are both in it, which most text is not.
 */
const GRAM_BITS = 1 << 21;

function gram(text: string, at: number): number {
  const g =
    (text.charCodeAt(at) << 21) ^
    (text.charCodeAt(at + 1) << 14) ^
    (text.charCodeAt(at + 2) << 7) ^
    text.charCodeAt(at + 3);
  return mix(g) & (GRAM_BITS - 1);
}

export class KnownSecrets {
  private cur: Generation | null = null;
  private old: Generation | null = null;
  private filter: Uint32Array | null = null;
  private grams: Uint32Array | null = null;

  /** Number of secrets remembered. */
  get size(): number {
    return (this.cur?.secrets.length ?? 0) + (this.old?.secrets.length ?? 0);
  }

  has(value: string): boolean {
    return (this.cur?.values.has(value) ?? false) || (this.old?.values.has(value) ?? false);
  }

  /**
   * Remember a secret. `from`: where its secret part starts (a JWT's signature: its header and claims are shared
   * by many tokens and are not secret on their own).
   */
  add(value: string, from = 0): void {
    if (value.length - from < MIN_PIECE || this.has(value)) return;
    if (!this.cur) this.cur = new Generation();
    if (!this.filter) this.filter = new Uint32Array(FILTER_BITS / 32);
    if (!this.grams) this.grams = new Uint32Array(GRAM_BITS / 32);
    if (this.cur.entries + Math.min(value.length, MAX_INDEXED) > MAX_ENTRIES) {
      this.old = this.cur;
      this.cur = new Generation();
      // The forgotten generation's bits go; the kept one's are set again.
      this.filter.fill(0);
      this.grams.fill(0);
      const g = this.old;
      for (let slot = 0; slot < CAPACITY; slot++) if (g.sid[slot] !== 0) this.mark(g.keys[slot]!);
      for (const [k, v] of g.secrets.entries()) this.markGrams(v, g.froms[k]!);
    }
    this.cur.add(value, from, (h) => this.mark(h));
    this.markGrams(value, from);
  }

  private markGrams(value: string, from: number): void {
    const end = Math.min(value.length, from + MAX_INDEXED);
    for (let i = from; i + 4 <= end; i++) {
      const b = gram(value, i);
      this.grams![b >>> 5]! |= 1 << (b & 31);
    }
  }

  private hasGram(text: string, at: number): boolean {
    const b = gram(text, at);
    return (this.grams![b >>> 5]! & (1 << (b & 31))) !== 0;
  }

  private mark(h: number): void {
    const b = mix(h) >>> 10;
    this.filter![b >>> 5]! |= 1 << (b & 31);
  }

  /** Remember a secret the detector found. */
  addMatch(m: SecretMatch): void {
    this.add(m.value, SIGNED.has(m.kind) ? m.value.lastIndexOf('.') + 1 : 0);
  }

  /** Every piece of a known secret in `text` at least `MIN_PIECE` long (or ending `text`, see `tail`), in order. */
  find(text: string): KnownPiece[] {
    const out: KnownPiece[] = [];
    if (this.size === 0) return out;
    const n = text.length;
    // Windows of K characters starting at every STRIDE-th position: any piece of MIN_PIECE or more holds one.
    for (let p = 0; p + K <= n; p += STRIDE) {
      if (!this.hasGram(text, p) || !this.hasGram(text, p + 4)) continue;
      let h = 0;
      let k = 0;
      for (; k < K; k++) {
        const c = text.charCodeAt(p + k);
        if (c >= 128 || ALPHABET[c] === 0) break;
        h = (Math.imul(h, 31) + c) | 0;
      }
      if (k < K) continue;
      const b = mix(h) >>> 10;
      if ((this.filter![b >>> 5]! & (1 << (b & 31))) === 0) continue;
      const hit = this.probe(text, p, h);
      if (hit && (hit.end - hit.start >= MIN_PIECE || hit.end - hit.start === hit.secret.length)) {
        out.push(hit);
        // Start again at the first window after the piece.
        p = Math.ceil(hit.end / STRIDE) * STRIDE - STRIDE;
      }
    }
    return out;
  }

  private probe(text: string, p: number, h: number): KnownPiece | null {
    let best: KnownPiece | null = null;
    for (let gi = 0; gi < 2; gi++) {
      const g = gi === 0 ? this.cur : this.old;
      if (!g) continue;
      let slot = mix(h) & (CAPACITY - 1);
      for (; g.sid[slot] !== 0; slot = (slot + 1) & (CAPACITY - 1)) {
        if (g.keys[slot] !== h) continue;
        const s = g.secrets[g.sid[slot]! - 1]!;
        const at = g.off[slot]!;
        let k = 0;
        while (k < K && text.charCodeAt(p + k) === s.charCodeAt(at + k)) k++;
        if (k < K) continue;
        let l = 0;
        while (p - l > 0 && at - l > 0 && text.charCodeAt(p - l - 1) === s.charCodeAt(at - l - 1)) l++;
        let r = K;
        while (p + r < text.length && at + r < s.length && text.charCodeAt(p + r) === s.charCodeAt(at + r)) r++;
        if (!best || r + l > best.end - best.start) best = { start: p - l, end: p + r, secret: s, at: at - l };
      }
    }
    return best;
  }
}
