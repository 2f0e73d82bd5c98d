import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { LeakTracker } from '../../src/core/secrets/tracker.ts';

export const ROOT = resolve(import.meta.dirname, '../..');
export const LEAKS = join(ROOT, 'test/fixtures/leaks');
const MAIN = join(ROOT, 'src/cli/main.ts');

export interface CliResult {
  status: number | null;
  stdout: Buffer;
  stderr: Buffer;
}

/** Run the CLI from source (no build needed); several can run at once. */
export function cli(args: string[], opts: { input?: string | Buffer } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', MAIN, ...args], { cwd: ROOT });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, stdout: Buffer.concat(out), stderr: Buffer.concat(err) }));
    child.stdin.end(opts.input ?? '');
  });
}

/** Start the CLI without waiting. */
export function cliAsync(args: string[]) {
  return spawn(process.execPath, ['--import', 'tsx', MAIN, ...args], {
    cwd: ROOT,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
}

export interface Expect {
  format: string;
  leaks: Array<{ line: number; kinds: string[] }>;
  values: string[];
}

export function expectOf(name: string): Expect {
  return JSON.parse(readFileSync(join(LEAKS, `${name}.expect.json`), 'utf8')) as Expect;
}

/** Every leak a scan of `text` would report (the detector the scan uses). */
export function leaksIn(text: string): number[] {
  const t = new LeakTracker<null>({ salt: 'x' });
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  return [...lines.flatMap((l) => t.push(l, null)), ...t.flush()].map((l) => l.line);
}
