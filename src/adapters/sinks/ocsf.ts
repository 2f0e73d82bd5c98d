import type { Finding } from '../../core/model/finding.ts';
import { toOcsf } from '../../core/model/ocsf.ts';
import type { FindingSink } from '../../core/ports.ts';
import { Masker, maskRecord } from '../../core/secrets/masker.ts';
import { jsonText } from './json-text.ts';
import type { TextOutput } from './output.ts';

/** OCSF Detection Finding (class_uid 2004), one JSON object per line. Non-finding records pass through unchanged. */
export function ocsfSink(out: TextOutput, product: { version: string }, nowMs: () => number): FindingSink {
  const masker = new Masker();
  return {
    write(input) {
      const record = maskRecord(input, masker);
      const r = record as Finding;
      const obj = r.type === 'finding' && r.rule ? toOcsf(r, product, nowMs()) : record;
      return out.write(`${jsonText(obj)}\n`);
    },
    close: () => out.close(),
  };
}
