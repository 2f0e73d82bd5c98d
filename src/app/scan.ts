import { isUtf8 } from 'node:buffer';
import { abortable } from '../adapters/sources/abortable.ts';
import { chunkLines, type LineBase, type LineChunk, type RESET } from '../adapters/sources/chunk-lines.ts';
import { expandInputs, type Input } from '../adapters/sources/expand-inputs.ts';
import { followFile } from '../adapters/sources/follow.ts';
import { GzipDataError } from '../adapters/sources/gunzip-members.ts';
import { maybeGunzip, openFileBytes } from '../adapters/sources/open-input.ts';
import { ImdsguardError } from '../core/errors.ts';
import type { Finding } from '../core/model/finding.ts';
import { FormatDriver } from '../core/parse/driver.ts';
import { detach } from '../core/parse/spans.ts';
import type { LogFormatName, ParserOptions } from '../core/parse/types.ts';
import type { FindingSink } from '../core/ports.ts';
import type { LineRule } from '../core/rules/line-rule.ts';
import { decodeChunk, hasDirectives, lineWanted, pickLines, type QuickPlaces } from './scan-line-filter.ts';
import { ScanStats } from './scan-stats.ts';

export interface ScanConfig {
  inputs: string[];
  logFormat: LogFormatName;
  parser?: ParserOptions;
  rules: LineRule[];
  sink: FindingSink;
  follow?: boolean;
  fromStart?: boolean;
  /** Lines longer than this are skipped (reported). */
  maxLineBytes: number;
  /** Inputs read at the same time. */
  concurrency: number;
  signal?: AbortSignal;
  /** Warnings naming file and line (stderr). */
  warn: (msg: string) => void;
  /** Messages per (input, reason) before the rest are only counted. */
  warnLimit?: number;
  /** Where stdin reads from (tests pass their own). */
  stdin?: AsyncIterable<Buffer>;
  onFinding?: (f: Finding) => void;
  /** Called once with the live statistics object (for a progress line). */
  onStats?: (s: ScanStats) => void;
}

/**
 * Chunks of lines are handled in pieces of about 120 KiB: under V8's large-object size, so that each piece's decoded
 * text is a young, cheaply collected string and peak memory stays flat on any file size, yet large enough that the
 * per-chunk tests cost little per byte.
 */
const CHUNK_BYTES = 120 << 10;

const STDIN_NAME = '-';

/** Empty lines (CRLF ones too) in a chunk of whole lines: each is a line end after a line end, or at the start. */
function blankLines(buf: Buffer): number {
  let n = buf[0] === 10 || (buf[0] === 13 && buf[1] === 10) ? 1 : 0;
  for (let i = buf.indexOf('\n\n'); i >= 0; i = buf.indexOf('\n\n', i + 1)) n++;
  for (let i = buf.indexOf('\n\r\n'); i >= 0; i = buf.indexOf('\n\r\n', i + 1)) n++;
  return n;
}

/** A line is binary garbage when it holds NUL or mostly control bytes. */
function isBinary(b: Buffer): boolean {
  if (b.indexOf(0) >= 0) return true;
  let ctl = 0;
  for (let i = 0; i < b.length; i++) {
    const c = b[i]!;
    if (c < 9 || (c > 13 && c < 32) || c === 127) ctl++;
  }
  return ctl > 4 && ctl * 10 > b.length;
}

/** A chunk's text kept for look-behind replay. */
interface RecentChunk {
  text: string | Buffer;
  firstLine: number;
  lines: number;
}

class InputScanner {
  private readonly driver: FormatDriver;
  private readonly warned = new Map<string, number>();
  /** Per rule: the last line it was offered (rules with `chunkEvidence` skip whole chunks). */
  private readonly offered: number[];
  /** The latest chunks, enough to hold the longest look-behind any rule asks for. */
  private readonly recent: RecentChunk[] = [];
  private readonly lookbehind: number;
  /** Per rule, whether it takes part in the current chunk (rules with `chunkEvidence` sit out chunks without evidence). */
  private active: readonly boolean[] | undefined;

