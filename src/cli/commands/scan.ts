import { Command, InvalidArgumentError, Option } from 'commander';
import type { SinkFormat } from '../../adapters/sinks/formats.ts';
import type { ScanStats } from '../../app/scan-stats.ts';
import { ImdsguardError } from '../../core/errors.ts';
import { atLeast, isSeverity, type Severity } from '../../core/model/severity.ts';
import { LOG_FORMATS, type LogFormatName } from '../../core/parse/types.ts';
import { EXIT } from '../exit-codes.ts';
import { stopExitCode, stopRequested, whileRunning } from '../lifecycle.ts';
import { failOnOption, formatOption } from '../output-options.ts';
import { addPublishOptions, PUBLISH_HELP, type PublishFlags, publishSettings } from '../publish-options.ts';
import { rawStderr } from '../terminal.ts';

export interface ScanFlags extends PublishFlags {
  logFormat: LogFormatName;
  field: Record<string, string>;
  format?: SinkFormat;
  output?: string;
  failOn: Severity;
  exitZero?: boolean;
  follow?: boolean;
  fromStart?: boolean;
  concurrency: number;
  maxLineBytes: number;
  summary: boolean;
  progress: boolean;
  dispatch?: boolean;
  worker?: boolean;
  drain?: boolean;
  maxTries: number;
  ackWait: number;
}

const FIELD_NAMES = [
  'url',
  'request',
  'host',
  'referer',
  'method',
  'status',
  'bytes',
  'client',
  'time',
  'body',
  'useragent',
];

function collectField(v: string, prev: Record<string, string>): Record<string, string> {
  const m = /^([A-Za-z_][\w-]*)=(.+)$/.exec(v);
  if (!m) throw new InvalidArgumentError(`expected NAME=path.to.field, got "${v}"`);
  return { ...prev, [m[1]!]: m[2]! };
}

function positiveInt(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`expected a positive integer, got "${v}"`);
  return n;
}

