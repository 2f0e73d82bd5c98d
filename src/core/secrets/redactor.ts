import { applySpans, Masker } from './masker.ts';
import type { IpPseudonymiser } from './pseudonymise.ts';

/** What redaction did to one input. */
export interface RedactCounts {
  lines: number;
  linesChanged: number;
  secrets: number;
  byKind: Record<string, number>;
  /** Distinct secrets masked (counted up to a million). */
  distinctSecrets: number;
}

/** A 53-bit non-cryptographic fingerprint (two FNV-1a passes), only used to count distinct secrets. */
function fingerprint(v: string): number {
  let a = 0x811c9dc5;
  let b = 0x01000193;
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x5bd1e995);
  }
  return (a >>> 0) * 0x200000 + ((b >>> 0) >>> 11);
}

/**
 * Masks every secret in a stream of lines (the one masking engine, `Masker`), leaving every other character as it was. Lines go in without their
 * `\n` (a `\r` before it stays part of the line and is kept). Works on any string: callers reading bytes decode
 * them as latin1 so that every byte maps to one character and comes back unchanged.
 */
export class Redactor {
  private readonly masker = new Masker();
  /** Fingerprints of the secrets masked so far (numbers, not the secrets: memory stays small and holds no secret). */
  private readonly seen = new Set<number>();
  private readonly ips: IpPseudonymiser | undefined;
  readonly counts: RedactCounts = { lines: 0, linesChanged: 0, secrets: 0, byKind: {}, distinctSecrets: 0 };

  constructor(opts: { ips?: IpPseudonymiser } = {}) {
    this.ips = opts.ips;
  }

  /** True when `block` (several lines) can be passed through unchanged without looking at each line. */
  canSkip(block: string): boolean {
    return this.ips === undefined && this.masker.canSkip(block);
  }

  /** Account for `n` lines passed through unchanged (after `canSkip`). */
  skipped(n: number): void {
    this.counts.lines += n;
    this.masker.skipped(n);
  }

  /** One line, redacted. */
  line(text: string): string {
    this.counts.lines++;
    const spans = this.masker.spans(text);
    let out = text;
    if (spans.length > 0) {
      for (const m of spans) {
        this.counts.secrets++;
        const kind = m.kind ?? (m.unread ? 'encoded-unread' : 'known-secret');
        this.counts.byKind[kind] = (this.counts.byKind[kind] ?? 0) + 1;
        if (this.seen.size < 1_000_000) this.seen.add(fingerprint(m.value));
      }
      this.counts.distinctSecrets = this.seen.size;
      out = applySpans(text, spans);
    }
    if (this.ips) out = this.ips.line(out);
    if (out !== text) this.counts.linesChanged++;
    return out;
  }
}
