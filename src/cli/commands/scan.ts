import { Command, InvalidArgumentError, Option } from 'commander';
import type { SinkFormat } from '../../adapters/sinks/formats.ts';
import type { ScanStats } from '../../app/scan-stats.ts';
import { atLeast, isSeverity, type Severity } from '../../core/model/severity.ts';
import { LOG_FORMATS, type LogFormatName } from '../../core/parse/types.ts';
import { EXIT } from '../exit-codes.ts';
import { failOnOption, formatOption } from '../output-options.ts';

interface ScanFlags {
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
  return new Command('scan')
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
Exit code: 0 nothing at or above --fail-on; 1 findings; 2 an input could not be read at all, or a usage error.

Examples:
  imdsguard scan /var/log/nginx/access.log
  imdsguard scan --format sarif -o ssrf.sarif '/var/log/nginx/*.gz'
  zcat access.log.1.gz | imdsguard scan --log-format combined --fail-on high
  imdsguard scan --log-format json --field url=req.original_url --field client=req.ip app.log
  imdsguard scan --follow /var/log/haproxy.log`,
    )
    .action(async (inputs: string[], flags: ScanFlags) => {
      // Loaded when the command runs: every command's code at start-up would cost each run time and memory.
      const [{ openSink }, { runScan }, { scanRules }] = await Promise.all([
        import('../../adapters/sinks/open-sink.ts'),
        import('../../app/scan.ts'),
        import('../../app/scan-rules.ts'),
      ]);
      if (!isSeverity(flags.failOn)) throw new InvalidArgumentError(`unknown severity ${flags.failOn}`);
      if (flags.fromStart && !flags.follow)
        process.stderr.write('imdsguard: --from-start only matters with --follow\n');
      const sink = await openSink(flags.format, flags.output);
      let atOrAbove = 0;
      const ac = new AbortController();
      // A closed pipe (`scan … | head`) ends the scan quietly, like any Unix filter; the exit code still says whether
      // findings were seen.
      process.stdout.on('error', (e: NodeJS.ErrnoException) => {
        if (e.code !== 'EPIPE') throw e;
        process.exit(atOrAbove > 0 && !flags.exitZero ? EXIT.findings : EXIT.ok);
      });
      const onTerm = () => ac.abort();
      process.once('SIGTERM', onTerm);
      process.once('SIGINT', onTerm);
      const started = process.hrtime.bigint();
      const elapsed = () => Number(process.hrtime.bigint() - started) / 1e6;
      const stats = { ref: undefined as undefined | { linesRead: number; bytesRead: number; findings: number } };
      const tty = Boolean(process.stderr.isTTY) && flags.progress;
      const timer = tty
        ? setInterval(() => {
            const s = stats.ref;
            if (s)
              process.stderr.write(
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
          warn: (m) => process.stderr.write(`${tty ? '\r\u001b[K' : ''}imdsguard: ${m}\n`),
          onFinding: (f) => {
            if (atLeast(f.severity, flags.failOn)) atOrAbove++;
          },
          onStats: (s) => {
            stats.ref = s;
          },
        });
      } finally {
        if (timer) {
          clearInterval(timer);
          process.stderr.write('\r\u001b[K');
        }
        process.off('SIGTERM', onTerm);
        process.off('SIGINT', onTerm);
        await sink.close();
      }
      if (flags.summary) process.stderr.write(result.render(elapsed()));
      if (result.inputsFailed.length > 0) process.exitCode = EXIT.error;
      else process.exitCode = atOrAbove > 0 && !flags.exitZero ? EXIT.findings : EXIT.ok;
    });
}
