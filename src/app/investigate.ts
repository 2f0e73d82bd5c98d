import { realpathSync } from 'node:fs';
import { resolve } from 'node:path';
import { expandInputs, type InputProblem, readJsonRecords } from '../adapters/sources/json-record-files.ts';
import { LeakCauseCorrelator, type ObservedRequest } from '../core/correlate/leak-cause.ts';
import { ImdsguardError, InputSyntaxError } from '../core/errors.ts';
import { lexicalFileKey, stepFromRecord } from '../core/investigate/from-finding.ts';
import { buildIncidents, type Incident } from '../core/investigate/incident.ts';
import { type InputKind, recordKind } from '../core/investigate/input-kind.ts';
import { type Selection, selectIncidents } from '../core/investigate/select.ts';
import type { RecordSource, Step } from '../core/investigate/step.ts';
import type { Finding } from '../core/model/finding.ts';
import type { FindingSink } from '../core/ports.ts';
import { runCloudtrail } from './cloudtrail.ts';
import { runFindings } from './findings.ts';
import { type InputReading, readingOf } from './investigate-inputs.ts';
import { runPosture } from './posture.ts';
import { runScan } from './scan.ts';
import { scanRules } from './scan-rules.ts';
import type { ScanStats } from './scan-stats.ts';

export type { InputReading } from './investigate-inputs.ts';

export interface InvestigateOptions {
  /**
   * Inputs (files or directories; '-' or none is stdin): finding files of any command, and the raw inputs of `scan`,
   * `cloudtrail` and `posture` (logs, audit records, inventory), each read as its content says.
   */
  inputs: string[];
  /** Findings stores (SQLite, as the hub writes them), read whole as `imdsguard findings` reads them. */
  stores?: string[];
  selection?: Selection;
  emit: (incident: Incident) => void | Promise<void>;
  onProblem?: (p: InputProblem) => void;
  onFile?: (index: number, files: readonly string[]) => void;
  /** Warnings of the log reader (a line too long, invalid UTF-8), each naming its file and line. */
  onWarn?: (message: string) => void;
  /** Log inputs read at the same time. */
  concurrency?: number;
  /** Log lines longer than this are skipped (and reported). */
  maxLineBytes?: number;
}

export interface InvestigateResult {
  records: number;
  findings: number;
  incidents: number;
  /** Incidents before the selection. */
  built: number;
  seconds: number;
  /** How each input was read, in the order given. */
  inputs: InputReading[];
  /** Findings made or read, per kind of input. */
  findingsByKind: Partial<Record<InputKind, number>>;
}

/** A path named in a finding: the file it leads to where there is one from here, else as written, normalised. */
function oneSpelling(file: string): string {
  try {
    return realpathSync(resolve(file));
  } catch {
    return lexicalFileKey(file);
  }
}

/** An input of this run: resolved against the working directory (and its links) like any argument. */
function inputSpelling(file: string): string {
  if (file === '-') return file;
  try {
    return realpathSync(resolve(file));
  } catch {
    return resolve(file);
  }
}

/** The findings of a use case, collected as steps instead of written. */
class StepCollector {
  readonly steps: Step[] = [];
  readonly byKind: Partial<Record<InputKind, number>> = {};
  records = 0;

  private readonly onProblem: ((p: InputProblem) => void) | undefined;

  constructor(onProblem: ((p: InputProblem) => void) | undefined) {
    this.onProblem = onProblem;
  }

  /** One record read from `source`; a malformed finding is a problem naming its file and line. */
  add(value: unknown, source: RecordSource, kind: InputKind): Step | undefined {
    this.records++;
    try {
      // One spelling of each path: `./a.log`, `a.log` and its absolute path are one file, and a link is the file
      // it leads to. A path in a finding is relative to where the command that wrote it ran, not to here: it is
      // resolved only when it leads to a file from here, and otherwise kept as written (its name is what counts).
      const step = stepFromRecord(value, source, { fileKey: oneSpelling, sourceKey: inputSpelling });
      if (!step) {
        this.notFindings(value, source);
        return undefined;
      }
      this.steps.push(step);
      this.byKind[kind] = (this.byKind[kind] ?? 0) + 1;
      return step;
    } catch (e) {
      if (!(e instanceof InputSyntaxError) || !this.onProblem) throw e;
      this.onProblem({
        file: source.file,
        ...(source.line !== undefined ? { line: source.line } : {}),
        message: e.message,
        skipped: 'record',
      });
      return undefined;
    }
  }