  readonly name: string;
  private readonly cfg: ScanConfig;
  private readonly stats: ScanStats;

  private readonly places: QuickPlaces;
  /**
   * With a forced --log-format, whether this input is read at all: its lines the format rejected, those it read as a
   * record, and, while no line was read as one, the lines seen, blank and skipped for another reason (the prefilter
   * never parses most lines, so an input is known to hold no record only once every line is accounted for).
   */
  private rejected = 0;
  private accepted = 0;
  private seen = 0;
  private blank = 0;
  private skippedOther = 0;

  constructor(name: string, cfg: ScanConfig, stats: ScanStats) {
    this.name = name;
    this.cfg = cfg;
    this.stats = stats;
    const driver = new FormatDriver(cfg.logFormat, cfg.parser ?? {});
    this.driver = driver;
    this.places = (t, nb) => driver.quickPlaces(t, nb);
    this.offered = cfg.rules.map(() => 0);
    this.lookbehind = Math.max(0, ...cfg.rules.map((r) => (r.chunkEvidence ? (r.lookbehindLines ?? 0) : 0)));
  }

  /** Remember a chunk for look-behind; forget chunks no look-behind can reach. */
  private remember(text: string | Buffer, firstLine: number, lines: number): void {
    if (this.lookbehind === 0) return;
    this.recent.push({ text, firstLine, lines });
    let held = 0;
    for (const r of this.recent) held += r.lines;
    while (this.recent.length > 1 && held - this.recent[0]!.lines >= this.lookbehind)
      held -= this.recent.shift()!.lines;
  }

  /**
   * Before rule `i` sees a chunk starting at `firstLine`, show it the lines of its look-behind it skipped, in order,
   * as raw lines (they hold no evidence of their own: the rule's chunk test failed on them).
   */
  private async replay(i: number, firstLine: number): Promise<void> {
    const rule = this.cfg.rules[i]!;
    const from = Math.max(this.offered[i]! + 1, firstLine - (rule.lookbehindLines ?? 0));
    this.offered[i] = firstLine - 1;
    if (from >= firstLine) return;
    const format = this.driver.format ?? 'text';
    for (const r of this.recent) {
      if (r.firstLine + r.lines <= from || r.firstLine >= firstLine) continue;
      if (typeof r.text !== 'string') r.text = r.text.toString('utf8');
      let start = 0;
      let line = r.firstLine;
      while (start < r.text.length && line < firstLine) {
        let nl = r.text.indexOf('\n', start);
        if (nl < 0) nl = r.text.length;
        if (line >= from) {
          let end = nl;
          if (end > start && r.text.charCodeAt(end - 1) === 13) end--;
          const l = r.text.slice(start, end);
          if (l.length > 0 && l.length <= this.cfg.maxLineBytes && rule.mayMatch(l))
            await this.emit(rule.evaluate({ text: detach(l), file: this.name, line, format }));
        }
        start = nl + 1;
        line++;
      }
    }
  }

  /** Rules with a chunk test are offered every line of a chunk that takes the per-line path. */
  private async offerAll(firstLine: number, lines: number, may?: readonly boolean[]): Promise<void> {
    const rules = this.cfg.rules;
    for (let i = 0; i < rules.length; i++) {
      if (!rules[i]!.chunkEvidence || (may && !may[i])) continue;
      await this.replay(i, firstLine);
      this.offered[i] = firstLine + lines - 1;
    }
  }

  warn(reason: string, line: number | undefined, detail: string): void {
    const n = (this.warned.get(reason) ?? 0) + 1;
    this.warned.set(reason, n);
    const limit = this.cfg.warnLimit ?? 5;
    const where = line !== undefined ? `${this.name}:${line}` : this.name;
    if (n <= limit) this.cfg.warn(`${where}: ${detail}`);
    else if (n === limit + 1) this.cfg.warn(`${this.name}: further "${reason}" warnings are only counted`);
  }

