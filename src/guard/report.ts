/** Deliver guard findings: a callback, stderr as JSON lines, or a file (one JSON object per line). */
import { closeSync, openSync, writeSync } from 'node:fs';
import type { Finding } from '../core/model/finding.ts';
import { maskRecord } from '../core/secrets/masker.ts';
import type { ResolvedGuardOptions } from './options.ts';

// Taken when the guard loads: a reporter that goes through functions replaced later would report nothing. The file is
// written with positional arguments only: appendFileSync goes through the module's writeFileSync (replaceable) and
// reads an options object, whose mode, flag or encoding a getter on Object.prototype could answer.
const open = openSync;
const write = writeSync;
const close = closeSync;
const appendFile = (path: string, text: string): void => {
  const fd = open(path, 'a', 0o666);
  try {
    write(fd, text);
  } finally {
    close(fd);
  }
};
const stringify = JSON.stringify;
const ObjectKeys = Object.keys;
const ArrayIsArray = Array.isArray;
const ObjectSetPrototypeOf = Object.setPrototypeOf;
const stderr = process.stderr;
const stderrWrite = stderr.write;
const ReflectApply = Reflect.apply;

/**
 * A copy of a record in which no object or array has a prototype: JSON.stringify asks every object it writes for a
 * `toJSON`, inherited ones included, so one put on `Object.prototype` would write whatever it returns instead of
 * the finding. The copies get their prototype taken away before anything is stored in them, so a setter on
 * `Array.prototype` or `Object.prototype` cannot swallow a value either.
 */
function withoutPrototypes(v: unknown, depth: number): unknown {
  if (v === null || typeof v !== 'object') return v;
  if (depth > 32) return null;
  if (ArrayIsArray(v)) {
    const a: unknown[] = ObjectSetPrototypeOf([], null);
    for (let i = 0; i < v.length; i++) a[i] = withoutPrototypes(v[i], depth + 1);
    return a;
  }
  const o: Record<string, unknown> = ObjectSetPrototypeOf({}, null);
  const keys = ObjectKeys(v);
  for (let i = 0; i < keys.length; i++)
    o[keys[i]!] = withoutPrototypes((v as Record<string, unknown>)[keys[i]!], depth + 1);
  return o;
}

/**
 * Findings are rare (one per refused or audited metadata connection), so they are written synchronously: a process
 * that crashes right after a refusal still leaves the record behind, and nothing queues on the request path.
 */
export function makeReporter(o: Pick<ResolvedGuardOptions, 'onFinding' | 'report'>): (f: Finding) => void {
  const { onFinding, report } = o;
  return (found) => {
    let f = found;
    try {
      f = maskRecord(found);
    } catch {
      // The finding is built from masked parts; the decision does not wait for a second pass.
    }
    if (onFinding) {
      try {
        onFinding(f);
      } catch {
        // A broken callback must not turn into a crash inside an unrelated request.
      }
    }
    if (report === 'none') return;
    try {
      const line = `${stringify(withoutPrototypes(f, 0))}\n`;
      if (report === 'stderr') ReflectApply(stderrWrite, stderr, [line]);
      else appendFile(report.file, line);
    } catch {
      // Same reasoning: reporting is best-effort, the decision stands.
    }
  };
}
