/**
 * The one serialiser of JSON output (jsonl, json, ocsf, sarif, explain's json): JSON.stringify, with the characters it
 * leaves raw that can still act on a reader written as `\uXXXX` escapes. C1 controls (U+0080–U+009F; a terminal may
 * read U+009B as CSI) and bidirectional controls (U+202A–U+202E, U+2066–U+2069, U+200E, U+200F, U+061C, which reorder
 * what a reader of `cat findings.jsonl` or an editor sees) come from attacker-controlled fields. They can only stand
 * inside JSON strings, so escaping them keeps the text valid JSON with the same parsed value.
 */
const UNSAFE = /[\u0080-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

const unicodeEscape = (c: string) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;

export function jsonText(value: unknown, indent?: number): string {
  const s = JSON.stringify(value, null, indent);
  // A search before the replace: most records hold none, and test() allocates nothing.
  UNSAFE.lastIndex = 0;
  return UNSAFE.test(s) ? s.replace(UNSAFE, unicodeEscape) : s;
}
