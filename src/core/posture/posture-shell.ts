/** Quote one shell word: safe characters pass, anything else is single-quoted. */
export function shq(s: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** One command line from words, each quoted as needed. */
export function cmd(...words: Array<string | undefined | false>): string {
  return words
    .filter((w): w is string => typeof w === 'string' && w !== '')
    .map(shq)
    .join(' ');
}
