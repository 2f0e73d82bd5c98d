import { InputSyntaxError } from '../errors.ts';

/** One JSON record cut out of a stream: its text and the 1-based line it starts on. */
export interface RawRecord {
  text: string;
  line: number;
  /** The wrapper key whose array held the record (`Records`, `Reservations`, …), when there was one. */
  key?: string;
}

const LBRACE = 0x7b;
const RBRACE = 0x7d;
const LBRACK = 0x5b;
const RBRACK = 0x5d;
const QUOTE = 0x22;
const BSLASH = 0x5c;
const COLON = 0x3a;
const COMMA = 0x2c;
const NL = 0x0a;

function isSpace(b: number): boolean {
  return b === 0x20 || b === NL || b === 0x0d || b === 0x09;
}

/** The longest record held in memory (a longer one is skipped and reported): far above any real audit or inventory
 * record, and well under the longest string V8 can make of it. */
export const MAX_RECORD_BYTES = 256 << 20;

/** A problem the splitter stepped over (with `recover`), and what it skipped because of it. */
export interface SplitProblem {
  error: InputSyntaxError;
  /** `record`: only the bad record; `line`: the rest of the line; `rest`: the rest of the input. */
  skipped: 'record' | 'line' | 'rest';
}

/** Keys whose array value holds the records: CloudTrail trail files, Azure diagnostic exports, gcloud `entries`. */
export const AUDIT_RECORD_KEYS: ReadonlySet<string> = new Set(['Records', 'records', 'entries']);

/**
 * Cuts a byte stream of JSON into records without parsing the whole document: each element of a top-level
 * array, each element of a top-level object's `Records`/`records`/`entries` array, or each top-level object
 * (NDJSON, concatenated JSON). Only the bytes of the current record are held, so a 1 GiB single
 * `{"Records":[…]}` document streams in flat memory; each record is then handed to the native `JSON.parse`.
 *
 * Feed chunks with `push`, then call `end`. Both return the records completed so far.
 * @example
 * const s = new JsonRecordSplitter('trail.json');
 * const recs = [...s.push(Buffer.from('{"Records":[{"a":1},{"a":2}]}')), ...s.end()]; // two records
 */
export class JsonRecordSplitter {
  private readonly file: string;
  private readonly keys: ReadonlySet<string>;
  private maxKey = 0;
  private wrapperKey = '';
  private depth = 0;
  /** Closers expected, innermost last: a mismatched bracket is an error on its own line. */
  private stack: number[] = [];
  private inString = false;
  private escaped = false;
  private line = 1;
  /** Depth at which elements are records (1: top-level array; 2: a record key's array), or 0 for top-level objects. */
  private recordDepth = -1;
  /** Pieces of the record being captured (when it spans chunks). */
  private pieces: Buffer[] = [];
  private capturing = false;
  private captureLine = 0;
  /** Last short string that ended at depth 1 of a top-level object (a key candidate), and whether ':' followed. */
  private lastKey = '';
  private keyStart = -1;
  private keyPieces: Buffer[] = [];
  private afterColon = false;
  /** Within a record array, an element that is not an object is an error. */
  private expectingElement = false;
  /** Bytes of the record being captured held in `pieces`. */
  private heldBytes = 0;
  /** The record being captured is too long: its bytes are dropped until it closes. */
  private discarding = false;
  /** With `recover`: what is being stepped over after an error. */
  private skipping: false | 'line' | 'rest' = false;
  private readonly recover: boolean;
  private readonly maxRecordBytes: number;
  private problems: SplitProblem[] = [];
  /**
   * With `recover`: the input is NDJSON (its first top-level record opened and closed on one line), so a record still
   * open at the end of its line is broken, and the next line starts afresh. Without this, one unclosed `{` would
   * swallow every record after it.
   */
  private ndjson = false;
  private topRecords = 0;

  /**
   * `recover`: instead of throwing, step over what is wrong and go on (read the problems with `takeProblems`): a bad
   * line among top-level objects (NDJSON) costs that line, a too-long record costs that record, a bad element inside
   * a record array costs the rest of the input (there is no safe place to resume inside it).
   */
  constructor(
    file: string,
    keys: ReadonlySet<string> = AUDIT_RECORD_KEYS,
    opts: { recover?: boolean; maxRecordBytes?: number } = {},
  ) {
    this.file = file;
    this.keys = keys;
    this.recover = Boolean(opts.recover);
    this.maxRecordBytes = opts.maxRecordBytes ?? MAX_RECORD_BYTES;
    for (const k of keys) this.maxKey = Math.max(this.maxKey, k.length);
  }

  private fail(message: string, line = this.line): never {
    throw new InputSyntaxError(message, { file: this.file, line });
  }

