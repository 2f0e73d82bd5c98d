/**
 * Unicode folding as IDNA/WHATWG host parsing does it: NFKC (fullwidth digits, enclosed alphanumerics, ligatures)
 * and the ideographic full stops that UTS #46 maps to '.'.
 */
const DOTS = /[\u3002\uFF0E\uFF61\u2024\uFE52]/g;
// biome-ignore lint/suspicious/noControlCharactersInRegex: detecting any non-ASCII
const NON_ASCII = /[^\u0000-\u007f]/;

export function hasNonAscii(s: string): boolean {
  return NON_ASCII.test(s);
}

/** Fold to the ASCII an IDNA-aware URL parser would see. Returns the input unchanged when it is ASCII. */
export function foldUnicode(s: string): string {
  if (!NON_ASCII.test(s)) return s;
  // Soft hyphen and zero-width characters are removed by UTS #46 mapping.
  return s
    .normalize('NFKC')
    .replace(DOTS, '.')
    .replace(/[\u00AD\u200B-\u200D\u2060\uFEFF]/g, '');
}
