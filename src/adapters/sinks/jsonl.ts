import type { FindingSink } from '../../core/ports.ts';
import { Masker, maskRecord } from '../../core/secrets/masker.ts';
import { jsonText } from './json-text.ts';
import type { TextOutput } from './output.ts';

/** One JSON object per line. Records are masked first (`writeJson` takes text built from masked parts). */
export function jsonlSink(out: TextOutput): FindingSink {
  const masker = new Masker();
  return {
    write(record) {
      return out.write(`${jsonText(maskRecord(record, masker))}\n`);
    },
    close: () => out.close(),
  };
}

/** One JSON array of every record, written at close. */
export function jsonArraySink(out: TextOutput): FindingSink {
  let first = true;
  let opened = false;
  const masker = new Masker();
  return {
    write(input) {
      const record = maskRecord(input, masker);
      const prefix = opened ? (first ? '' : ',\n') : '[\n';
      opened = true;
      first = false;
      return out.write(`${prefix}${jsonText(record)}`);
    },
    async close() {
      await out.write(opened ? '\n]\n' : '[]\n');
      await out.close();
    },
  };
}
