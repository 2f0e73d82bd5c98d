/** Error codes callers may branch on. */
export type ImdsguardErrorCode =
  | 'E_USAGE'
  | 'E_CONFIG'
  | 'E_RULE_PARSE'
  | 'E_POLICY'
  | 'E_SOURCE_IO'
  | 'E_INPUT_FORMAT'
  | 'E_SINK_IO'
  | 'E_SENSOR'
  | 'E_UPSTREAM';

/** Base error with a stable code. */
export class ImdsguardError<C extends ImdsguardErrorCode = ImdsguardErrorCode> extends Error {
  readonly code: C;
  constructor(code: C, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** Unparsable input, with where it was. */
export class InputSyntaxError extends SyntaxError {
  readonly code = 'E_INPUT_FORMAT';
  readonly file: string | undefined;
  readonly line: number | undefined;
  readonly column: number | undefined;
  constructor(message: string, where: { file?: string; line?: number; column?: number } = {}) {
    const loc = [where.file, where.line, where.column].filter((x) => x !== undefined).join(':');
    super(loc ? `${loc}: ${message}` : message);
    this.name = 'InputSyntaxError';
    this.file = where.file;
    this.line = where.line;
    this.column = where.column;
  }
}
