import { describeIoError } from '../adapters/files/output-file.ts';
import { EXIT, STOP_SIGNALS, type StopSignal, signalExitCode } from './exit-codes.ts';

/**
 * How a command ends when it does not end by itself: on SIGINT, SIGTERM or SIGHUP, and when stdout fails.
 * Every exit path runs the process's 'exit' hooks, which remove the files this run created and did not commit.
 */
interface RunHooks {
  /** Stop reading and finish with what was read (the command then exits with `stopExitCode()`). */
  onStop?: (sig: StopSignal) => void;
  /** What was not read yet, for the message printed when a signal ends the run at once. */
  unread?: () => string | undefined;
  /** The exit code when a reader closes stdout early (`| head`): the result so far. */
  closedPipeCode?: () => number;
}

let hooks: RunHooks = {};
let stoppedBy: StopSignal | undefined;

/** Install the handlers; called once by main. */
export function installLifecycle(): void {
  for (const sig of STOP_SIGNALS) process.on(sig, () => onSignal(sig));
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    // A reader that stops early (`imdsguard … | head`) closes the pipe: end quietly, as Unix filters do.
    if (e.code === 'EPIPE') process.exit(hooks.closedPipeCode?.() ?? currentCode());
    process.stderr.write(`imdsguard: cannot write stdout: ${describeIoError(e)}\n`);
    process.exit(EXIT.output);
  });
}

function currentCode(): number {
  return typeof process.exitCode === 'number' ? process.exitCode : EXIT.ok;
}

function onSignal(sig: StopSignal): void {
  // A daemon (agent, proxy) that listens for this signal itself decides what it means.
  if (process.listenerCount(sig) > 1) return;
  if (!stoppedBy && hooks.onStop) {
    stoppedBy = sig;
    hooks.onStop(sig);
    return;
  }
  // No graceful stop, or a second signal: stop now.
  const first = stoppedBy ?? sig;
  const unread = hooks.unread?.();
  process.stderr.write(`imdsguard: interrupted by ${sig}${unread ? `; not read: ${unread}` : ''}\n`);
  process.exit(signalExitCode(first));
}

/** Set the current command's hooks; returns a function that removes them. */
export function whileRunning(h: RunHooks): () => void {
  hooks = h;
  return () => {
    if (hooks === h) hooks = {};
  };
}

/** The signal that asked the current command to stop, if one did. */
export function stopRequested(): StopSignal | undefined {
  return stoppedBy;
}

/** The exit code of a run a signal stopped (128 + its number). */
export function stopExitCode(): number | undefined {
  return stoppedBy ? signalExitCode(stoppedBy) : undefined;
}

/**
 * "b.json (after line 12), c.json, d.json": the file being read when stopped, and the ones not started. The current
 * file is "(partly)" only when `started` says something of it was read or written; otherwise it is named as not read.
 */
export function describeUnread(
  files: readonly string[],
  current: number,
  line?: number,
  started = true,
): string | undefined {
  const name = (f: string) => (f === '-' ? 'stdin' : f);
  if (current < 0) return files.length > 0 ? files.map(name).join(', ') : undefined;
  const rest = files.slice(current + 1);
  const now = files[current];
  const progress = line ? ` (after line ${line})` : started ? ' (partly)' : '';
  const parts = [...(now ? [`${name(now)}${progress}`] : []), ...rest.map(name)];
  return parts.length > 0 ? parts.join(', ') : undefined;
}

/** One line on stderr per problem with an input: where, what, and what it cost. */
export function reportProblem(p: { message: string; skipped: 'record' | 'line' | 'rest' | 'input' }): void {
  const cost = {
    record: 'that record skipped',
    line: 'the rest of that line skipped',
    rest: 'the rest of that input skipped',
    input: 'that input skipped',
  }[p.skipped];
  process.stderr.write(`imdsguard: ${p.message} (${cost})\n`);
}
