import { readlink, realpath, stat } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, resolve } from 'node:path';
import type { InputProblem } from '../adapters/sources/json-record-files.ts';
import { ImdsguardError } from '../core/errors.ts';
import { EXIT } from './exit-codes.ts';
import { describeUnread, reportProblem, whileRunning } from './lifecycle.ts';

/** What a command's use case is told while it reads its inputs. */
export interface InputHooks {
  /** A bad input, record or line: reported on stderr and counted; the rest is read. */
  onProblem: (p: InputProblem) => void;
  /** Which file is being read (so that a stop can say what was not read). */
  onFile: (index: number, files: readonly string[]) => void;
}

/** The run's output: closed when the run succeeds, dropped when it fails. */
interface RunOutput {
  close(): Promise<void>;
  abort(): Promise<void>;
}

/**
 * Refuse every output (`-o`, scripts, views) that is one of the inputs, directories expanded as the readers expand
 * them; `extra` are inputs read as they are (inventories, ranges files).
 */
export async function refuseOutputsAmongInputs(
  outputs: ReadonlyArray<string | undefined>,
  inputs: string[],
  extra: readonly string[] = [],
): Promise<void> {
  const named = outputs.filter((o): o is string => Boolean(o));
  // Two outputs of one run naming one file: the second would replace the first.
  const seen = new Map<string, string>();
  for (const o of named) {
    const key = await outputIdentity(o);
    const first = seen.get(key);
    if (first !== undefined)
      throw new ImdsguardError('E_USAGE', `"${first}" and "${o}" name the same file; give each output its own`);
    seen.set(key, o);
  }
  const [{ refuseOutputAmongInputs, refuseStdoutAmongInputs }, { expandInputs }] = await Promise.all([
    import('../adapters/files/output-file.ts'),
    import('../adapters/sources/json-record-files.ts'),
  ]);
  const expanded = [...(await expandInputs(inputs, () => undefined)), ...extra];
  // The first output is the records' -o: without it they go to stdout, which must not be an input either.
  if (!outputs[0]) await refuseStdoutAmongInputs(expanded);
  for (const o of named) await refuseOutputAmongInputs(o, expanded);
}

/**
 * Run a use case that reads input files into `output`: input problems are reported and counted, the file being read
 * is tracked for the message a signal prints, and the output is closed on success or dropped on failure
 * (`onAbort` then runs too, e.g. to end publishing). Until the use case names the files it expanded `inputs` to, a
 * signal names `inputs` (stdin when there are none) as not read.
 */
export async function readInputsInto<T>(
  output: RunOutput,
  inputs: readonly string[],
  run: (hooks: InputHooks) => Promise<T>,
  opts: {
    onAbort?: () => Promise<unknown>;
    /** Whether a record at or above --fail-on was written so far: the exit code when a reader closes stdout early. */
    worst?: () => boolean;
  } = {},
): Promise<{ result: T; problems: number }> {
  let problems = 0;
  let files: readonly string[] = inputs.length > 0 ? inputs : ['-'];
  let current = -1;
  const stopHooks = whileRunning({
    unread: () => describeUnread(files, current),
    // `… | head`: the run ends quietly with the code it had so far, as scan's does.
    closedPipeCode: () => (problems > 0 ? EXIT.error : opts.worst?.() ? EXIT.findings : EXIT.ok),
  });
  try {
    const result = await run({
      onProblem: (p) => {
        problems++;
        reportProblem(p);
      },
      onFile: (i, f) => {
        current = i;
        files = f;
      },
    });
    await output.close();
    return { result, problems };
  } catch (e) {
    await output.abort();
    await opts.onAbort?.();
    throw e;
  } finally {
    stopHooks();
  }
}

/**
 * After the records: say that input problems were stepped over, and give the exit code (an input error outranks
 * findings, since every readable input was still read and written).
 */
export function inputsExitCode(problems: number, worst: boolean, written = 'findings'): number {
  if (problems > 0)
    process.stderr.write(
      `imdsguard: ${problems} input problem(s); the ${written} above come from everything else that was read\n`,
    );
  return problems > 0 ? EXIT.error : worst ? EXIT.findings : EXIT.ok;
}

/** What an output name stands for: device and inode when it exists, else its resolved path (a file still to create). */
async function outputIdentity(o: string): Promise<string> {
  const st = await stat(o).catch(() => undefined);
  if (st) return `${st.dev}:${st.ino}`;
  // A name not made yet: where the kernel would create it. The directory is resolved by the kernel, not lexically
  // (`sd/self/../n3` with `sd/self -> .` is `./n3`, where path.resolve would say `sd/n3`), and a dangling link is
  // followed to the name it would create (`n1link -> n1` is `n1`).
  let path = o;
  for (let hops = 0; ; hops++) {
    const dir = await realpath(dirname(path)).catch(() => resolve(dirname(path)));
    const at = join(dir, basename(path));
    const link = hops < 40 ? await readlink(at).catch(() => undefined) : undefined;
    if (link === undefined) return at;
    path = isAbsolute(link) ? link : join(dir, link);
  }
}
