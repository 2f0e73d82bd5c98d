/** `export`: write our detections in another engine's language to a directory, or to stdout. */
import { join } from 'node:path';
import { makeDirs, removeMadeDirs } from '../adapters/files/make-dirs.ts';
import { finish, type OutputFile, openOutputFile, outputWriteError } from '../adapters/files/output-file.ts';
import { trackMadeDirs } from '../adapters/files/uncommitted.ts';
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
  const opened: OutputFile[] = [];
  let madeDirs: string[] = [];
  try {
    madeDirs = await makeDirs(req.dir);
    trackMadeDirs(madeDirs);
    // Every file is written in full (where a full disk shows) before any replaces its old copy, so a failure leaves
    // the old set whole rather than a mix of old and new rules.
    for (const f of result.files) {
      const out = await openOutputFile(join(req.dir, f.name));
      opened.push(out);
      out.stream.on('error', () => undefined); // read back by finish
      out.stream.write(f.content);
      await finish(out.stream);
    }
    for (const out of opened) await out.commit();
    return opened.map((o) => o.path);
  } catch (e) {
    for (const out of opened) await out.abort();
    // The directories this run created go too, when nothing else was put in them meanwhile.
    removeMadeDirs(madeDirs);
    throw outputWriteError(`the ${req.target} export to "${req.dir}"`, e);
  }
}
