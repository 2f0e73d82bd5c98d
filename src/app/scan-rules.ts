import { LeakCauseCorrelator } from '../core/correlate/leak-cause.ts';
import type { Finding } from '../core/model/finding.ts';
import { mayAddressMetadata } from '../core/prefilter.ts';
import { credentialExposureRule } from '../core/rules/credential-exposure-line.ts';
import type { LineInput, LineRule } from '../core/rules/line-rule.ts';
import { ssrfLineRule } from '../core/rules/ssrf-http.ts';
import { scrubRecord } from '../core/secrets/scrub.ts';

/**
 * Salt of the secret hashes in leak findings. The same salt makes the same secret recognisable across runs and
 * hosts; set IMDSGUARD_SECRET_SALT to a value of your own so that nobody outside can test a guess against a hash.
 */
export function secretSalt(): string {
  return process.env.IMDSGUARD_SECRET_SALT || 'imdsguard-secret-hash-v1';
}

/** Findings quote what they saw, which may hold a secret next to the payload: mask it before any sink. */
function scrubbed(rule: LineRule, observe?: (f: Finding) => void): LineRule {
  const clean = (list: Finding[]) =>
    list.map((f) => {
      observe?.(f);
      return scrubRecord(f);
    });
  return {
    id: rule.id,
    mayMatch: (text: string) => rule.mayMatch(text),
    // Pure tests are passed as they are: the scanner keeps one cache (and one WebAssembly line stage) per test.
    ...(rule.placeFilter ? { placeFilter: rule.placeFilter } : {}),
    evaluate: (input: LineInput) => clean(rule.evaluate(input)),
    ...(rule.rawLines ? { rawLines: true } : {}),
    // The scanner recognises the core's secret prefilter and runs it on bytes.
    ...(rule.chunkEvidence ? { chunkEvidence: rule.chunkEvidence } : {}),
    ...(rule.holdsOpen ? { holdsOpen: (file: string) => rule.holdsOpen!(file) } : {}),
    ...(rule.lookbehindLines !== undefined ? { lookbehindLines: rule.lookbehindLines } : {}),
    ...(rule.flush ? { flush: (file: string) => clean(rule.flush!(file)) } : {}),
  };
}

/**
 * The line rules `scan` runs, in order. A new line rule (e.g. credential exposure) is one entry here: it gets every
 * line its `mayMatch` accepts, with the parsed request when the line is one.
 */
export function scanRules(): LineRule[] {
  const cause = new LeakCauseCorrelator();
  return [
    // The core prefilter runs on each field before the full decoder: it passes whatever classify() would flag. The
    // scanner caches its answers by field value (logs repeat paths and referers).
    scrubbed(ssrfLineRule({ fieldFilter: mayAddressMetadata }), (f) => cause.observe(f)),
    scrubbed(credentialExposureRule({ salt: secretSalt(), cause })),
  ];
}
