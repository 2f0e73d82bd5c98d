import type { Finding } from '../../core/model/finding.ts';
import { toOcsf } from '../../core/model/ocsf.ts';
import type { FindingSink } from '../../core/ports.ts';
import type { TextOutput } from './output.ts';

/** OCSF Detection Finding (class_uid 2004), one JSON object per line. Non-finding records pass through unchanged. */
export function ocsfSink(out: TextOutput, product: { version: string }, nowMs: () => number): FindingSink {
  return {
    write(record) {
      const r = record as Finding;
      const obj = r.type === 'finding' && r.rule ? toOcsf(r, product, nowMs()) : record;
      return out.write(`${JSON.stringify(obj)}\n`);
    },
    close: () => out.close(),
  };
}
