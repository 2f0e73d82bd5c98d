import { Command, Option } from 'commander';
import { VERSION } from '../../adapters/version.ts';
import { ImdsguardError } from '../../core/errors.ts';
import { isSeverity, type Severity } from '../../core/model/severity.ts';
import { formatOption } from '../output-options.ts';
import { addPublishOptions, PUBLISH_HELP, type PublishFlags, publishSettings } from '../publish-options.ts';

function intArg(name: string, min: number, max: number): (v: string) => number {
  return (v) => {
    const n = Number(v);
    if (!Number.isFinite(n) || n < min || n > max)
      throw new ImdsguardError('E_USAGE', `${name} must be a number from ${min} to ${max}, not "${v}"`);
    return n;
  };
}

interface AgentFlags extends PublishFlags {
  sensor: string;
  format?: 'jsonl' | 'table';
  output?: string;
  state: string;
  duration?: number;
  events: boolean;
  metricsPort?: number;
  warmup: number;
  allowlist?: string;
  auditLog: string;
  auditRule: boolean;
  procfsInterval: number;
  failOn: string;
  queueMax: number;
  logLevel: string;
  printProgram: boolean;
}

export function agentCommand(): Command {
  const cmd = new Command('agent')
    .description('Watch which process, user and container talks to the metadata service on this host')
    .addOption(
      new Option('--sensor <name>', 'sensor: auto picks bpftrace, then auditd, then procfs')
        .choices(['auto', 'bpftrace', 'auditd', 'procfs'])
        .default('auto')
        .env('IMDSGUARD_SENSOR'),
    )
    .addOption(formatOption('output format', ['jsonl', 'table']))
    .option('-o, --output <file>', 'write records to FILE (each flushed as written) instead of stdout')
    .addOption(
      new Option('--state <dir>', 'state directory (baseline, recent sequences)')
        .default('/var/lib/imdsguard')
        .env('IMDSGUARD_STATE_DIR'),
    )
    .option(
      '--duration <seconds>',
      'stop after this many seconds (exit 1 if a finding reached --fail-on)',
      intArg('--duration', 0, 31_536_000),
    )
    .option('--events', 'also write every observed request as a `type: "event"` record', false)
    .addOption(
      new Option('--metrics-port <port>', 'serve /metrics and /healthz on 127.0.0.1:PORT')
        .argParser(intArg('--metrics-port', 0, 65_535))
        .env('IMDSGUARD_METRICS_PORT'),
    )
    .option(
      '--warmup <seconds>',
      'learn the baseline of callers for this long before reporting unusual ones',
      intArg('--warmup', 0, 31_536_000),
      86_400,
    )
    .addOption(
      new Option('--allowlist <file>', 'YAML list of expected callers (reloaded on SIGHUP)').env('IMDSGUARD_ALLOWLIST'),
    )
    .option('--audit-log <file>', 'auditd log to follow (auditd sensor)', '/var/log/audit/audit.log')
    .option('--audit-rule', 'install the connect audit rules at start and remove them at exit (auditd sensor)', false)
    .option(
      '--procfs-interval <ms>',
      'poll interval of the procfs sensor',
      intArg('--procfs-interval', 10, 60_000),
      250,
    )
    .option('--fail-on <severity>', 'with --duration: exit 1 when a finding is at or above this severity', 'medium')
    .option(
      '--queue-max <n>',
      'events waiting for attribution before new ones are dropped (and counted)',
      intArg('--queue-max', 1, 10_000_000),
      10_000,
    )
    .addOption(
      new Option('--log-level <level>', 'log level (logs are JSON on stderr)')
        .choices(['fatal', 'error', 'warn', 'info', 'debug'])
        .default('info')
        .env('LOG_LEVEL'),
    )
    .option('--print-program', 'print the bpftrace program the agent runs, and exit', false);
  return addPublishOptions(cmd)
    .addHelpText(
      'after',
      `
Records go to stdout (or -o FILE): one JSON object per line with --format jsonl. Logs go to stderr.
Signals: SIGHUP reloads the allowlist; SIGTERM flushes, saves state and exits 0.
Sensors: bpftrace (root; syscall tracepoints, sees requests and tokens), auditd (connections only),
procfs (connections only, polling; misses short ones).
Exit code: 0 on SIGTERM; with --duration, 0 or 1 per --fail-on; 2 on a usage, config or sensor error.
Examples:
  imdsguard agent --events --format jsonl
  imdsguard agent --sensor auditd --audit-rule --duration 60 -o /var/log/imdsguard.jsonl
  imdsguard agent --print-program > imds.bt
  imdsguard agent --metrics-port 9464 --publish nats://hub:4222 --account 123456789012 --region eu-west-1
${PUBLISH_HELP}
The outbox defaults to outbox-agent.sqlite in --state; the publish counts and the outbox backlog are on /metrics.`,
    )
    .action(async (f: AgentFlags) => {
      if (f.printProgram) {
        const { bpftraceProgram } = await import('../../adapters/sources/bpftrace/program.ts');
        process.stdout.write(bpftraceProgram());
        process.exitCode = 0;
        return;
      }
      if (!isSeverity(f.failOn))
        throw new ImdsguardError(
          'E_USAGE',
          `--fail-on must be one of info, low, medium, high, critical, not "${f.failOn}"`,
        );
      // The CLI's default SIGINT handler exits at once; the agent must first remove its audit rules and save state.
      process.removeAllListeners('SIGINT');
      // Loaded when the command runs, not at every start of the CLI.
      const [{ pino }, { runAgent }, { assertSensorName }] = await Promise.all([
        import('pino'),
        import('../../app/agent.ts'),
        import('../../app/agent-sensors.ts'),
      ]);
      const log = pino({ level: f.logLevel, base: { component: 'agent' } }, pino.destination({ dest: 2, sync: true }));
      const publish = await publishSettings(f, 'agent', f.state);
      const code = await runAgent({
        ...(publish ? { publish } : {}),
        sensor: assertSensorName(f.sensor),
        ...(f.format ? { format: f.format } : {}),
        ...(f.output ? { output: f.output } : {}),
        stateDir: f.state,
        ...(f.duration !== undefined ? { durationS: f.duration } : {}),
        events: f.events,
        ...(f.metricsPort !== undefined ? { metricsPort: Number(f.metricsPort) } : {}),
        warmupS: f.warmup,
        ...(f.allowlist ? { allowlist: f.allowlist } : {}),
        auditLog: f.auditLog,
        auditRule: f.auditRule,
        procfsIntervalMs: f.procfsInterval,
        failOn: f.failOn as Severity,
        queueMax: f.queueMax,
        version: VERSION,
        log,
      });
      process.exitCode = code;
    });
}