  private failAtByte(i: number, message: string): never {
    this.failedAt = i;
    this.fail(message);
  }

  /** The problems stepped over since the last call (with `recover`). */
  takeProblems(): SplitProblem[] {
    const p = this.problems;
    this.problems = [];
    return p;
  }

  private tooLong(): InputSyntaxError {
    return new InputSyntaxError(`Record longer than ${this.maxRecordBytes} bytes, skipped`, {
      file: this.file,
      line: this.captureLine,
    });
  }

  /** Forget every open value: the state of a fresh input at the top level. */
  private reset(): void {
    this.depth = 0;
    this.stack = [];
    this.inString = false;
    this.escaped = false;
    this.recordDepth = -1;
    this.pieces = [];
    this.heldBytes = 0;
    this.capturing = false;
    this.discarding = false;
    this.lastKey = '';
    this.keyStart = -1;
    this.keyPieces = [];
    this.afterColon = false;
    this.expectingElement = false;
  }

  /**
   * Advance through a record's nested content from `i`, tracking depth, lines and strings, and stop at the closer
   * that would bring the depth back to `floor` (left for the main loop) or at the end of the chunk.
   */
  private skipInside(chunk: Buffer, start: number, floor: number): number {
    const n = chunk.length;
    const st = this.stack;
    let d = this.depth;
    let line = this.line;
    let i = start;
    const ndjson = this.ndjson && this.recordDepth === 0;
    let nextNl = -2;
    while (i < n) {
      const c = chunk[i] as number;
      if (c === QUOTE) {
        let j = chunk.indexOf(QUOTE, i + 1);
        while (j !== -1) {
          let k = j - 1;
          while (k > i && chunk[k] === BSLASH) k--;
          if ((j - 1 - k) % 2 === 0) break; // an even run of backslashes: the quote ends the string
          j = chunk.indexOf(QUOTE, j + 1);
        }
        if (ndjson) {
          if (nextNl === -2 || (nextNl !== -1 && nextNl < i)) nextNl = this.nextLineFeed(chunk, i);
          // A JSON string cannot hold a raw line feed: the line ended inside it, so the record is broken there.
          if (nextNl !== -1 && (j === -1 || nextNl < j)) {
            this.depth = d;
            this.line = line;
            this.failedAt = nextNl;
            this.fail('Record not closed at the end of its line (inside a string)');
          }
        }
        if (j === -1) {
          // The string runs past this chunk; the main loop's string state takes over.
          let k = n - 1;
          while (k > i && chunk[k] === BSLASH) k--;
          this.inString = true;
          this.escaped = (n - 1 - k) % 2 === 1;
          i = n;
          break;
        }
        i = j + 1;
      } else if (c === LBRACE || c === LBRACK) {
        st.push(c === LBRACE ? RBRACE : RBRACK);
        d++;
        i++;
      } else if (c === RBRACE || c === RBRACK) {
        if (d - 1 <= floor) break;
        if (st.pop() !== c) {
          this.depth = d;
          this.line = line;
          this.failedAt = i;
          this.fail(`Unexpected "${String.fromCharCode(c)}"`);
        }
        d--;
        i++;
      } else {
        if (c === NL) {
          if (ndjson) {
            this.depth = d;
            this.line = line;
            this.failedAt = i;
            this.fail('Record not closed at the end of its line');
          }
          line++;
        }
        i++;
      }
    }
    this.depth = d;
    this.line = line;
    return i;
  }

  /**
   * The first line feed of `chunk` at or after `i`, searched once per line and remembered across the calls on one
   * chunk: searching from every string would rescan the rest of the line each time.
   */
  private nextLineFeed(chunk: Buffer, i: number): number {
    if (chunk !== this.nlChunk || (this.nlAt !== -1 && this.nlAt < i)) {
      this.nlChunk = chunk;
      this.nlAt = chunk.indexOf(NL, i);
    }
    return this.nlAt;
  }
  private nlChunk: Buffer | undefined;
  private nlAt = -1;

  push(chunk: Buffer): RawRecord[] {
    this.nlChunk = undefined;
    const out: RawRecord[] = [];
    let from = 0;
    while (from < chunk.length) {
      if (this.skipping === 'rest') return out;
      if (this.skipping === 'line') {
        const nl = chunk.indexOf(NL, from);
        if (nl === -1) return out;
        this.line++;
        this.skipping = false;
        from = nl + 1;
        continue;
      }
      try {
        this.scan(chunk, from, out);
        return out;
      } catch (e) {
        if (!this.recover || !(e instanceof InputSyntaxError)) throw e;
        // Among top-level objects a newline is a place to resume; inside a record array there is none.
        const inArray = this.recordDepth > 0;
        this.problems.push({ error: e, skipped: inArray ? 'rest' : 'line' });
        this.reset();
        this.skipping = inArray ? 'rest' : 'line';
        from = this.failedAt;
      }
    }
    return out;
  }

