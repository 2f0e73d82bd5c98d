/**
 * Script string literals joined by `+` (`'http://'+'\x31\x36\x39…'+'/latest/'`, in a query string also `'+%2B+'`):
 * the joined string is what the script fetches. Only a closing quote, `+` and an opening quote of the same kind are
 * undone, so text that merely holds a `+` is left alone.
 */
const JOIN = /(["'`])[\s+]*\+[\s+]*\1/;
const JOIN_ALL = /(["'`])[\s+]*\+[\s+]*\1/g;

export function hasScriptJoin(s: string): boolean {
  return s.includes('+') && JOIN.test(s);
}

export function joinScriptStrings(s: string): string {
  return s.replace(JOIN_ALL, '');
}
