/**
 * Globs for executables and paths: `*` and `?` stay within one `/` segment, `**` crosses them, `[...]` is a
 * character class, everything else is literal. The glob covers the whole string.
 * @example globToRegExp('**\/python3*').test('/usr/bin/python3.11') // true
 */
export function globToRegExp(glob: string): RegExp {
  let re = '^';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i] as string;
    if (c === '*') {
      if (glob[i + 1] === '*') {
        i++;
        // `**/` also matches no directory at all.
        if (glob[i + 1] === '/') {
          i++;
          re += '(?:.*/)?';
        } else re += '.*';
      } else re += '[^/]*';
    } else if (c === '?') re += '[^/]';
    else if (c === '[') {
      const end = glob.indexOf(']', i + 2);
      if (end < 0) re += '\\[';
      else {
        let body = glob.slice(i + 1, end).replace(/\\/g, '\\\\');
        if (body.startsWith('!')) body = `^${body.slice(1)}`;
        re += `[${body}]`;
        i = end;
      }
    } else re += c.replace(/[.+^${}()|\\/]/g, '\\$&');
  }
  return new RegExp(`${re}$`, 's');
}

/** True when the text uses glob syntax (so a plain string can be compared for equality instead). */
export function isGlob(s: string): boolean {
  return /[*?[]/.test(s);
}

/**
 * Why a text is not a well-formed glob, or null. A `[` opens a class that must close (`[[]` matches a literal `[`),
 * and the class must be one a regular expression accepts (`[z-a]` is not): a typo in an allowlist or a policy is
 * refused when the file is loaded, with its line, instead of silently matching the characters as written.
 */
export function globProblem(glob: string): string | null {
  for (let i = 0; i < glob.length; i++) {
    if (glob[i] !== '[') continue;
    const end = glob.indexOf(']', i + 2);
    if (end < 0) return `unclosed "[" in glob "${glob}" (write "[[]" for a literal "[")`;
    i = end;
  }
  try {
    globToRegExp(glob);
  } catch (e) {
    return `invalid character class in glob "${glob}" (${(e as Error).message.replace(/^Invalid regular expression: /, '')})`;
  }
  return null;
}
