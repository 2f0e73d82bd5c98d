import { LeakCauseCorrelator } from '../core/correlate/leak-cause.ts';
import type { Finding } from '../core/model/finding.ts';
import { addressMarkLines, mayAddressMetadata, mayAddressMetadataUnmarked } from '../core/prefilter.ts';
import { credentialExposureRule } from '../core/rules/credential-exposure-line.ts';
import type { LineInput, LineRule } from '../core/rules/line-rule.ts';
import { ssrfLineRule } from '../core/rules/ssrf-http.ts';
import { Masker, maskRecord } from '../core/secrets/masker.ts';
import { secretSalt } from './secret-salt.ts';

export { secretSalt } from './secret-salt.ts';

/**
 * Findings quote what they saw, which may hold a secret next to the payload: mask it before any sink, and before
 * anything else reads it (the leak correlator quotes, and cuts, what it is given).
 */
function masked(rule: LineRule, masker: Masker, observe?: (f: Finding) => void): LineRule {
  const clean = (list: Finding[]) =>
    list.map((f) => {
      const m = maskRecord(f, masker);
      observe?.(m);
      return m;
    });
  return {
    id: rule.id,
    mayMatch: (text: string) => rule.mayMatch(text),
    // Pure tests are passed as they are: the scanner keeps one cache (and one WebAssembly line stage) per test.
    ...(rule.placeFilter ? { placeFilter: rule.placeFilter } : {}),
    ...(rule.placeMarks ? { placeMarks: rule.placeMarks } : {}),
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
  // One masker for the whole scan: a secret recognised in one finding is masked in every later one.
  const masker = new Masker();
  return [
    // The core prefilter decides which fields the full decoder sees: it passes whatever classify() would flag. Its
    // marks are searched once per chunk, its structural test runs on the fields of the other lines.
    masked(
      ssrfLineRule({
        fieldFilter: mayAddressMetadata,
        fieldMarks: { lines: addressMarkLines, unmarked: mayAddressMetadataUnmarked },
      }),
      masker,
      (f) => cause.observe(f),
    ),
    masked(credentialExposureRule({ salt: secretSalt(), cause, known: masker.known }), masker),
  ];
}