  skip(reason: string, line: number, detail = reason): void {
    this.stats.skip(reason);
    if (reason !== `not ${this.cfg.logFormat}`) this.skippedOther++;
    this.warn(reason, line, `skipped: ${detail}`);
  }

  async line(text: string, line: number, prechecked = false): Promise<void> {
    if (text.length === 0) return;
    if (text.charCodeAt(text.length - 1) === 13) text = text.slice(0, -1);
    if (text.length > this.cfg.maxLineBytes) {
      this.skip(
        'line too long',
        line,
        `line of ${text.length} characters exceeds --max-line-bytes ${this.cfg.maxLineBytes}`,
      );
      return;
    }
    if (!prechecked && !lineWanted(text, this.cfg.rules, this.places, undefined, false)) return;
    // From here on, findings and rule state may keep pieces of the line: copy it out of its read chunk first, so that
    // what they keep is the line, not the whole chunk it was sliced from.
    text = detach(text);
    const d = this.driver.parse(text, { file: this.name, line });
    if (d.switchedFrom) this.warn('format change', line, `format changed from ${d.switchedFrom} to ${d.format}`);
    if (d.fallback) this.stats.note('lines in no known format, read as text');
    const r = d.result;
    if (r.kind !== 'event') await this.rawRules(text, line, d.format);
    if (r.kind === 'nomatch') {
      this.rejected++;
      this.skip(`not ${this.cfg.logFormat}`, line, `line does not match --log-format ${this.cfg.logFormat}`);
      return;
    }
    this.accepted++;
    if (r.kind === 'ignore') {
      this.stats.note(r.reason);
      return;
    }
    if (r.kind === 'meta') return;
    this.stats.linesParsed++;
    this.stats.formats.set(d.format, (this.stats.formats.get(d.format) ?? 0) + 1);
    const rules = this.cfg.rules;
    for (let i = 0; i < rules.length; i++) {
      const rule = rules[i]!;
      if (this.active && !this.active[i] && rule.chunkEvidence) continue;
      let found: Finding[];
      try {
        found = rule.evaluate({ text, file: this.name, line, format: d.format, event: r.event });
      } catch (e) {
        this.skip('rule error', line, `rule ${rule.id} failed: ${(e as Error).message}`);
        continue;
      }
      for (const f of found) {
        this.stats.add(f);
        this.cfg.onFinding?.(f);
        await this.cfg.sink.write(f);
      }
    }
  }

  /** Rules that read raw text see lines that are not requests too. */
  private async rawRules(text: string, line: number, format: string): Promise<void> {
    const rules = this.cfg.rules;
    for (let i = 0; i < rules.length; i++) {
      const rule = rules[i]!;
      if (this.active && !this.active[i] && rule.chunkEvidence) continue;
      if (!rule.rawLines || !rule.mayMatch(text)) continue;
      await this.emit(rule.evaluate({ text, file: this.name, line, format }));
    }
  }

  async emit(found: Finding[]): Promise<void> {
    for (const f of found) {
      this.stats.add(f);
      this.cfg.onFinding?.(f);
      await this.cfg.sink.write(f);
    }
  }

  async chunk(c: LineChunk): Promise<void> {
    this.stats.linesRead += c.lines;
    this.stats.bytesRead += c.buf.length;
    const buf = c.buf;
    if (isUtf8(buf) && buf.indexOf(0) < 0) {
      // Decoded only if a rule or the line stage needs the text (a chunk nobody flags never is).
      let decoded: string | undefined;
      const text = () => {
        decoded ??= decodeChunk(buf);
        return decoded;
      };
      const rules = this.cfg.rules;
      // Rules without a place filter decide on the whole chunk first (their tests are substring tests).
      const chunkMay = rules.map((r) =>
        r.placeFilter
          ? true
          : r.chunkEvidence
            ? Boolean(r.holdsOpen?.(this.name)) || r.chunkEvidence(text())
            : r.mayMatch(text()),
      );
      await this.textChunk(c, text, chunkMay);
      return;
    }
    await this.slowChunk(c);
  }

