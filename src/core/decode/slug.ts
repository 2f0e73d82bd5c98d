/**
 * Hyphen- or underscore-hex "slug" forms (`http-3a-2f-2f169.254.169.254`), as written by some URL rewriters and
 * used to slip past filters that look for `://`. Only applied when the text contains such an escaped separator.
 */
const TRIGGER = /[-_](?:3a|2f|2e|40)(?:[-_]|$)/i;

export function hasSlugHex(s: string): boolean {
  return TRIGGER.test(s);
}

export function decodeSlugHex(s: string): string {
  if (!hasSlugHex(s)) return s;
  return s.replace(/[-_](3a|2f|2e|40|5b|5d|3f|23|3d|26)(?=[-_]|[0-9a-z.]|$)/gi, (_m, h: string) =>
    String.fromCharCode(Number.parseInt(h, 16)),
  );
}
