#!/usr/bin/env node
import { CommanderError } from 'commander';
import { ImdsguardError } from '../core/errors.ts';
import { EXIT } from './exit-codes.ts';
import { buildProgram } from './program.ts';

export async function main(argv: string[]): Promise<number> {
  process.on('SIGINT', () => process.exit(EXIT.sigint));
  // A reader that stops early (`imdsguard … | head`) closes the pipe: end quietly, as Unix filters do, with the
  // exit code so far. Commands that decide their own code on a closed pipe (scan) add a listener of their own.
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code !== 'EPIPE') throw e;
    if (process.stdout.listenerCount('error') === 1)
      process.exit(typeof process.exitCode === 'number' ? process.exitCode : EXIT.ok);
  });
  try {
    await buildProgram().parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : EXIT.ok;
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help')
        return EXIT.ok;
      return EXIT.error;
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