  /**
   * A finding a use case made from a raw input: read where its own origin says (a log line), else from the inputs
   * of its kind, with no line (a finding of the cloudtrail correlator rests on many records).
   */
  addFinding(f: Finding | Record<string, unknown>, inputs: readonly string[], kind: InputKind): Step | undefined {
    const origin = (f as Finding).origin;
    const others = inputs.length - 1;
    const file =
      origin?.file ??
      `${inputs[0] ?? '-'}${others > 0 ? ` (and ${others} other input${others === 1 ? '' : 's'})` : ''}`;
    return this.add(f, { file, ...(origin?.file && origin.line !== undefined ? { line: origin.line } : {}) }, kind);
  }

  /** Records of a findings input that are no imdsguard record, per file: counted, then named on stderr. */
  readonly foreign = new Map<string, { count: number; firstLine?: number }>();

  private notFindings(value: unknown, source: RecordSource): void {
    const type = (value as { type?: unknown }).type;
    // Daemon events and earlier incidents are imdsguard's own records, stepped over by design.
    if (type === 'event' || type === 'incident' || type === 'explain') return;
    const had = this.foreign.get(source.file);
    if (had) had.count++;
    else this.foreign.set(source.file, { count: 1, ...(source.line !== undefined ? { firstLine: source.line } : {}) });
  }
}

/**
 * The request that most likely caused each leak `scan` found in this run's logs, chosen once all of them are read, by
 * `scan`'s own correlator: the logs are scanned side by side, so what the scan had seen when it met a leak depends on
 * which file got ahead. Requests are observed in the order of their time, log and line, none forgotten, so the cause
 * is a function of the logs alone.
 */
class LeakCauses {
  // Only what the correlator reads is kept of each request: a large log may hold many of them.
  private readonly requests: Array<{ f: ObservedRequest; step: Step }> = [];
  private readonly leaks: Step[] = [];

  add(f: Finding | Record<string, unknown>, step: Step | undefined): void {
    if (!step) return;
    const r = f as Finding;
    if (step.kind === 'credential-leak') this.leaks.push(step);
    else if (r.verdict === 'metadata' && r.client?.ip) {
      this.requests.push({
        f: {
          id: r.id,
          verdict: 'metadata',
          client: { ip: r.client.ip },
          origin: {
            ...(r.origin.file !== undefined ? { file: r.origin.file } : {}),
            ...(r.origin.line !== undefined ? { line: r.origin.line } : {}),
          },
          ...(r.time !== undefined ? { time: r.time } : {}),
          ...(r.outcome !== undefined ? { outcome: r.outcome } : {}),
          ...(r.target
            ? {
                target: {
                  raw: r.target.decoded ? '' : r.target.raw,
                  decoded: r.target.decoded,
                  ...(r.target.path_class !== undefined ? { path_class: r.target.path_class } : {}),
                },
              }
            : {}),
        },
        step,
      });
    }
    this.requests.push({ f: f as Finding, step });
  }

  resolve(): void {
    if (this.leaks.length === 0) return;
    const order = (a: Step, b: Step) =>
      (a.timeMs ?? Number.POSITIVE_INFINITY) - (b.timeMs ?? Number.POSITIVE_INFINITY) ||
      compareText(a.origin.file ?? '', b.origin.file ?? '') ||
      (a.origin.line ?? 0) - (b.origin.line ?? 0) ||
      compareText(a.findingId, b.findingId);
    const correlator = new LeakCauseCorrelator({
      perClient: Number.POSITIVE_INFINITY,
      clients: Number.POSITIVE_INFINITY,
    });
    for (const { f } of this.requests.sort((a, b) => order(a.step, b.step))) correlator.observe(f);
    for (const leak of this.leaks) {
      const cause = correlator.cause({
        ...(leak.clientIp ? { clientIp: leak.clientIp } : {}),
        ...(leak.time ? { time: leak.time } : {}),
        ...(leak.origin.file !== undefined ? { file: leak.origin.file } : {}),
        ...(leak.origin.line !== undefined ? { line: leak.origin.line } : {}),
      });
      leak.relatedFindings = cause ? [cause.finding_id] : [];
    }
  }
}

