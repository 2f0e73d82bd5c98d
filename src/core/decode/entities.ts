/** HTML/XML character references: numeric (with or without the `;`), hex, and the named ones URLs use. */

const NAMED: Record<string, string> = {
  amp: '&',
  lt: '<',
  gt: '>',
  quot: '"',
  apos: "'",
  sol: '/',
  bsol: '\\',
  colon: ':',
  period: '.',
  commat: '@',
  num: '#',
  quest: '?',
  equals: '=',
  percnt: '%',
  lsqb: '[',
  rsqb: ']',
  lbrack: '[',
  rbrack: ']',
  nbsp: ' ',
  newline: '\n',
  tab: '\t',
};

const ENTITY = /&(?:#[xX]([0-9a-fA-F]{1,6});?|#([0-9]{1,7});?|([a-zA-Z]{2,8});)/g;

function fromCode(cp: number, whole: string): string {
  if (!Number.isFinite(cp) || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return whole;
  return String.fromCodePoint(cp);
}

/** Decode character references. Unknown names are left as written. */
export function decodeEntities(s: string): string {
  if (!s.includes('&')) return s;
  return s.replace(ENTITY, (whole, hex: string | undefined, dec: string | undefined, name: string | undefined) => {
    if (hex !== undefined) return fromCode(Number.parseInt(hex, 16), whole);
    if (dec !== undefined) return fromCode(Number.parseInt(dec, 10), whole);
    const v = name !== undefined ? NAMED[name.toLowerCase()] : undefined;
    return v ?? whole;
  });
}
