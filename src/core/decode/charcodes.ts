/**
 * Script payloads that build a URL from character codes, so that no URL appears in the request:
 * `String.fromCharCode(104,116,116,112,…)` (JavaScript; decimal or `0x` hex codes). The call is decoded in place.
 */

const CALL =
  /String\s*\.\s*fromCharCode\s*\(\s*((?:(?:0x[0-9a-f]{1,6}|\d{1,7})\s*,\s*){2,2047}(?:0x[0-9a-f]{1,6}|\d{1,7}))\s*\)/gi;

/** The marker the prefilter looks for (lower-cased): no call is decoded without it. */
export const CHARCODE_MARKER = 'fromcharcode';

export function hasCharCodeCall(s: string): boolean {
  return /fromCharCode/i.test(s);
}

/** Replace every `String.fromCharCode(…)` call whose codes are all valid code points by the string it builds. */
export function decodeCharCodeCalls(s: string): string {
  if (!hasCharCodeCall(s)) return s;
  return s.replace(CALL, (whole, list: string) => {
    const codes = list.split(',').map((x) => Number(x.trim()));
    if (codes.some((c) => !Number.isInteger(c) || c < 0 || c > 0xffff)) return whole;
    return JSON.stringify(String.fromCharCode(...codes));
  });
}