const compareText = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/**
 * Read the inputs, link their findings into incidents and emit the selected ones. Each input is read by the
 * pipeline its content calls for: finding records as they are; logs through `scan`'s rules, audit records through
 * `cloudtrail`'s correlator (with the inventories given as its address book), inventory through `posture`, and
 * findings stores through `imdsguard findings`' reader. Records that are not findings (daemon events, earlier
 * incidents) are stepped over; an input that cannot be read is a problem naming it (and its line), and everything
 * else is still read.
 */
export async function runInvestigate(opts: InvestigateOptions): Promise<InvestigateResult> {
  const t0 = performance.now();
  const problem = opts.onProblem;
  const collect = new StepCollector(problem);
  // Stdin is the input only when nothing else is named (a store alone is read without it).
  const files =
    opts.inputs.length === 0 && (opts.stores?.length ?? 0) > 0 ? [] : await expandInputs(opts.inputs, problem);
  const readings: InputReading[] = [];
  for (const file of files) {
    try {
      readings.push(await readingOf(file));
    } catch (e) {
      if (!problem) throw e;
      problem({ file, message: (e as Error).message, skipped: 'input' });
    }
  }
  for (const store of opts.stores ?? []) readings.push({ file: store, kind: 'store' });
  const all = readings.map((r) => r.file);
  const of = (kind: InputKind) => readings.filter((r) => r.kind === kind).map((r) => r.file);
  // Each reader counts its own files; the stop message wants them among all inputs.
  const onFile = opts.onFile
    ? (i: number, list: readonly string[]) => opts.onFile!(all.indexOf(list[i]!), all)
    : undefined;
  const hooks = { ...(problem ? { onProblem: problem } : {}), ...(onFile ? { onFile } : {}) };

  for (const store of of('store')) {
    onFile?.(0, [store]);
    let row = 0;
    const sink: FindingSink = {
      write: (r) => {
        collect.add(r, { file: store, line: ++row }, 'store');
      },
      close: async () => {},
    };
    try {
      await runFindings({ store, query: {}, sink });
    } catch (e) {
      // A missing or unreadable store: named, and the other inputs still count.
      if (!problem || !(e instanceof ImdsguardError)) throw e;
      problem({ file: store, message: e.message, skipped: 'input' });
    }
  }

  const findingFiles = of('findings');
  if (findingFiles.length > 0)
    for await (const rec of readJsonRecords(findingFiles, hooks)) {
      // A json array output (`--format json`) is one record holding the findings.
      const values = Array.isArray(rec.value) ? rec.value : [rec.value];
      for (const value of values) collect.add(value, { file: rec.file, line: rec.line }, 'findings');
    }
  // Records of another kind among findings (a few trail records or log lines in a findings file) are not read:
  // each such file is named, with its first such line and why.
  for (const [file, f] of collect.foreign) {
    const where = f.firstLine !== undefined ? `${file}:${f.firstLine}` : file;
    const message =
      `${where}: ${f.count} record(s) among the findings of this input are not imdsguard records (audit records, ` +
      'inventory or log lines?) and were not read; give them as an input of their own';
    if (!problem) throw new InputSyntaxError(message, { file });
    problem({ file, ...(f.firstLine !== undefined ? { line: f.firstLine } : {}), message, skipped: 'record' });
  }

  // Inventory: its posture findings, and the instance addresses that tell cloudtrail where a key was used from.
  const inventory = of('inventory');
  const badInventory = new Set<string>();
  if (inventory.length > 0)
    await runPosture({
      inputs: inventory,
      emit: (f) => {
        collect.addFinding(f, inventory, 'inventory');
      },
      ...hooks,
      ...(problem
        ? {
            onProblem: (p: InputProblem) => {
              badInventory.add(p.file);
              problem(p);
            },
          }
        : {}),
    });

  const audit = of('audit');
  const inventoryAmongAudit = new Map<string, { count: number; firstLine: number }>();
  if (audit.length > 0)
    await runCloudtrail({
      inputs: audit,
      // An inventory with a problem in it was reported once already; the address book is read without it.
      inventory: inventory.filter((f) => !badInventory.has(f)),
      emit: (f) => {
        collect.addFinding(f, audit, 'audit');
      },
      // Findings among the audit records (a trail and the findings made of it, in one file) are read as findings.
      // Inventory among them is not read (its addresses and settings would count only as an input of its own), and
      // is named like records of another kind among findings, not dropped unsaid.
      onOtherRecord: (value, where) => {
        const type = (value as { type?: unknown } | null)?.type;
        if (type === 'finding' || type === 'event' || type === 'incident') collect.add(value, where, 'audit');
        else if (recordKind(value, undefined, where.file) === 'inventory') {
          const had = inventoryAmongAudit.get(where.file);
          if (had) had.count++;
          else inventoryAmongAudit.set(where.file, { count: 1, firstLine: where.line });
        }
      },
      ...hooks,
    });

  for (const [file, f] of inventoryAmongAudit) {
    const message =
      `${file}:${f.firstLine}: ${f.count} inventory record(s) among the audit records of this input were not read; ` +
      'give the inventory as an input of its own';
    if (!problem) throw new InputSyntaxError(message, { file, line: f.firstLine });
    problem({ file, line: f.firstLine, message, skipped: 'record' });
  }

  const logs = of('log');
  if (logs.length > 0) {
    onFile?.(0, [logs[0]!]);
    // The logs are read side by side, so which request `scan` had seen when a leak turned up depends on which
    // file got ahead: the cause of each leak is chosen again once every request of every log is known.
    const causes = new LeakCauses();
    const sink: FindingSink = {
      write: (f) => causes.add(f, collect.addFinding(f, logs, 'log')),
      close: async () => {},
    };
    let scanStats: ScanStats | undefined;
    const stats = await runScan({
      inputs: logs,
      logFormat: 'auto',
      rules: scanRules(),
      sink,
      maxLineBytes: opts.maxLineBytes ?? 4 << 20,
      concurrency: opts.concurrency ?? 4,
      onStats: (st) => {
        scanStats = st;
      },
      // A cut input is reported once, as the input problem below.
      warn: (m) => {
        if (!scanStats?.inputsCut.some((c) => c.message === m)) opts.onWarn?.(m);
      },
    });
    // A log cut in the middle (truncated gzip) is an input error like a cut trail: its name and where it broke off.
    for (const cut of stats.inputsCut) {
      if (!problem) throw new InputSyntaxError(cut.message, { file: cut.file });
      problem({ file: cut.file, message: cut.message, skipped: 'rest' });
    }
    for (const file of stats.inputsFailed) {
      if (!problem) throw new InputSyntaxError('not read as a log', { file });
      problem({ file, message: `${file}: not read as a log (the reason is above)`, skipped: 'input' });
    }
    causes.resolve();
  }

  const built = buildIncidents(collect.steps);
  const chosen = opts.selection ? selectIncidents(built, opts.selection) : built;
  for (const inc of chosen) {
    const p = opts.emit(inc);
    if (p) await p;
  }
  return {
    records: collect.records,
    findings: collect.steps.length,
    incidents: chosen.length,
    built: built.length,
    seconds: (performance.now() - t0) / 1000,
    inputs: readings,
    findingsByKind: collect.byKind,
  };
}

