import { sanitizeForTerminal, showAsName } from '../adapters/sinks/sanitize.ts';
import { maskUrlUserinfo } from '../core/secrets/argv.ts';
import { Masker } from '../core/secrets/masker.ts';

/**
 * Everything the CLI writes to stderr goes through one sanitiser: warnings and summaries quote file names, log fields
 * and error messages, any of which an attacker may have chosen (a JSON log's client field, a file name with ESC in
 * it), and errors echo argument values, which may be a pasted credential. Installed once at start, so no message can
 * bypass it; only `rawStderr` (our own progress line, whose cursor control is ours) does. The sanitiser masks secrets
 * too, with one masker for the process, so a secret named once is masked in every later message.
 */
let raw: ((s: string) => boolean) | undefined;

export function sanitizeStderr(): void {
  if (raw) return;
  const stderr = process.stderr;
  const original = stderr.write.bind(stderr) as (chunk: string | Uint8Array, ...rest: unknown[]) => boolean;
  raw = (s: string) => original(s);
  const masker = new Masker();
  // File names given as arguments are shown escaped (a line feed in one would start a line of its own).
  for (const a of process.argv.slice(2)) showAsName(a);
  stderr.write = ((chunk: string | Uint8Array, ...rest: unknown[]) =>
    original(
      // A URL's password (`--publish nats://user:pass@host` echoed by an error) is masked like any other secret.
      sanitizeForTerminal(
        maskUrlUserinfo(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8')),
        masker,
      ),
      ...rest,
    )) as typeof stderr.write;
  // Nothing can be reported once stderr itself fails (closed terminal, `2>&-`); never crash on it.
  stderr.on('error', () => undefined);
}

/** Our own cursor control (the progress line): already-sanitised text plus the escapes we chose. */
export function rawStderr(s: string): void {
  if (raw) raw(s);
  else process.stderr.write(s);
}
