/**
 * Request-target sanity: what a metadata client never sends but a request smuggled through a vulnerable web proxy
 * or a path-confusion trick does. Returns the first problem, or null.
 * @example targetProblem('/latest/meta-data/%2e%2e/user-data') // 'encoded dot segment'
 */
export function targetProblem(target: string): string | null {
  if (target.length > 2048) return 'request target too long';
  if (!target.startsWith('/')) return 'absolute-form or asterisk-form request target';
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are exactly what this looks for.
  if (/[\u0000-\u001f\u007f]/.test(target)) return 'control character in request target';
  if (/%(?:[01][0-9a-f]|7f)/i.test(target)) return 'encoded control character (CR, LF, NUL, …)';
  if (/%25/.test(target)) return 'double percent-encoding';
  if (/%2e/i.test(target)) return 'encoded dot segment';
  if (/%2f|%5c|\\/i.test(target)) return 'encoded slash or backslash';
  if (target.includes('#')) return 'fragment in request target';
  const q = target.indexOf('?');
  const path = q < 0 ? target : target.slice(0, q);
  if (/(?:^|\/)\.{1,2}(?:\/|$)/.test(path)) return 'dot segment in path';
  if (path.startsWith('//')) return 'authority-like path (//host)';
  if (/%(?![0-9a-f]{2})/i.test(target)) return 'malformed percent-encoding';
  return null;
}