  /** Where the last error was found: the scan resumes from there once it has skipped what it must. */
  private failedAt = 0;

  private scan(chunk: Buffer, start: number, out: RawRecord[]): void {
    const n = chunk.length;
    let captureStart = this.capturing ? start : -1;
    let i = start;
    let nextBs = chunk.indexOf(BSLASH, start);
    while (i < n) {
      if (this.inString) {
        // In NDJSON a JSON string cannot hold a raw line feed (nor a backslash escape one): the line ended inside it.
        const ndjsonString = this.ndjson && this.capturing && this.recordDepth === 0;
        if (this.escaped) {
          if (ndjsonString && chunk[i] === NL)
            this.failAtByte(i, 'Record not closed at the end of its line (inside a string)');
          this.escaped = false;
          i++;
          continue;
        }
        const q = chunk.indexOf(QUOTE, i);
        if (ndjsonString) {
          const nextNl = this.nextLineFeed(chunk, i);
          if (nextNl !== -1 && (q === -1 || nextNl < q))
            this.failAtByte(nextNl, 'Record not closed at the end of its line (inside a string)');
        }
        // The next backslash is searched once and remembered: searching from every string would rescan the
        // rest of the chunk each time (quadratic on backslash-free input).
        if (nextBs !== -1 && nextBs < i) nextBs = chunk.indexOf(BSLASH, i);
        const b = nextBs;
        if (b !== -1 && (q === -1 || b < q)) {
          if (b + 1 >= n) {
            this.escaped = true;
            i = n;
          } else i = b + 2;
          continue;
        }
        if (q === -1) {
          i = n;
          break;
        }
        this.inString = false;
        if (this.keyStart !== -1) {
          const parts = [...this.keyPieces, chunk.subarray(this.keyStart, q)];
          const len = parts.reduce((a, p) => a + p.length, 0);
          this.lastKey = len <= this.maxKey ? Buffer.concat(parts).toString('latin1') : '';
          this.keyStart = -1;
          this.keyPieces = [];
        }
        i = q + 1;
        continue;
      }
      // Deep inside a record only brackets, strings and newlines matter: run a tight loop on locals.
      const floor = this.recordDepth === 0 ? 1 : this.recordDepth;
      if (this.capturing && this.depth > floor) {
        i = this.skipInside(chunk, i, floor);
        if (i >= n) break;
      }
      const c = chunk[i] as number;
      if (c === NL) {
        if (this.ndjson && this.capturing && this.recordDepth === 0)
          this.failAtByte(i, 'Record not closed at the end of its line');
        this.line++;
        i++;
        continue;
      }
      if (isSpace(c)) {
        i++;
        continue;
      }
      // Top level, outside any value.
      if (this.depth === 0) {
        if (c === LBRACK) {
          this.recordDepth = 1;
          this.depth = 1;
          this.stack = [RBRACK];
          this.expectingElement = true;
        } else if (c === LBRACE) {
          this.recordDepth = 0;
          this.depth = 1;
          this.stack = [RBRACE];
          this.capturing = true;
          this.captureLine = this.line;
          captureStart = i;
          this.pieces = [];
          this.heldBytes = 0;
          this.lastKey = '';
          this.afterColon = false;
        } else if (c === COMMA) {
          // tolerated between concatenated top-level values
        } else {
          this.failAtByte(i, `Expected a JSON object or array, found "${String.fromCharCode(c)}"`);
        }
        i++;
        continue;
      }
      switch (c) {
        case QUOTE:
          if (this.depth === this.recordDepth && this.recordDepth > 0)
            this.failAtByte(i, 'Expected a JSON object as a record, found a string');
          this.inString = true;
          // A key candidate of a top-level object (only while we might still switch to a record array).
          if (this.depth === 1 && this.recordDepth === 0) {
            this.keyStart = i + 1;
            this.keyPieces = [];
          }
          this.afterColon = false;
          break;
        case COLON:
          this.afterColon = this.depth === 1 && this.recordDepth === 0;
          break;
        case LBRACE:
          if (this.depth === this.recordDepth && this.recordDepth > 0) {
            if (!this.expectingElement) this.failAtByte(i, 'Expected "," between records');
            this.capturing = true;
            this.captureLine = this.line;
            captureStart = i;
            this.pieces = [];
            this.heldBytes = 0;
            this.expectingElement = false;
          }
          this.depth++;
          this.stack.push(RBRACE);
          this.afterColon = false;
          break;
        case LBRACK:
          if (this.depth === this.recordDepth && this.recordDepth > 0)
            this.failAtByte(i, 'Expected a JSON object as a record, found an array');
          if (this.depth === 1 && this.recordDepth === 0 && this.afterColon && this.keys.has(this.lastKey)) {
            this.wrapperKey = this.lastKey;
            // `{"Records":[…]}`: stop capturing the wrapper, records are the array's elements.
            this.capturing = false;
            this.pieces = [];
            captureStart = -1;
            this.recordDepth = 2;
            this.expectingElement = true;
          }
          this.depth++;
          this.stack.push(RBRACK);
          this.afterColon = false;
          break;
        case RBRACE:
        case RBRACK: {
          if (this.stack.pop() !== c) this.failAtByte(i, `Unexpected "${String.fromCharCode(c)}"`);
          this.depth--;
          if (this.depth < 0) this.failAtByte(i, `Unexpected "${String.fromCharCode(c)}"`);
          if (this.capturing && this.depth === this.recordDepth) {
            const tail = chunk.subarray(captureStart, i + 1);
            if (this.discarding || this.heldBytes + tail.length > this.maxRecordBytes) {
              this.discarding = false;
              if (!this.recover) throw this.tooLong();
              this.problems.push({ error: this.tooLong(), skipped: 'record' });
            } else {
              const buf = this.pieces.length > 0 ? Buffer.concat([...this.pieces, tail]) : tail;
              const rec: RawRecord = { text: buf.toString('utf8'), line: this.captureLine };
              if (this.recordDepth === 2) rec.key = this.wrapperKey;
              out.push(rec);
              if (this.recover && this.recordDepth === 0 && this.topRecords++ === 0)
                this.ndjson = this.captureLine === this.line;
            }
            this.capturing = false;
            this.pieces = [];
            this.heldBytes = 0;
            captureStart = -1;
            if (this.recordDepth === 0) this.recordDepth = -1;
          } else if (this.recordDepth > 0 && this.depth === this.recordDepth - 1) {
            // The record array closed.
            if (c !== RBRACK) this.failAtByte(i, 'Unexpected "}"');
            this.expectingElement = false;
            if (this.recordDepth === 1) this.recordDepth = -1;
            else this.recordDepth = 0; // back inside the wrapper object, which is not itself a record
          } else if (this.depth === 0) {
            this.recordDepth = -1;
          }
          this.afterColon = false;
          break;
        }
        case COMMA:
          if (this.depth === this.recordDepth && this.recordDepth > 0) {
            if (this.expectingElement) this.failAtByte(i, 'Unexpected ","');
            this.expectingElement = true;
          }
          this.afterColon = false;
          break;
        default:
          if (this.depth === this.recordDepth && this.recordDepth > 0)
            this.failAtByte(i, 'Expected a JSON object as a record');
          this.afterColon = false;
      }
      i++;
    }
    if (this.capturing && captureStart !== -1 && !this.discarding) {
      const piece = chunk.subarray(captureStart);
      this.heldBytes += piece.length;
      if (this.heldBytes > this.maxRecordBytes) {
        // Holding more would fail in V8 (a string that long cannot be made) or exhaust memory: drop the record.
        if (!this.recover) throw this.tooLong();
        this.discarding = true;
        this.pieces = [];
      } else this.pieces.push(piece);
    }
    if (this.inString && this.keyStart !== -1) {
      // A key candidate continues in the next chunk.
      this.keyPieces.push(chunk.subarray(this.keyStart));
      this.keyStart = 0;
    }
  }

  /** Signals the end of input; throws when it ends inside a value (with `recover`, reports it instead). */
  end(): RawRecord[] {
    if (this.skipping === 'rest') return [];
    if (this.depth !== 0 || this.inString) {
      if (this.recover) {
        const where = this.capturing ? ` (record starting on line ${this.captureLine})` : '';
        this.problems.push({
          error: new InputSyntaxError(`Unexpected end of input inside a JSON value${where}`, {
            file: this.file,
            line: this.line,
          }),
          skipped: 'record',
        });
        return [];
      }
      const where = this.capturing ? ` (record starting on line ${this.captureLine})` : '';
      this.fail(`Unexpected end of input inside a JSON value${where}`);
    }
    return [];
  }
}

/** Parse one record's text; a syntax error names the file and the line the record starts on. */
export function parseRecord(rec: RawRecord, file: string): unknown {
  try {
    return JSON.parse(rec.text);
  } catch (e) {
    throw new InputSyntaxError(`Invalid JSON record: ${(e as Error).message}`, { file, line: rec.line });
  }
}
