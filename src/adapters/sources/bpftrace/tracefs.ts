import { execFile } from 'node:child_process';
import { access } from 'node:fs/promises';
import { promisify } from 'node:util';
import { which } from '../host/which.ts';

const run = promisify(execFile);
export const TRACEFS = '/sys/kernel/tracing';

/** Syscall tracepoints are "not found" until tracefs is mounted; many minimal hosts do not mount it. */
export async function tracefsMounted(dir = TRACEFS): Promise<boolean> {
  try {
    await access(`${dir}/events/syscalls`);
    return true;
  } catch {
    return false;
  }
}

/** Mount tracefs when needed. Returns true when this call mounted it (so a caller may unmount it later). */
export async function ensureTracefs(dir = TRACEFS): Promise<boolean> {
  if (await tracefsMounted(dir)) return false;
  await run((await which('mount')) ?? 'mount', ['-t', 'tracefs', 'nodev', dir]);
  return true;
}
