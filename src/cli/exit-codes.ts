import { constants } from 'node:os';

/** Exit codes scripts rely on (see the output contract and the README). */
export const EXIT = {
  ok: 0,
  findings: 1,
  /** Usage, config or input error (an error outranks findings). */
  error: 2,
  /** The output could not be written (full disk, I/O error, closed or failing destination): outranks everything. */
  output: 3,
  sigint: 130,
} as const;

/** Signals that end a command the way Ctrl-C does: cleanly, with 128 + the signal's number. */
export const STOP_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
export type StopSignal = (typeof STOP_SIGNALS)[number];

export function signalExitCode(sig: StopSignal): number {
  return 128 + constants.signals[sig];
}
