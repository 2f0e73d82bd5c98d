/** The output formats of the record-writing commands (a module of its own: option parsing needs no sink code). */
export const SINK_FORMATS = ['table', 'jsonl', 'json', 'ocsf', 'sarif', 'html'] as const;
export type SinkFormat = (typeof SINK_FORMATS)[number];
