import { access, constants } from 'node:fs/promises';
import { delimiter, join } from 'node:path';

/** Find an executable on PATH (plus the sbin directories, which a non-login root shell may lack). */
export async function which(cmd: string): Promise<string | undefined> {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/sbin', '/usr/bin', '/bin'].filter(Boolean);
  for (const d of dirs) {
    const p = join(d, cmd);
    try {
      await access(p, constants.X_OK);
      return p;
    } catch {}
  }
  return undefined;
}
