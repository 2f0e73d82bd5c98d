import { type Hint, hintsIn } from './context.ts';
import { SECRET_KINDS, type SecretKind, type SecretMatch, type SecretProvider } from './kinds.ts';
import { KnownSecrets } from './known.ts';
import { mask, secretHash } from './mask.ts';
import { Masker } from './masker.ts';

/** One secret of a line, as it may leave the core: masked, hashed, never the value. */
export interface MaskedSecret {
  kind: SecretKind;
  label: string;
  provider: SecretProvider;
  masked: string;
  hash: string;
  live: boolean;
  /** Span in the line as written. */
  start: number;
  end: number;
}

/** Everything known about the secrets of one line, once the lines around it have been seen. */
export interface LineLeak<M = unknown> {
  line: number;
  secrets: MaskedSecret[];
  /** Provider of the most serious secret on the line. */
  provider: SecretProvider;
  owner?: string;
  /** RFC 3339. */
  expires?: string;
  /** Relative lifetime when the document gave one and no absolute time was known (GCP `expires_in`). */
  expiresInSeconds?: number;
  /** Which metadata document the secret was part of, when the surrounding text says. */
  document?: string;
  /** Identity claims of a JWT (identifiers only). */
  claims?: Record<string, string>;
  /** Whatever the caller attached to the line (its parsed event, its time). */
  meta: M;
}

export interface TrackerOptions {
  /** Salt for `secretHash`: the same salt makes hashes comparable across runs. */
  salt: string;
  /** Lines before a secret searched for hints (request path, RoleArn). Default 40. */
  lookbehind?: number;
  /** Lines after a secret searched for hints (Expiration). Leaks are delayed by this many lines. Default 10. */
  lookahead?: number;
  /** Secrets found are remembered here, so that whatever masks the output masks their later occurrences too. */
  known?: KnownSecrets;
}

interface Pending<M> {
  line: number;
  matches: SecretMatch[];
  meta: M;
  timeMs: number | undefined;
}

/** A line that only closes a pretty-printed object or array: the end of one document. */
const CLOSING = /^\s*[}\]]\s*[,;)]?\s*$/;

const ORDER: SecretKind[] = Object.keys(SECRET_KINDS) as SecretKind[];

/**
 * Detects secrets line by line and attaches owner and expiry from the lines around each one. The secrets are those
 * the masking engine recognises (`Masker` with `findings`), so a leak is reported wherever the engine masks one in a
 * line it is shown: as written, through escapes, and joined over lines (a YAML block scalar, a wrapped or
 * soft-broken value or key name). Pure and bounded: it keeps at most `lookbehind + lookahead` lines of hints and
 * `lookahead` lines of pending leaks (a value joined over lines waits for its last piece).
 * @example
 * const t = new LeakTracker({ salt: 's' });
 * const leaks = [...t.push('{"AccessKeyId":"ASIAQ3EGU7LR2WNPQX7Z"}', undefined), ...t.flush()];
 */
export class LeakTracker<M = undefined> {
  private readonly masker: Masker;
  private readonly hints: Hint[] = [];
  private readonly pending: Array<Pending<M>> = [];
  private readonly salt: string;
  private readonly behind: number;
  private readonly ahead: number;
  /** Lines that close a multi-line structure (`}` of a pretty-printed document): hints do not cross them. */
  private readonly boundaries: number[] = [];
  private readonly maskCache = new Map<string, { masked: string; hash: string }>();
  /** The last line pushed: a value completed at the end of input takes its meta. */
  private last: { meta: M; timeMs: number | undefined } | null = null;

  constructor(opts: TrackerOptions) {
    this.salt = opts.salt;
    this.behind = opts.lookbehind ?? 40;
    this.ahead = opts.lookahead ?? 10;
    this.masker = new Masker(opts.known ?? new KnownSecrets(), { findings: true });
  }

  /** The line number the next `push` will get. */
  get nextLine(): number {
    return this.masker.lineNo + 1;
  }

  /** True while a leak waits for its look-ahead lines: every following line may still add to it. */
  get waiting(): boolean {
    return this.pending.length > 0;
  }

  /** Lines of context before a secret that `push` may use (look-behind and look-ahead windows of hints). */
  get contextLines(): number {
    return this.behind + this.ahead;
  }

  /** True inside a multi-line PEM key, where lines hold secrets without any recognisable marker. */
  get inBlock(): boolean {
    return this.masker.inBlock;
  }

  /** True while a value or key name cut at a line's end (or a YAML block scalar) waits for the next line. */
  get open(): boolean {
    return this.masker.expectsMore;
  }