  /** A valid UTF-8 chunk, line by line: only lines some rule may care about pay for a parse (and an await). */
  private async textChunk(c: LineChunk, text: () => string, chunkMay: boolean[]): Promise<void> {
    await this.offerAll(c.firstLine, c.lines, chunkMay);
    this.remember(c.buf, c.firstLine, c.lines);
    this.active = chunkMay;
    const directives = hasDirectives(c.buf);
    if (!chunkMay.some(Boolean) && !directives) return;
    const rules = this.cfg.rules;
    if (directives) {
      // A directive changes how the lines after it are read (W3C `#Fields:`): each line is picked after the lines
      // before it were parsed.
      const t = text();
      let start = 0;
      for (let index = 0; start < t.length; index++) {
        let nl = t.indexOf('\n', start);
        if (nl < 0) nl = t.length;
        const l = t.slice(start, nl > start && t.charCodeAt(nl - 1) === 13 ? nl - 1 : nl);
        if (lineWanted(l, rules, this.places, chunkMay, false)) await this.line(l, c.firstLine + index, true);
        start = nl + 1;
      }
      return;
    }
    const picked: Array<[number, string]> = [];
    pickLines(
      text(),
      c.buf.length,
      rules,
      this.places,
      chunkMay,
      (index, line) => picked.push([index, line]),
      this.driver.quickSpans,
    );
    for (const [index, line] of picked) await this.line(line, c.firstLine + index, true);
  }

  /** Slow path, line by line: binary garbage is skipped, invalid UTF-8 is decoded with replacement characters. */
  private async slowChunk(c: LineChunk): Promise<void> {
    const buf = c.buf;
    await this.offerAll(c.firstLine, c.lines);
    this.remember(buf, c.firstLine, c.lines);
    this.active = undefined;
    let start = 0;
    let line = c.firstLine;
    while (start < buf.length) {
      let nl = buf.indexOf(10, start);
      if (nl < 0) nl = buf.length;
      const b = buf.subarray(start, nl);
      if (isBinary(b)) this.skip('binary data', line, 'binary data (NUL or control bytes)');
      else {
        if (!isUtf8(b)) {
          this.stats.note('invalid UTF-8 lines, read with replacement characters');
          this.warn('invalid UTF-8', line, 'invalid UTF-8, read with replacement characters');
        }
        await this.line(b.toString('utf8'), line);
      }
      start = nl + 1;
      line++;
    }
  }

  private lastLine = 0;

  async run(source: AsyncIterable<Buffer | typeof RESET | LineBase>): Promise<void> {
    let stopped = false;
    try {
      for await (const c of chunkLines(source, this.cfg.maxLineBytes, CHUNK_BYTES)) {
        if ('overlong' in c) {
          this.seen++;
          this.stats.linesRead++;
          this.stats.bytesRead += c.bytes;
          this.skip(
            'line too long',
            c.line,
            `line of ${c.bytes} bytes exceeds --max-line-bytes ${this.cfg.maxLineBytes}`,
          );
          this.lastLine = c.line;
        } else {
          if (this.cfg.logFormat !== 'auto' && this.accepted === 0) {
            this.seen += c.lines;
            this.blank += blankLines(c.buf);
          }
          await this.chunk(c);
          this.lastLine = c.firstLine + c.lines - 1;
        }
        if (this.cfg.signal?.aborted) {
          stopped = true;
          break;
        }
      }
      // A stop in the middle of an input: say where (a followed file is only ever stopped, never complete).
      if (stopped && !this.cfg.follow) this.stats.notRead.push(`${this.name} (after line ${this.lastLine})`);
      for (const rule of this.cfg.rules) if (rule.flush) await this.emit(rule.flush(this.name));
      // An input none of whose lines fits the forced format was not read as a log at all (the wrong file, or the wrong
      // --log-format): an input error like a missing file, not a few bad lines counted in the summary.
      if (
        !stopped &&
        this.rejected > 0 &&
        this.accepted === 0 &&
        this.rejected + this.blank + this.skippedOther >= this.seen
      ) {
        this.stats.inputsFailed.push(this.name);
        this.cfg.warn(
          `${this.name}: not read: none of its ${this.rejected} line(s) matches --log-format ${this.cfg.logFormat}`,
        );
      }
    } catch (e) {
      // The output failing is no input's fault: it ends the whole scan.
      if (e instanceof ImdsguardError && e.code === 'E_SINK_IO') throw e;
      // A stop ends a read that was waiting (a FIFO, stdin): that is no read error.
      if (this.cfg.signal?.aborted) {
        if (!this.cfg.follow) this.stats.notRead.push(`${this.name} (after line ${this.lastLine})`);
        return;
      }
      const err = e as NodeJS.ErrnoException;
      const what =
        err.code === 'Z_BUF_ERROR' || /unexpected end|ends inside a gzip member/i.test(err.message)
          ? 'truncated gzip'
          : e instanceof GzipDataError
            ? 'bad gzip data'
            : 'read error';
      this.stats.skip(what);
      if (this.lastLine === 0) {
        this.stats.inputsFailed.push(this.name);
        this.cfg.warn(`${this.name}: cannot read: ${err.message}`);
      } else {
        const message = `${this.name}: ${what} after line ${this.lastLine}: ${err.message}; the lines before were scanned`;
        this.stats.inputsCut.push({ file: this.name, message });
        this.cfg.warn(message);
        // What the rules hold back for the end of an input (a leak waiting for its cause) was read: it counts.
        for (const rule of this.cfg.rules) if (rule.flush) await this.emit(rule.flush(this.name));
      }
    }
  }
}

