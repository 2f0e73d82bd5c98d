/** Raw rule (validated YAML) → compiled matchers. */
import { globToRegExp, isGlob } from '../caller/glob.ts';
import { compileCallerMatch, namesCaller } from '../caller/match.ts';
import { canonicalGlob } from './canonical-path.ts';
import type { RawMatch, RawRule } from './schema.ts';
import type { Match, Matcher, Rule } from './types.ts';

const list = <T>(v: T | T[] | undefined): T[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

/** "1s" → 1000; a bare number is seconds. */
export function durationMs(d: string | number): number {
  if (typeof d === 'number') return d * 1000;
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(d);
  if (!m) throw new Error(`Cannot parse duration "${d}"`);
  const n = Number(m[1]);
  return m[2] === 'ms' ? n : m[2] === 's' ? n * 1000 : m[2] === 'm' ? n * 60_000 : n * 3_600_000;
}

/** String alternatives: globs become regexps, plain strings compare equal. */
function strings(alts: string[], caseInsensitive = false): Matcher<string | undefined | null> {
  const tests = alts.map((a) => {
    if (isGlob(a)) {
      const re = globToRegExp(caseInsensitive ? a.toLowerCase() : a);
      return (v: string) => re.test(v);
    }
    const want = caseInsensitive ? a.toLowerCase() : a;
    return (v: string) => v === want;
  });
  return (v) => {
    if (v === undefined || v === null) return false;
    const s = caseInsensitive ? v.toLowerCase() : v;
    return tests.some((t) => t(s));
  };
}

/**
 * Path globs over the canonical path (see canonical-path.ts): the glob is canonicalised the same way, and a path
 * matches with or without a trailing `/`, so `/a/*` covers `/a/b/` and `/a/` alike.
 */
function pathMatcher(globs: string[]): Matcher<string> {
  const m = strings(globs.map(canonicalGlob));
  return (p) => m(p) || (p !== '/' && m(`${p}/`));
}

export function compileMatch(m: RawMatch): Match {
  const out: Match = {};
  const exes = list(m.exe);
  const exePaths = exes.filter((e) => !e.startsWith('sha256:'));
  const hashes = [...exes.filter((e) => e.startsWith('sha256:')), ...list(m.exe_sha256)].map((h) =>
    h.replace(/^sha256:/, '').toLowerCase(),
  );
  const who = {
    exe: exePaths.length > 0 ? exePaths : undefined,
    argv: m.argv,
    user: m.user,
    uid: m.uid,
    container: m.container,
    netns: m.netns,
  };
  if (namesCaller(who)) out.caller = compileCallerMatch(who);
  if (hashes.length > 0) out.exeSha256 = (v) => v !== undefined && hashes.includes(v);
  if (m.method !== undefined) out.method = strings(list(m.method).map((x) => x.toUpperCase())) as Matcher<string>;
  if (m.path !== undefined) out.path = pathMatcher(list(m.path));
  if (m.provider !== undefined) out.provider = strings(list(m.provider), true);
  if (m.path_class !== undefined) {
    const classes: string[] = list(m.path_class);
    out.pathClass = (v) => classes.includes(v);
  }
  return out;
}

export function compileRule(r: RawRule, line?: number): Rule {
  if (
    r.match.exe !== undefined &&
    r.match.exe_sha256 !== undefined &&
    list(r.match.exe).some((e) => e.startsWith('sha256:'))
  ) {
    throw new Error('give the hash either in exe ("sha256:…") or in exe_sha256, not both');
  }
  return {
    name: r.name,
    action: r.action,
    match: compileMatch(r.match),
    report: r.report ?? r.action !== 'allow',
    ...(r.severity ? { severity: r.severity } : {}),
    ...(r.imdsv2_only !== undefined ? { imdsv2Only: r.imdsv2_only } : {}),
    ...(r.reject_forwarded !== undefined ? { rejectForwarded: r.reject_forwarded } : {}),
    ...(r.rate_limit ? { rateLimit: { requests: r.rate_limit.requests, perMs: durationMs(r.rate_limit.per) } } : {}),
    ...(line !== undefined ? { line } : {}),
  };
}
