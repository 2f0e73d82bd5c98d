import { readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ImdsguardError } from '../../core/errors.ts';
import type { Store } from '../../core/ports.ts';
import { makeDirs } from '../files/make-dirs.ts';

/**
 * A small durable key/value store: one JSON file per key under a directory, written atomically (temp file, then
 * rename) so a crash never leaves half a baseline. Enough for the agent's baseline and recent sequences; no
 * native dependency.
 */
export class JsonFileStore implements Store {
  private readonly dir: string;
  private ready: Promise<void> | undefined;

  constructor(dir: string) {
    this.dir = dir;
  }

  private file(key: string): string {
    if (!/^[a-z0-9][a-z0-9._-]{0,63}$/i.test(key)) throw new ImdsguardError('E_CONFIG', `Invalid store key "${key}"`);
    return join(this.dir, `${key}.json`);
  }

  private ensure(): Promise<void> {
    this.ready ??= makeDirs(this.dir, 0o700).then(
      () => undefined,
      (e: Error) => {
        throw new ImdsguardError('E_CONFIG', `Cannot create state directory "${this.dir}": ${e.message}`, { cause: e });
      },
    );
    return this.ready;
  }

  /**
   * Fail now, with the directory and the cause, when state could not be saved later (a daemon would otherwise run for
   * hours and lose its state at the end): the directory is made if missing and a probe file written and removed.
   */
  async checkWritable(): Promise<void> {
    await this.ensure();
    const probe = join(this.dir, `.probe-${process.pid}`);
    try {
      await writeFile(probe, '', { flag: 'wx', mode: 0o600 });
      await unlink(probe);
    } catch (e) {
      throw new ImdsguardError('E_CONFIG', `Cannot write state directory "${this.dir}": ${(e as Error).message}`, {
        cause: e,
      });
    }
  }

  async get<T>(key: string): Promise<T | undefined> {
    const path = this.file(key);
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new ImdsguardError('E_SOURCE_IO', `Cannot read state "${path}": ${(e as Error).message}`, { cause: e });
    }
    try {
      return JSON.parse(text) as T;
    } catch (e) {
      throw new ImdsguardError(
        'E_CONFIG',
        `State file "${path}" is not valid JSON (${(e as Error).message}); move it away to start afresh`,
      );
    }
  }

  async put<T>(key: string, value: T): Promise<void> {
    await this.ensure();
    const path = this.file(key);
    const tmp = `${path}.${process.pid}.tmp`;
    await writeFile(tmp, `${JSON.stringify(value)}\n`, { mode: 0o600 });
    await rename(tmp, path);
  }

  async close(): Promise<void> {}
}