const KIND_READING: Record<InputKind, string> = {
  findings: 'findings',
  log: 'logs, by the rules of scan',
  audit: 'audit records, by the correlator of cloudtrail',
  inventory: 'inventory, by the checks of posture (and as the address book of cloudtrail)',
  store: 'findings stores, as imdsguard findings reads them',
  empty: 'empty, nothing read',
};

/** "read as …: a, b (n findings)", one line per kind of input, for the summary on stderr. */
export function describeReadings(r: Pick<InvestigateResult, 'inputs' | 'findingsByKind'>): string {
  const lines: string[] = [];
  for (const kind of Object.keys(KIND_READING) as InputKind[]) {
    const mine = r.inputs.filter((i) => i.kind === kind);
    if (mine.length === 0) continue;
    const names = mine.slice(0, 5).map((i) => (i.file === '-' ? 'stdin' : i.file));
    const more = mine.length > 5 ? ` and ${mine.length - 5} more` : '';
    const notes = [...new Set(mine.map((i) => i.note).filter(Boolean))];
    const n = r.findingsByKind[kind] ?? 0;
    lines.push(
      `imdsguard investigate: read as ${KIND_READING[kind]}: ${names.join(', ')}${more}` +
        `${kind === 'empty' ? '' : ` (${n} finding${n === 1 ? '' : 's'})`}${notes.length ? `; ${notes.join('; ')}` : ''}\n`,
    );
  }
  return lines.join('');
}
