import type { LineParser, LogFormat } from './types.ts';

/** Free text: the whole line is one value to classify (the fallback when no format fits). */
export const textFormat: LogFormat = {
  name: 'text',
  sniff: () => true,
  create(): LineParser {
    return {
      format: 'text',
      parse(text, origin) {
        return {
          kind: 'event',
          event: { kind: 'http', origin: { file: origin.file, line: origin.line, format: 'text' }, body: text },
        };
      },
    };
  },
};