async function* stdinBytes(cfg: ScanConfig): AsyncGenerator<Buffer> {
  // A stop must not wait for stdin's next bytes (a terminal, a quiet pipe): it ends the read at once.
  yield* abortable(maybeGunzip((cfg.stdin ?? process.stdin) as AsyncIterable<Buffer>), cfg.signal);
}

async function scanInput(input: Input, cfg: ScanConfig, stats: ScanStats): Promise<void> {
  stats.inputs++;
  if (input.kind === 'stdin') {
    await new InputScanner(STDIN_NAME, cfg, stats).run(stdinBytes(cfg));
    return;
  }
  const scanner = new InputScanner(input.path, cfg, stats);
  if (cfg.follow) {
    const signal = cfg.signal ?? new AbortController().signal;
    await scanner.run(
      followFile(input.path, {
        fromStart: Boolean(cfg.fromStart),
        signal,
        onReset: (why) => cfg.warn(`${input.path}: ${why}, reading from its start`),
        onOpen: (line) => cfg.warn(`${input.path}: following from line ${line}`),
      }),
    );
    return;
  }
  let bytes: AsyncIterable<Buffer>;
  try {
    // Large reads: a read stream costs about 0.1 ms per read, whatever its size.
    bytes = await openFileBytes(input.path, 1 << 20);
  } catch (e) {
    stats.inputsFailed.push(input.path);
    cfg.warn((e as Error).message);
    return;
  }
  await scanner.run(abortable(bytes, cfg.signal));
}

/** Scan every input with the rules, writing findings to the sink; returns the statistics for the summary. */
export async function runScan(cfg: ScanConfig): Promise<ScanStats> {
  const stats = new ScanStats();
  cfg.onStats?.(stats);
  const { inputs, errors } = await expandInputs(cfg.inputs);
  for (const e of errors) {
    stats.inputsFailed.push(e.input);
    cfg.warn(e.message);
  }
  let next = 0;
  const worker = async () => {
    while (next < inputs.length && !cfg.signal?.aborted) {
      const input = inputs[next++]!;
      await scanInput(input, cfg, stats);
    }
  };
  const n = cfg.follow ? inputs.length : Math.max(1, Math.min(cfg.concurrency, inputs.length));
  await Promise.all(Array.from({ length: n }, worker));
  for (let i = next; i < inputs.length; i++) {
    const input = inputs[i]!;
    stats.notRead.push(input.kind === 'stdin' ? STDIN_NAME : input.path);
  }
  return stats;
}
