import { mayAddressMetadata } from '../core/prefilter.ts';
import type { LineRule } from '../core/rules/line-rule.ts';
import { ssrfLineRule } from '../core/rules/ssrf-http.ts';

/**
 * The line rules `scan` runs, in order. A new line rule (e.g. credential exposure) is one entry here: it gets every
 * line its `mayMatch` accepts, with the parsed request when the line is one.
 */
export function scanRules(): LineRule[] {
  // The core prefilter runs on each field before the full decoder: it passes whatever classify() would flag.
  return [ssrfLineRule({ fieldFilter: mayAddressMetadata })];
}
