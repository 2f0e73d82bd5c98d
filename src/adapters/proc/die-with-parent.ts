import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { which } from '../sources/host/which.ts';

const run = promisify(execFile);

/** How to start a long-lived child so that it dies with this process. */
export interface DieWithParent {
  /** Put before the child's command line; empty when no way is available here. */
  prefix: string[];
  /** Why the child would outlive a killed parent, when it would. */
  unavailable?: string;
}

let cached: Promise<DieWithParent> | undefined;

/**
 * A child (bpftrace, a C++ program) cannot be made to notice that its parent died: a SIGKILL or the OOM killer runs
 * no exit handler in the parent, the child is re-parented to pid 1 and keeps its probes attached. The kernel's
 * parent-death signal does it: util-linux `setpriv --pdeathsig KILL` sets it (prctl PR_SET_PDEATHSIG) and execs the
 * command, which keeps it (it is cleared only by set-user-id and file-capability executables). The signal follows
 * the thread that forked the child, here Node's main thread, whose end is the process's. Checked once, by running it.
 */
export function dieWithParent(): Promise<DieWithParent> {
  cached ??= (async () => {
    const setpriv = await which('setpriv');
    if (!setpriv) return { prefix: [], unavailable: 'setpriv (util-linux) not installed' };
    try {
      await run(setpriv, ['--pdeathsig', 'KILL', '--', 'true'], { timeout: 10_000 });
    } catch (e) {
      const err = e as { stderr?: string; message: string };
      return {
        prefix: [],
        unavailable: `${setpriv} --pdeathsig refused: ${(err.stderr || err.message).trim().split('\n')[0]}`,
      };
    }
    return { prefix: [setpriv, '--pdeathsig', 'KILL', '--'] };
  })();
  return cached;
}
