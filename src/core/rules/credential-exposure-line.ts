import type { LeakCauseCorrelator } from '../correlate/leak-cause.ts';
import type { Finding } from '../model/finding.ts';
import { mayHoldSecret } from '../secrets/detect.ts';
import type { KnownSecrets } from '../secrets/known.ts';
import { LeakTracker } from '../secrets/tracker.ts';
import { CREDENTIAL_EXPOSURE_FAMILY, type LeakLineMeta, leakFinding } from './credential-exposure.ts';
import type { LineInput, LineRule } from './line-rule.ts';

/**
 * Lines worth showing the tracker even though they hold no secret: they say whose a nearby secret is or when it
 * expires (request paths, RoleArn, Expiration), or close a pretty-printed document.
 */
const HINT_LINE =
  /security-credentials|arn:aws|AccountId|service-accounts|gserviceaccount|client_id|_res_id|opc\/v|ocid1\.instance|Expiration|expires_|RoleArn|token_type|AWS-HMAC|Success|^\s*[}\]]|\n\s*[}\]]/;

export interface CredentialExposureOptions {
  /** Salt of the secret hashes. */
  salt: string;
  /** When given, each leak names the SSRF request that most likely caused it. */
  cause?: LeakCauseCorrelator;
  /** Where the secrets found are remembered for whatever masks the output. */
  known?: KnownSecrets;
  /** Files tracked at once (one tracker each). Default 4096. */
  maxFiles?: number;
}

/**
 * The `credential-exposure` line rule: one finding per line that holds a metadata credential, with the secret
 * masked and hashed. Stateful per file (multi-line documents, look-behind and look-ahead for owner and expiry),
 * so findings for a line come out up to ten lines later, and the rest at `flush(file)`. Reads every line its
 * `mayMatch` accepts whether or not the line parses in the log format (`rawLines`).
 */
export function credentialExposureRule(opts: CredentialExposureOptions): LineRule & {
  readonly rawLines: true;
  chunkEvidence(chunk: string): boolean;
  holdsOpen(file: string): boolean;
  readonly lookbehindLines: number;
  flush(file: string): Finding[];
} {
  const trackers = new Map<string, LeakTracker<LeakLineMeta>>();
  const maxFiles = opts.maxFiles ?? 4096;
  let inBlock = 0;
  /** Files whose last line left a value, a key name or a YAML block scalar open: their next line must be seen. */
  const open = new Set<string>();

  function tracker(file: string): LeakTracker<LeakLineMeta> {
    let t = trackers.get(file);
    if (!t) {
      if (trackers.size >= maxFiles) {
        const oldest = trackers.keys().next().value;
        if (oldest !== undefined) {
          trackers.delete(oldest);
          open.delete(oldest);
        }
      }
      t = new LeakTracker<LeakLineMeta>({ salt: opts.salt, ...(opts.known ? { known: opts.known } : {}) });
      trackers.set(file, t);
    }
    return t;
  }

  function findings(leaks: ReturnType<LeakTracker<LeakLineMeta>['flush']>): Finding[] {
    return leaks.map((leak) => {
      const f = leakFinding(leak);
      const cause = opts.cause?.cause({
        ...(leak.meta.clientIp ? { clientIp: leak.meta.clientIp } : {}),
        ...(leak.meta.time ? { time: leak.meta.time } : {}),
        file: leak.meta.file,
        line: leak.line,
      });
      if (cause) {
        f.related = [...(f.related ?? []), cause];
        f.description = `${f.description ?? ''} The request that most likely caused it: ${cause.file ?? ''}${cause.line !== undefined ? `:${cause.line}` : ''}.`;
      }
      return f;
    });
  }

  return {
    id: CREDENTIAL_EXPOSURE_FAMILY,
    rawLines: true,
    // A chunk without any secret marker matters only while a leak is open (PEM block, look-ahead window); its
    // context lines (RoleArn, Expiration, closing braces) are replayed by the caller if a secret follows closely.
    chunkEvidence: mayHoldSecret,
    holdsOpen(file: string): boolean {
      if (inBlock > 0) return true;
      const t = trackers.get(file);
      return t !== undefined && (t.waiting || t.inBlock || t.open);
    },
    lookbehindLines: new LeakTracker({ salt: '' }).contextLines,
    mayMatch(text: string): boolean {
      // Inside a PEM block, key lines carry no marker: every line must be seen until the block ends; so must the line
      // after one that left a value or key name open (its rest has no marker either).
      return inBlock > 0 || open.size > 0 || mayHoldSecret(text) || HINT_LINE.test(text);
    },
    evaluate(input: LineInput): Finding[] {
      const t = tracker(input.file);
      const before = t.inBlock;
      const ev = input.event;
      const time = ev?.time;
      const timeMs = time ? Date.parse(time) : Number.NaN;
      const meta: LeakLineMeta = {
        file: input.file,
        format: input.format,
        ...(ev?.clientIp ? { clientIp: ev.clientIp } : {}),
        ...(time ? { time } : {}),
      };
      const leaks = t.push(input.text, meta, Number.isFinite(timeMs) ? timeMs : undefined, input.line);
      if (t.inBlock !== before) inBlock += t.inBlock ? 1 : -1;
      if (t.open) open.add(input.file);
      else open.delete(input.file);
      return findings(leaks);
    },
    flush(file: string): Finding[] {
      const t = trackers.get(file);
      if (!t) return [];
      if (t.inBlock) inBlock--;
      trackers.delete(file);
      open.delete(file);
      return findings(t.flush());
    },
  };
}
