#!/usr/bin/env node
import { CommanderError } from 'commander';
import { ImdsguardError } from '../core/errors.ts';
import { EXIT } from './exit-codes.ts';
import { buildProgram } from './program.ts';

export async function main(argv: string[]): Promise<number> {
  process.on('SIGINT', () => process.exit(EXIT.sigint));
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
    process.stderr.write(`imdsguard: ${err?.message ?? String(e)}\n`);
    return EXIT.error;
  }
}

const code = await main(process.argv);
process.exitCode = code;
