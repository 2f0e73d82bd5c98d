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
const stderr = process.stderr;
const stderrWrite = stderr.write;
const ReflectApply = Reflect.apply;

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
      const line = `${stringify(f)}\n`;
      if (report === 'stderr') ReflectApply(stderrWrite, stderr, [line]);
      else appendFile(report.file, line);
    } catch {
      // Same reasoning: reporting is best-effort, the decision stands.
    }
  };
}
