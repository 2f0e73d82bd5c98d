import type { FindingSink } from '../../core/ports.ts';
import type { TextOutput } from './output.ts';

/** One JSON object per line. */
export function jsonlSink(out: TextOutput): FindingSink {
  return {
    write(record) {
      return out.write(`${JSON.stringify(record)}\n`);
    },
    close: () => out.close(),
  };
}

/** One JSON array of every record, written at close. */
export function jsonArraySink(out: TextOutput): FindingSink {
  let first = true;
  let opened = false;
  return {
    write(record) {
      const prefix = opened ? (first ? '' : ',\n') : '[\n';
      opened = true;
      first = false;
      return out.write(`${prefix}${JSON.stringify(record)}`);
    },
    async close() {
      await out.write(opened ? '\n]\n' : '[]\n');
      await out.close();
    },
  };
}
