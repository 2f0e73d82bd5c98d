/**
 * `scan --worker`: take jobs from the shared consumer one at a time and scan each file with the same pipeline, rules
 * and options as `scan`, publishing the findings as `scan --publish` does. A job is acknowledged only after the
 * server has acknowledged its findings, so a worker that dies at any point loses nothing: the job goes to another
 * worker after the ack wait, which publishes the same findings under the same message ids, and the server drops the
 * copies. While a file is being scanned the worker tells the server it is still working on it, so a long file is
 * not handed to a second worker.
 */
import { statSync } from 'node:fs';
import type { JsMsg } from '@nats-io/jetstream';
import { ScanJobQueue } from '../adapters/fleet/scan-jobs.ts';
import { sleepUnlessAborted } from '../adapters/sources/abortable.ts';
import { decodeScanJob, type ScanJob } from '../core/fleet/contract.ts';
import { atLeast, type Severity } from '../core/model/severity.ts';
import type { LogFormatName, ParserOptions } from '../core/parse/types.ts';
import type { FindingSink } from '../core/ports.ts';
import { FleetPublishing, type PublishSettings } from './fleet-publishing.ts';
import { runScan } from './scan.ts';
import { scanRules } from './scan-rules.ts';

export interface WorkerSettings {
  publish: PublishSettings;
  logFormat: LogFormatName;
  parser?: ParserOptions;
  maxLineBytes: number;
  /** Where findings are written besides the bus (stdout or -o), as by `scan`. */
  sink: FindingSink;
  failOn: Severity;
  /** Tries a job gets before it goes to the dead letters. */
  maxTries: number;
  /** Silence after which the server hands a job to another worker (ms). */
  ackWaitMs: number;
  /** End when the queue holds no job (none waiting, none in another worker's hands). */
  drain: boolean;
  /** Stop: the job in hand is given back at once, and the worker ends. */
  signal: AbortSignal;
  warn: (message: string) => void;
}

export interface WorkerOutcome {
  /** Jobs scanned and acknowledged. */
  done: number;
  /** Tries that failed and were given back for a later try. */
  retried: number;
  /** Jobs this worker put on the dead-letter subject. */
  dead: number;
  /** Jobs given back unfinished because the worker was stopped. */
  givenBack: number;
  /** Jobs done whose file could be read only in part (a truncated gzip): an input error, as for `scan`. */
  readInPart: number;
  findings: number;
  /** Findings at or above --fail-on. */
  atOrAbove: number;
}

/** Delay before a failed job is offered again: the n-th failure waits the n-th entry (the last one repeats). */
const RETRY_DELAYS_MS = [1_000, 5_000, 30_000];
/** How long one wait for a job lasts: a stop is noticed within it. */
const POLL_MS = 1_000;

export class ScanWorker {
  private readonly s: WorkerSettings;
  private readonly publishing: FleetPublishing;
  private readonly out: WorkerOutcome = {
    done: 0,
    retried: 0,
    dead: 0,
    givenBack: 0,
    readInPart: 0,
    findings: 0,
    atOrAbove: 0,
  };
  private lastWarning = '';

  constructor(s: WorkerSettings) {
    this.s = s;
    this.publishing = FleetPublishing.start(s.publish, 'scan', s.warn);
  }

  /** Take jobs until stopped (or, with drain, until the queue is empty); then publish what is left and close. */
  async run(): Promise<WorkerOutcome> {
    try {
      const queue = await this.connect();
      if (!queue) return this.out;
      try {
        await queue.ensureWorkersConsumer({ maxTries: this.s.maxTries, ackWaitMs: this.s.ackWaitMs });
        await this.loop(queue);
      } finally {
        await queue.close();
      }
    } catch (e) {
      await this.publishing.finish();
      throw e;
    }
    return this.out;
  }

  /** Findings published and left; call after run. */
  finish(): ReturnType<FleetPublishing['finish']> {
    return this.publishing.finish();
  }

  /** Connect, retrying while no server answers (a worker waits for its broker as it waits for jobs). */
  private async connect(): Promise<ScanJobQueue | undefined> {
    for (let attempt = 0; !this.s.signal.aborted; attempt++) {
      try {
        const q = await ScanJobQueue.open({ ...this.s.publish.nats, name: 'imdsguard scan --worker' });
        if (attempt > 0) this.s.warn(`worker: connected to ${q.nc.getServer()}`);
        return q;
      } catch (e) {
        this.warnOnce(
          `worker: cannot reach the job queue on ${this.s.publish.nats.servers.join(', ')}: ${(e as Error).message}`,
        );
        await sleepUnlessAborted(Math.min(5_000, 250 * 2 ** attempt), this.s.signal);
      }
    }
    return undefined;
  }

  private async loop(queue: ScanJobQueue): Promise<void> {
    let failures = 0;
    while (!this.s.signal.aborted) {
      let m: JsMsg | null;
      try {
        m = await queue.next(POLL_MS);
        failures = 0;
      } catch (e) {
        // Broker restarting, consumer being recreated: the client reconnects by itself; wait and ask again.
        this.warnOnce(`worker: waiting for the job queue: ${(e as Error).message}`);
        await sleepUnlessAborted(Math.min(5_000, 250 * 2 ** failures++), this.s.signal);
        continue;
      }
      if (m) {
        this.lastWarning = '';
        await this.handle(queue, m);
      } else if (this.s.drain && (await queue.jobsLeft().catch(() => 1)) === 0) return;
    }
  }

