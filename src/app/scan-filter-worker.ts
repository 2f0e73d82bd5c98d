// Worker thread entry: the stateless filter stage of `scan` (decode, chunk tests, per-line field prefilter) for the
// chunks the main thread sends. The rules here are built by the same factory as the main thread's; only their pure
// tests are used, so their state (trackers, correlators) never matters.
import { parentPort, workerData } from 'node:worker_threads';
import { FORMATS } from '../core/parse/registry.ts';
import type { LogFormatName, ParserOptions } from '../core/parse/types.ts';
import type { FilterRequest, FilterResponse } from './scan-filter-pool.ts';
import { type FieldLister, filterChunk } from './scan-line-filter.ts';
import { scanRules } from './scan-rules.ts';

const { parser } = workerData as { parser: ParserOptions };
const rules = scanRules();
const listers = new Map<string, FieldLister>();
const NONE: FieldLister = { places: undefined };

function listerOf(format: string | undefined): FieldLister {
  if (format === undefined || !(format in FORMATS)) return NONE;
  let l = listers.get(format);
  if (!l) {
    const p = FORMATS[format as Exclude<LogFormatName, 'auto'>].create(parser);
    l = { places: p.quickPlaces ? (t, nb) => p.quickPlaces!(t, nb) : undefined, spans: p.quickSpans };
    listers.set(format, l);
  }
  return l;
}

parentPort!.on('message', (req: FilterRequest) => {
  let res: FilterResponse;
  try {
    const result = filterChunk(new Uint8Array(req.bytes, 0, req.length), rules, listerOf(req.format));
    res = { id: req.id, bytes: req.bytes, result };
  } catch (e) {
    res = { id: req.id, bytes: req.bytes, error: (e as Error).message };
  }
  // The buffer goes back to the pool with the answer.
  parentPort!.postMessage(res, [req.bytes]);
});