  /**
   * Feed the next line; returns the leaks whose look-ahead window is complete. `timeMs`: the line's time, when known.
   * `lineNo`: its 1-based number, when the caller skips lines (windows are then measured in real lines).
   */
  push(text: string, meta: M, timeMs?: number, lineNo?: number): Array<LineLeak<M>> {
    if (lineNo !== undefined) this.masker.gap(lineNo - 1 - this.masker.lineNo);
    this.masker.spans(text);
    const line = this.masker.lineNo;
    this.last = { meta, timeMs };
    this.addFound(this.last);
    // Hints are only worth keeping while a secret may still need them.
    for (const h of hintsIn(text, line)) this.hints.push(h);
    if (CLOSING.test(text)) this.boundaries.push(line);
    const oldest = line - this.behind - this.ahead;
    while (this.hints.length > 0 && this.hints[0]!.line < oldest) this.hints.shift();
    while (this.boundaries.length > 0 && this.boundaries[0]! < oldest) this.boundaries.shift();
    const out: Array<LineLeak<M>> = [];
    while (this.pending.length > 0 && this.pending[0]!.line <= line - this.ahead)
      out.push(this.resolve(this.pending.shift()!));
    return out;
  }

  /** The leaks still waiting for their look-ahead lines (call at end of input). */
  flush(): Array<LineLeak<M>> {
    this.masker.end();
    if (this.last) this.addFound(this.last);
    const out = this.pending.map((p) => this.resolve(p));
    this.pending.length = 0;
    return out;
  }

  /**
   * The secrets the engine recognised, added to the pending leak of their line. A value joined over lines belongs to
   * the line it starts on, which may be behind the current one; a line that had no leak of its own then takes the meta
   * of the line that completed it.
   */
  private addFound(at: { meta: M; timeMs: number | undefined }): void {
    for (const f of this.masker.takeFound()) {
      let i = this.pending.length;
      while (i > 0 && this.pending[i - 1]!.line > f.line) i--;
      const same = this.pending[i - 1];
      if (same && same.line === f.line) {
        if (!same.matches.some((m) => m.kind === f.match.kind && m.value === f.match.value)) same.matches.push(f.match);
      } else this.pending.splice(i, 0, { line: f.line, matches: [f.match], meta: at.meta, timeMs: at.timeMs });
    }
  }

  /** Mask and hash of one value, cached so a secret repeated on many lines is hashed once. */
  maskOf(value: string): { masked: string; hash: string } {
    let r = this.maskCache.get(value);
    if (!r) {
      r = { masked: mask(value), hash: secretHash(value, this.salt) };
      if (this.maskCache.size > 10_000) this.maskCache.clear();
      this.maskCache.set(value, r);
    }
    return r;
  }

  private nearest(kind: Hint['kind'], provider: SecretProvider, line: number): Hint | undefined {
    let best: Hint | undefined;
    let bestD = Number.POSITIVE_INFINITY;
    for (const h of this.hints) {
      if (h.kind !== kind) continue;
      // A private key has no provider of its own; OCI hands instance principals one from /opc/v2/identity/key.pem.
      const fits =
        h.provider === 'any' || h.provider === provider || (provider === 'generic' && h.provider === 'oracle');
      if (!fits) continue;
      if (h.line < line - this.behind || h.line > line + this.ahead) continue;
      const lo = Math.min(h.line, line);
      const hi = Math.max(h.line, line);
      if (this.boundaries.some((b) => b > lo && b < hi)) continue;
      // Prefer the same line, then earlier lines (requests precede responses), then later ones.
      const d = h.line === line ? 0 : h.line < line ? line - h.line : (h.line - line) * 1.5;
      if (d < bestD) {
        best = h;
        bestD = d;
      }
    }
    return best;
  }

  private resolve(p: Pending<M>): LineLeak<M> {
    const secrets: MaskedSecret[] = p.matches.map((m) => ({
      kind: m.kind,
      label: SECRET_KINDS[m.kind].label,
      provider: m.provider,
      ...this.maskOf(m.value),
      live: m.live,
      start: m.start,
      end: m.end,
    }));
    // The most serious secret decides: live material first, then catalogue order.
    const main = [...p.matches].sort(
      (a, b) => Number(b.live) - Number(a.live) || ORDER.indexOf(a.kind) - ORDER.indexOf(b.kind),
    )[0]!;
    const provider = main.provider;
    const leak: LineLeak<M> = { line: p.line, secrets, provider, meta: p.meta };
    const owner = main.owner ?? this.nearest('owner', provider, p.line)?.value;
    if (owner) leak.owner = owner;
    let expires = main.expires ?? this.nearest('expires', provider, p.line)?.value;
    if (!expires) {
      const rel = this.nearest('expires-in', provider, p.line);
      if (rel) {
        const secs = Number(rel.value);
        if (p.timeMs !== undefined) expires = new Date(p.timeMs + secs * 1000).toISOString();
        else leak.expiresInSeconds = secs;
      }
    }
    if (expires) leak.expires = expires;
    const doc = this.nearest('document', provider, p.line)?.value;
    if (doc) leak.document = doc;
    if (main.claims) leak.claims = main.claims;
    return leak;
  }
}
