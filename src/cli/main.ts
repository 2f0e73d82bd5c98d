#!/usr/bin/env node
import { CommanderError } from 'commander';
import { ImdsguardError } from '../core/errors.ts';
import { EXIT } from './exit-codes.ts';
import { installLifecycle } from './lifecycle.ts';
import { buildProgram } from './program.ts';
import { sanitizeStderr } from './terminal.ts';

export async function main(argv: string[]): Promise<number> {
  sanitizeStderr();
  installLifecycle();
  try {
    await buildProgram().parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : EXIT.ok;
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help')
        return EXIT.ok;
      return EXIT.error;
    }
    if (e instanceof ImdsguardError && e.code === 'E_SINK_IO') {
      process.stderr.write(`imdsguard: ${e.message}\n`);
      return EXIT.output;
    }
    if (e instanceof ImdsguardError || e instanceof SyntaxError) {
      process.stderr.write(`imdsguard: ${e.message}\n`);
      return EXIT.error;
    }
    const err = e as NodeJS.ErrnoException;
    // The reader went away while a command waited to write: stop now (input may still be coming), quietly.
    if (err?.code === 'EPIPE') process.exit(typeof process.exitCode === 'number' ? process.exitCode : EXIT.ok);
    process.stderr.write(`imdsguard: ${err?.message ?? String(e)}\n`);
    return EXIT.error;
  }
}

const code = await main(process.argv);
process.exitCode = code;
