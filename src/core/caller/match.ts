/**
 * The one caller-matching language, shared by the proxy policy (`match:` of a rule) and the agent allowlist
 * (`callers:`): which process is asking, by executable, command line, user, container and network namespace.
 * Documented once, in docs/callers.md. Every key given must match; a list means any of its alternatives.
 *
 * - `exe`: glob over the executable's path (`/proc/<pid>/exe`, which the process cannot choose): `*` and `?` stay
 *   within one `/` segment, `**` crosses them, `[...]` is a class. A glob without `/` matches the base name
 *   anywhere: `python3` matches `/usr/bin/python3`, `python3*` matches `/usr/bin/python3.11`.
 * - `argv`: the same globs over each command-line element (`argv: cloud-init` matches `python3 /usr/bin/cloud-init`).
 *   The command line is what the process says about itself: it can write any; prefer `exe` to grant.
 * - `user`: user-name globs; `uid`: numbers.
 * - `container`: `true` (in a container), `false` or `host` (not in one), or globs over the container id (and, for
 *   the agent, the container's image or cgroup key).
 * - `netns`: `host` (the matcher's own namespace), `other`, or a namespace inode number.
 * @example compileCallerMatch({ exe: 'python3', user: 'root' })({ exe: '/usr/bin/python3', user: 'root' }) // true
 */
import { globToRegExp, isGlob } from './glob.ts';

/** What is known about a caller. Absent fields match nothing that asks for them. */
export interface CallerFacts {
  exe?: string | undefined;
  argv?: readonly string[] | undefined;
  uid?: number | undefined;
  user?: string | undefined;
  /** Container id, absent outside a container. */
  container?: string | undefined;
  /** Another name of the container a `container` glob may match (the agent's image or cgroup key). */
  containerKey?: string | undefined;
  netns?: number | undefined;
  /** The caller is in another network namespace than the matcher (a container, or another host). */
  otherNamespace?: boolean | undefined;
}

type OneOrMany<T> = T | readonly T[];

/** The caller keys as written (YAML, validated by the caller's schema). */
export interface CallerMatchSpec {
  exe?: OneOrMany<string> | undefined;
  argv?: OneOrMany<string> | undefined;
  user?: OneOrMany<string> | undefined;
  uid?: OneOrMany<number> | undefined;
  container?: boolean | OneOrMany<string> | undefined;
  netns?: OneOrMany<'host' | 'other' | number> | undefined;
}

export type CallerMatcher = (c: CallerFacts) => boolean;

const list = <T>(v: OneOrMany<T> | undefined): T[] =>
  v === undefined ? [] : Array.isArray(v) ? [...(v as readonly T[])] : [v as T];

/**
 * One glob of the language as a test over a string: a glob with `/` covers the whole string, one without covers its
 * base name; a plain string compares equal (or equal base name).
 */
export function callerGlob(glob: string): (value: string) => boolean {
  const pathLike = glob.includes('/');
  if (!isGlob(glob)) return pathLike ? (v) => v === glob : (v) => v === glob || v.endsWith(`/${glob}`);
  const re = globToRegExp(glob);
  if (pathLike) return (v) => re.test(v);
  return (v) => re.test(v.slice(v.lastIndexOf('/') + 1));
}

function anyGlob(globs: string[]): (v: string | undefined) => boolean {
  const tests = globs.map(callerGlob);
  return (v) => v !== undefined && tests.some((t) => t(v));
}

/** Compile the caller keys of one rule or entry; keys not given always match. */
export function compileCallerMatch(spec: CallerMatchSpec): CallerMatcher {
  const checks: CallerMatcher[] = [];
  if (spec.exe !== undefined) {
    const t = anyGlob(list(spec.exe));
    checks.push((c) => t(c.exe));
  }
  if (spec.argv !== undefined) {
    const t = anyGlob(list(spec.argv));
    checks.push((c) => c.argv?.some((a) => t(a)) ?? false);
  }
  if (spec.user !== undefined) {
    const t = anyGlob(list(spec.user));
    checks.push((c) => t(c.user));
  }
  if (spec.uid !== undefined) {
    const uids = list(spec.uid);
    checks.push((c) => c.uid !== undefined && uids.includes(c.uid));
  }
  if (spec.container !== undefined) {
    const v = spec.container;
    if (typeof v === 'boolean') checks.push((c) => (c.container !== undefined) === v);
    else {
      const alts = list(v);
      const host = alts.includes('host');
      const t = anyGlob(alts.filter((a) => a !== 'host'));
      checks.push((c) => (host && c.container === undefined) || t(c.container) || t(c.containerKey));
    }
  }
  if (spec.netns !== undefined) {
    const alts = list(spec.netns);
    checks.push((c) =>
      alts.some((a) =>
        a === 'host' ? c.otherNamespace === false : a === 'other' ? c.otherNamespace === true : c.netns === a,
      ),
    );
  }
  return (c) => checks.every((check) => check(c));
}

/** True when the spec names some caller key (an entry with none would match every caller). */
export function namesCaller(spec: CallerMatchSpec): boolean {
  return (['exe', 'argv', 'user', 'uid', 'container', 'netns'] as const).some((k) => spec[k] !== undefined);
}