  private async handle(queue: ScanJobQueue, m: JsMsg): Promise<void> {
    const tries = m.info.deliveryCount;
    let job: ScanJob;
    try {
      job = decodeScanJob(m.string());
    } catch (e) {
      await this.dead(
        queue,
        m,
        `unreadable job (stream sequence ${m.info.streamSequence}): ${(e as Error).message}`,
        tries,
      );
      return;
    }
    if (tries > this.s.maxTries) {
      // The server delivers once more than the tries allowed: the last tries ended with their worker (killed, out
      // of memory), so nobody could dead-letter the job then.
      await this.dead(
        queue,
        m,
        `${job.path}: not finished in ${this.s.maxTries} tries (the worker ended each time)`,
        tries,
      );
      return;
    }
    const started = Date.now();
    // Progress: each signal restarts the server's ack wait, so a long file stays with this worker.
    // Five per ack wait: a loaded host that misses a few still keeps its job.
    const heartbeat = setInterval(() => m.working(), Math.max(100, Math.floor(this.s.ackWaitMs / 5)));
    try {
      this.checkUnchanged(job);
      const errors: string[] = [];
      let findings = 0;
      const stats = await runScan({
        inputs: [job.path],
        logFormat: this.s.logFormat,
        ...(this.s.parser ? { parser: this.s.parser } : {}),
        // Rules hold state (the leak correlator, the masker's known secrets): each job starts with its own, so a
        // file gives the same findings whichever jobs its worker did before.
        rules: scanRules(),
        sink: this.publishing.tee(this.s.sink, { host: job.host, account: job.account, region: job.region }),
        maxLineBytes: this.s.maxLineBytes,
        concurrency: 1,
        signal: this.s.signal,
        warn: (msg) => {
          errors.push(msg);
          this.s.warn(msg);
        },
        onFinding: (f) => {
          findings++;
          if (atLeast(f.severity, this.s.failOn)) this.out.atOrAbove++;
        },
      });
      this.out.findings += findings;
      if (this.s.signal.aborted) {
        // Stopped mid-file: the job goes back now (not after the ack wait); what was found so far is published,
        // and the next worker's copies of it are dropped by the server.
        m.nak();
        this.out.givenBack++;
        this.s.warn(`worker: ${job.path}: stopped, job given back`);
        return;
      }
      if (stats.inputsFailed.length > 0) {
        const reason = errors.findLast((e) => e.includes(job.path)) ?? `${job.path}: cannot read`;
        if (tries >= this.s.maxTries) await this.dead(queue, m, reason, tries);
        else {
          m.nak(RETRY_DELAYS_MS[Math.min(tries - 1, RETRY_DELAYS_MS.length - 1)]);
          this.out.retried++;
          this.s.warn(`worker: ${job.path}: try ${tries} of ${this.s.maxTries} failed; tried again later`);
        }
        return;
      }
      // The findings first: a job acknowledged before them would be lost with this host's outbox.
      const left = await this.publishing.settle(this.s.publish.timeoutMs);
      if (left > 0) {
        m.nak(RETRY_DELAYS_MS[0]);
        this.out.retried++;
        this.s.warn(`worker: ${job.path}: ${left} finding(s) not acknowledged by the server yet; job given back`);
        return;
      }
      // A lost acknowledgement brings the job back after the ack wait: scanned again, nothing new published.
      await m.ackAck().catch(() => false);
      this.out.done++;
      // A file cut short (a truncated gzip) is done: another try would read the same bytes, and the findings before
      // the cut are published. It still counts as an input error in the exit code, as it does for scan.
      if (stats.inputsCut.length > 0) this.out.readInPart++;
      this.s.warn(
        `worker: ${job.path}: ${findings} finding(s), try ${tries}, ${((Date.now() - started) / 1000).toFixed(1)} s`,
      );
    } catch (e) {
      // The output failed (or something unforeseen): give the job back before the error ends the worker.
      m.nak();
      this.out.givenBack++;
      throw e;
    } finally {
      clearInterval(heartbeat);
    }
  }

  /** A file changed since it was queued is still scanned (its path is the job), and the operator is told. */
  private checkUnchanged(job: ScanJob): void {
    try {
      const size = statSync(job.path).size;
      if (job.size >= 0 && size !== job.size)
        this.s.warn(`worker: ${job.path}: ${size} bytes now, ${job.size} when queued; scanning what it holds now`);
    } catch {
      // Unreadable: the scan says so, and the job is retried.
    }
  }

  private async dead(queue: ScanJobQueue, m: JsMsg, reason: string, tries: number): Promise<void> {
    try {
      await queue.deadLetter(m, reason, tries);
      this.out.dead++;
      this.s.warn(`worker: dead-lettered after ${tries} tries: ${reason}`);
    } catch (e) {
      // Not stored on the dead-letter subject: leave the job to come back after the ack wait and try again then.
      this.s.warn(`worker: cannot dead-letter (${(e as Error).message}): ${reason}`);
    }
  }

  private warnOnce(m: string): void {
    if (m === this.lastWarning) return;
    this.lastWarning = m;
    this.s.warn(m);
  }
}

/** The stderr line a worker ends with. */
export function describeWorker(o: WorkerOutcome): string {
  const parts = [`${o.done} job(s) done`];
  if (o.retried > 0) parts.push(`${o.retried} failed tries given back`);
  if (o.dead > 0) parts.push(`${o.dead} dead-lettered`);
  if (o.givenBack > 0) parts.push(`${o.givenBack} given back unfinished`);
  if (o.readInPart > 0) parts.push(`${o.readInPart} read in part`);
  return `imdsguard: worker: ${parts.join(', ')}; ${o.findings} finding(s)\n`;
}
