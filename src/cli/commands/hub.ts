import { Command, Option } from 'commander';
import type * as HubApp from '../../app/hub.ts';
import { ImdsguardError } from '../../core/errors.ts';
import { EXIT } from '../exit-codes.ts';

/** The hub's code (NATS client, sinks), loaded when the hub runs, not at every start of the CLI. */
const hubApp = (): Promise<typeof HubApp> => import('../../app/hub.ts');

const collect = (v: string, prev: string[]) => [...prev, v];

interface HubFlags {
  config?: string;
  replayFrom?: string;
  replay: string[];
  metricsPort?: number;
  logLevel: string;
}

export function hubCommand(): Command {
  return new Command('hub')
    .description('Fleet hub: correlate findings from every host on NATS JetStream and deliver them to SIEMs')
    .option(
      '--config <file>',
      'hub config (YAML; secrets come from the environment variables it names); SIGHUP reloads it',
    )
    .option(
      '--replay-from <when>',
      'move readers back: "all", a stream sequence number, or an ISO time (each reader keeps its own position)',
    )
    .option('--replay <reader>', 'with --replay-from: only this sink (or "correlator"); repeat', collect, [])
    .addOption(
      new Option('--metrics-port <port>', 'serve /metrics and /healthz on 127.0.0.1:PORT')
        .argParser((v) => {
          const n = Number(v);
          if (!Number.isInteger(n) || n < 0 || n > 65_535)
            throw new ImdsguardError('E_USAGE', `--metrics-port must be an integer from 0 to 65535, not "${v}"`);
          return n;
        })
        .env('IMDSGUARD_METRICS_PORT'),
    )
    .addOption(
      new Option('--log-level <level>', 'stderr log level').choices(['debug', 'info', 'warn', 'error']).default('info'),
    )
    .addHelpText(
      'after',
      `
Reads the stream IMDS_FINDINGS (created when absent) through one durable consumer per reader: "correlator" and
each sink in the config (Splunk HEC, Elasticsearch/OpenSearch _bulk, syslog RFC 5424 or CEF over TCP/TLS, a signed
webhook, PostgreSQL, the findings store that "imdsguard findings" reads).
A message is acknowledged only once its sink accepted it; failures are retried with backoff
and after max_deliver tries go to the dead-letter subject. Hub findings are published back with source "hub".
Exit code: 0 after SIGTERM; 2 on a usage or config error.
Examples:
  imdsguard hub --config /etc/imdsguard/hub.yaml --metrics-port 9466
  imdsguard hub --config hub.yaml --replay-from 2026-12-01T00:00:00Z --replay elastic
  imdsguard hub --config hub.yaml --replay-from all --replay correlator`,
    )
    .action(async (f: HubFlags) => {
      if (!f.config) throw new ImdsguardError('E_USAGE', 'hub needs --config FILE');
      if (f.replay.length > 0 && !f.replayFrom) throw new ImdsguardError('E_USAGE', '--replay needs --replay-from');
      const [{ pino }, { runHub }, { parseReplayFrom }] = await Promise.all([
        import('pino'),
        hubApp(),
        import('../../adapters/fleet/hub/bus.ts'),
      ]);
      const log = pino({ level: f.logLevel, base: { name: 'imdsguard-hub' } }, pino.destination(2));
      await runHub({
        configFile: f.config,
        ...(f.replayFrom ? { replayFrom: parseReplayFrom(f.replayFrom) } : {}),
        replayReaders: f.replay,
        ...(f.metricsPort !== undefined ? { metricsPort: f.metricsPort } : {}),
        log,
      });
      process.exitCode = EXIT.ok;
    });
}
