import type { FindingSink } from '../../core/ports.ts';
import { VERSION } from '../version.ts';
import type { SinkFormat } from './formats.ts';
import { htmlSink } from './html/html-sink.ts';
import { jsonArraySink, jsonlSink } from './jsonl.ts';
import { ocsfSink } from './ocsf.ts';
import { openOutput } from './output.ts';
import { sarifSink } from './sarif.ts';
import { tableSink } from './table.ts';

export { SINK_FORMATS, type SinkFormat } from './formats.ts';

export interface OpenSinkOptions {
  /** Product version stamped into OCSF and SARIF (defaults to the package version). */
  version?: string;
  /** Clock for OCSF records without a time of their own. */
  nowMs?: () => number;
  /** The output is the run's result: see OpenOutputOptions.wholeRun (commands use it; daemons do not). */
  wholeRun?: boolean;
}

/**
 * Open a sink writing `format` to stdout (no path or '-') or to `outPath`.
 * Pass `undefined` as format to get the convention: table on a TTY, jsonl otherwise.
 * @example const sink = await openSink('jsonl', '-o' in opts ? opts.o : undefined); await sink.write(f); await sink.close();
 */
export async function openSink(
  format: SinkFormat | undefined,
  outPath?: string,
  opts: OpenSinkOptions = {},
): Promise<FindingSink & { format: SinkFormat; abort(): Promise<void> }> {
  const out = await openOutput(outPath, { wholeRun: Boolean(opts.wholeRun) });
  const chosen: SinkFormat = format ?? (out.isTTY ? 'table' : 'jsonl');
  const version = opts.version ?? VERSION;
  const sink = (() => {
    switch (chosen) {
      case 'table':
        return tableSink(out);
      case 'jsonl':
        return jsonlSink(out);
      case 'json':
        return jsonArraySink(out);
      case 'ocsf':
        return ocsfSink(out, { version }, opts.nowMs ?? Date.now);
      case 'sarif':
        return sarifSink(out, { version });
      case 'html':
        return htmlSink(out, { version });
    }
  })();
  // `abort` drops a whole-run output when the run fails (close would keep it).
  return Object.assign(sink, { format: chosen, abort: async () => await out.abort?.() });
}
