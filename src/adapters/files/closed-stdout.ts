import { fstatSync, readFileSync } from 'node:fs';

/** /dev/null's device number on Linux (major 1, minor 3). */
const DEV_NULL_RDEV = (1 << 8) | 3;
const O_ACCMODE = 3;
const O_RDWR = 2;

/** Whether descriptor `fd` is /dev/null opened read-write (Linux; false where /proc says nothing). */
function isReadWriteDevNull(fd: number): boolean {
  try {
    const st = fstatSync(fd);
    if (!st.isCharacterDevice() || st.rdev !== DEV_NULL_RDEV) return false;
    const flags = /^flags:\s*([0-7]+)/m.exec(readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'));
    return flags !== null && (Number.parseInt(flags[1]!, 8) & O_ACCMODE) === O_RDWR;
  } catch {
    return false;
  }
}

let closed: boolean | undefined;

/**
 * Whether stdout was closed when the process started (`imdsguard scan log >&-`). Node replaces a closed descriptor
 * 0–2 by /dev/null opened read-write before any of our code runs, so every write would vanish without an error and
 * the run would report success. A shell's `>/dev/null` opens it write-only; a daemonised parent (daemon(3)) points
 * stdout and stderr alike at a read-write /dev/null, so stdout counts as closed only while stderr is not the same.
 */
export function stdoutClosedAtStart(): boolean {
  closed ??= isReadWriteDevNull(1) && !isReadWriteDevNull(2);
  return closed;
}

/** The message for a closed stdout, as the write error it stands for. */
export const CLOSED_STDOUT = 'cannot write stdout: it is closed (bad file descriptor, EBADF)';
