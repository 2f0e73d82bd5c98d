/** `export`: write our detections in another engine's language to a directory, or to stdout. */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { outputWriteError, writeOutputFile } from '../adapters/files/output-file.ts';
import { type ExportTarget, exportRules } from '../core/export/index.ts';

export interface ExportRequest {
  target: ExportTarget;
  version: string;
  /** Directory to write the files into (created when missing). Without it, the combined document goes to `write`. */
  dir?: string;
  idBase?: number;
}

/** Returns the paths written (empty when writing to stdout). */
export async function runExport(
  req: ExportRequest,
  write: (s: string) => Promise<void> | undefined,
): Promise<string[]> {
  const result = exportRules(req.target, {
    version: req.version,
    ...(req.idBase !== undefined ? { idBase: req.idBase } : {}),
  });
  if (!req.dir) {
    await write(result.combined);
    return [];
  }
  try {
    await mkdir(req.dir, { recursive: true });
    const written: string[] = [];
    for (const f of result.files) {
      const p = join(req.dir, f.name);
      await writeOutputFile(p, f.content);
      written.push(p);
    }
    return written;
  } catch (e) {
    throw outputWriteError(`the ${req.target} export to "${req.dir}"`, e);
  }
}