export function scanCommand(): Command {
  const cmd = new Command('scan')
    .description('Find metadata-SSRF attempts (and SSRF to other internal addresses) in web, proxy and WAF logs')
    .argument(
      '[inputs...]',
      'log files, directories (recursive), quoted globs, or - for stdin (the default); .gz is read transparently',
    )
    .addOption(
      new Option('--log-format <name>', 'log format of every input (auto: detect per file and per line)')
        .choices([...LOG_FORMATS])
        .default('auto'),
    )
    .addOption(
      new Option(
        '--field <name=path>',
        `JSON lines: read field NAME from the dotted PATH (NAME: ${FIELD_NAMES.join(', ')}, or any other name to scan that field as text); repeatable`,
      )
        .argParser(collectField)
        .default({}),
    )
    .addOption(formatOption())
    .option('-o, --output <file>', 'write findings to FILE instead of stdout')
    .addOption(failOnOption())
    .option('--exit-zero', 'exit 0 even when there are findings (errors still exit 2)')
    .option(
      '-f, --follow',
      'keep reading appended lines like tail -F (survives rotation and truncation) until SIGINT/SIGTERM',
    )
    .option('--from-start', 'with --follow: read what the files hold first, then follow')
    .addOption(new Option('--concurrency <n>', 'inputs read at the same time').argParser(positiveInt).default(4))
    .addOption(
      new Option('--max-line-bytes <n>', 'skip (and report) lines longer than this')
        .argParser(positiveInt)
        .default(4 << 20),
    )
    .option('--no-summary', 'do not print the summary on stderr')
    .option('--no-progress', 'do not print the progress line on stderr (it is only shown on a TTY anyway)')
    .option(
      '--dispatch',
      'with --publish: queue each file of the inputs as a job for scan workers, instead of scanning',
    )
    .option('--worker', 'with --publish: scan the files queued by --dispatch, one job at a time, instead of inputs')
    .option('--drain', 'with --worker: end when the job queue is empty (otherwise wait for jobs until stopped)')
    .addOption(
      new Option('--max-tries <n>', 'with --worker: tries a job gets before it goes to the dead letters')
        .argParser(positiveInt)
        .default(3),
    )
    .addOption(
      new Option('--ack-wait <seconds>', 'with --worker: silence after which a job goes to another worker')
        .argParser(positiveInt)
        .default(30),
    );
  return addPublishOptions(cmd)
    .addHelpText(
      'after',
      `
Formats (--log-format): nginx, apache, combined, common (Common/Combined Log Format, \\xHH escapes), json (JSON lines,
common field names mapped; --field for the rest), alb, elb (AWS load balancers), cloudfront (W3C, %25 double
encoding undone), awswaf (AWS WAF JSON: uri, args, headers), squid (native), haproxy (httplog, captured headers),
envoy (default format), traefik (JSON), iis (W3C, #Fields may repeat), zeek (http.log, TSV or JSON), eve (Suricata
eve.json http events), text (whole line as free text).

Findings go to stdout (one per verdict per line: rule ssrf-metadata or ssrf-internal, with origin.file and
origin.line); the summary, per-client grouping and warnings go to stderr.
Exit code: 0 nothing at or above --fail-on; 1 findings; 2 an input could not be read whole (missing, a truncated
gzip, no line in the forced --log-format), or a usage error (the findings of what was read, and of the other inputs,
are still written); 3 the output could not be written (or, with --publish-required, findings were left
unacknowledged); 128+n stopped by signal n (SIGINT 130, SIGTERM 143, SIGHUP 129), after writing the findings so far.
${PUBLISH_HELP}

Examples:
  imdsguard scan /var/log/nginx/access.log
  imdsguard scan --format sarif -o ssrf.sarif '/var/log/nginx/*.gz'
  zcat access.log.1.gz | imdsguard scan --log-format combined --fail-on high
  imdsguard scan --log-format json --field url=req.original_url --field client=req.ip app.log
  imdsguard scan --follow /var/log/haproxy.log
  imdsguard scan --follow --publish nats://hub1:4222 --publish nats://hub2:4222 --account 123456789012 /var/log/nginx/access.log
  imdsguard scan --dispatch --publish nats://hub1:4222 /mnt/archive/nginx/     # one job per file
  imdsguard scan --worker --drain --publish nats://hub1:4222 -o /dev/null      # on each scanning host

Distributed scanning (--dispatch, --worker): see docs/fleet.md. --dispatch prints how many jobs were queued and how
many the queue already held (same path and content); it exits 0, 2 when an input could not be read or on a
configuration error (a --nats-creds or --nats-tls-ca file that cannot be read or is not one), 3 when the queue could
not be reached. A worker exits like scan (0, 1 with findings, 2 when it dead-lettered a job, read a file only in part or
met a configuration error, 3).`,
    )
    .action(async (inputs: string[], flags: ScanFlags) => {
      if (flags.dispatch || flags.worker) {
        const { runScanJobs } = await import('./scan-jobs.ts');
        await runScanJobs(inputs ?? [], flags);
        return;
      }
      if (flags.drain) throw new ImdsguardError('E_USAGE', '--drain only works with --worker');
      // Loaded when the command runs: every command's code at start-up would cost each run time and memory.
      const [
        { openSink },
        { runScan },
        { scanRules },
        { refuseOutputAmongInputs, refuseStdoutAmongInputs },
        { expandInputs },
      ] = await Promise.all([
        import('../../adapters/sinks/open-sink.ts'),
        import('../../app/scan.ts'),
        import('../../app/scan-rules.ts'),
        import('../../adapters/files/output-file.ts'),
        import('../../adapters/sources/expand-inputs.ts'),
      ]);
      if (!isSeverity(flags.failOn)) throw new InvalidArgumentError(`unknown severity ${flags.failOn}`);
      if (flags.fromStart && !flags.follow)
        process.stderr.write('imdsguard: --from-start only matters with --follow\n');
      {
        const { inputs: expanded } = await expandInputs(inputs ?? []);
        const paths = expanded.map((i) => (i.kind === 'stdin' ? '-' : i.path));
        if (flags.output) await refuseOutputAmongInputs(flags.output, paths);
        else await refuseStdoutAmongInputs(paths);
      }
      const publish = await publishSettings(flags, 'scan');
      const output = await openSink(flags.format, flags.output, { wholeRun: true });
      const tty = Boolean(process.stderr.isTTY) && flags.progress;
      const warn = (m: string) => {
        if (tty) rawStderr('\r\u001b[K');
        process.stderr.write(`imdsguard: ${m}\n`);
      };
      const publishing = publish
        ? (await import('../../app/fleet-publishing.ts')).FleetPublishing.start(publish, 'scan', warn)
        : undefined;
      const sink = publishing ? publishing.tee(output) : output;
      let atOrAbove = 0;
      const stats = { ref: undefined as undefined | ScanStats };
      const ac = new AbortController();
      const findingsCode = () => (atOrAbove > 0 && !flags.exitZero ? EXIT.findings : EXIT.ok);
      // An input not read, or not read to its end (a truncated gzip), is an input error: it outranks findings, as in
      // every other command, and the findings of what was read are written all the same.
      const inputCode = (s: Pick<ScanStats, 'inputsFailed' | 'inputsCut'> | undefined) =>
        s && (s.inputsFailed.length > 0 || s.inputsCut.length > 0) ? EXIT.error : findingsCode();
      // SIGINT, SIGTERM, SIGHUP: stop reading, write what was found, say what was not read, exit 128+n. A closed pipe
      // (`scan … | head`) ends the scan quietly, like any Unix filter; the exit code still says whether findings were seen.
      const stopHooks = whileRunning({ onStop: () => ac.abort(), closedPipeCode: () => inputCode(stats.ref) });
      const started = process.hrtime.bigint();
      const elapsed = () => Number(process.hrtime.bigint() - started) / 1e6;
      const timer = tty
        ? setInterval(() => {
            const s = stats.ref;
            if (s)
              rawStderr(
                `\r\u001b[Kscanning: ${s.linesRead} lines, ${(s.bytesRead / (1 << 20)).toFixed(0)} MiB, ${s.findings} finding(s)`,
              );
          }, 1000)
        : undefined;
      timer?.unref();
      let result: ScanStats;
      try {
        result = await runScan({
          inputs: inputs ?? [],
          logFormat: flags.logFormat,
          parser: { fieldMap: flags.field },
          rules: scanRules(),
          sink,
          follow: Boolean(flags.follow),
          fromStart: Boolean(flags.fromStart),
          maxLineBytes: flags.maxLineBytes,
          concurrency: flags.concurrency,
          signal: ac.signal,
          warn,
          onFinding: (f) => {
            if (atLeast(f.severity, flags.failOn)) atOrAbove++;
          },
          onStats: (s) => {
            stats.ref = s;
          },
        });
        await sink.close();
      } catch (e) {
        await sink.abort();
        await publishing?.finish();
        throw e;
      } finally {
        if (timer) {
          clearInterval(timer);
          rawStderr('\r\u001b[K');
        }
        stopHooks();
      }
      // With --follow a signal is the way a run ends (as for a daemon): the exit code says what was found. Without,
      // it cut the scan short, and the exit code and summary say so.
      const stoppedBy = flags.follow ? undefined : stopRequested();
      if (stoppedBy) result.interruptedBy = stoppedBy;
      if (flags.summary) process.stderr.write(result.render(elapsed()));
      else if (stoppedBy)
        process.stderr.write(
          `imdsguard: interrupted by ${stoppedBy}${result.notRead.length > 0 ? `; not read: ${result.notRead.join(', ')}` : ''}\n`,
        );
      // What was found is in the outbox already; wait (bounded) for the server to acknowledge it.
      const published = publishing ? await publishing.finish() : undefined;
      if (published && publish) {
        const { describePublishOutcome } = await import('../../app/fleet-publishing.ts');
        process.stderr.write(describePublishOutcome(published, publish.outboxPath));
      }
      const stopCode = stoppedBy ? stopExitCode() : undefined;
      // A stopped read may still sit in the thread pool (a FIFO nobody writes to): end now, not when it returns.
      if (stopCode !== undefined) process.exit(stopCode);
      else if (publish?.required && (published?.left ?? 0) > 0) process.exitCode = EXIT.output;
      else process.exitCode = inputCode(result);
    });
}
