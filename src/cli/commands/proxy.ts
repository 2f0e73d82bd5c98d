import { Command, Option } from 'commander';
import { describeEnded, endMetadataConnections } from '../../adapters/net/end-connections.ts';
import {
  applyRedirect,
  NFT_TABLE,
  redirectRuleset,
  redirectWarnings,
  removeRedirect,
} from '../../adapters/net/nft-redirect.ts';
import type { SinkFormat } from '../../adapters/sinks/open-sink.ts';
import type * as ProxyApp from '../../app/proxy.ts';

/** The proxy's code, loaded when a proxy command runs, not at every start of the CLI. */
const proxyApp = (): Promise<typeof ProxyApp> => import('../../app/proxy.ts');

import { ImdsguardError } from '../../core/errors.ts';
import { EXIT } from '../exit-codes.ts';
import { formatOption } from '../output-options.ts';
import { addPublishOptions, PUBLISH_HELP, type PublishFlags, publishSettings } from '../publish-options.ts';

const collect = (v: string, prev: string[]) => [...prev, v];

function intArg(name: string, min: number, max: number): (v: string) => number {
  return (v) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || n > max)
      throw new ImdsguardError('E_USAGE', `${name} must be an integer from ${min} to ${max}, not "${v}"`);
    return n;
  };
}

interface ProxyFlags extends PublishFlags {
  policy?: string;
  listen: string[];
  upstream: string[];
  format?: SinkFormat;
  output?: string;
  metricsPort?: number;
  hashExe: boolean;
  python: string;
  sockDiag: boolean;
  headersTimeoutMs?: number;
  upstreamTimeoutMs?: number;
  maxConnectionsPerPeer?: number;
  drainTimeoutMs?: number;
  logLevel: string;
}

interface RedirectFlags {
  print?: boolean;
  apply?: boolean;
  remove?: boolean;
  uid?: number;
  policy?: string;
  listen: string[];
  upstream: string[];
  table: string;
}

function redirectCommand(): Command {
  return new Command('redirect')
    .description('Print, apply or remove the nftables redirect that sends metadata traffic to the proxy')
    .option('--print', 'write the ruleset to stdout')
    .option(
      '--apply',
      'load the ruleset (replaces an earlier one of ours), then end metadata connections opened before it',
    )
    .option('--remove', 'delete our table, and nothing else')
    .option('--uid <uid>', "the proxy's uid, exempt from the redirect", intArg('--uid', 0, 4_294_967_294))
    .option('--table <name>', 'nftables table (inet family)', NFT_TABLE)
    .addHelpText(
      'after',
      `
Takes the proxy's own --listen/--upstream pairs or --policy FILE (its "listeners"), so the ports match;
without them, the proxy's defaults are used.
Exit code: 0 done, 2 usage or nft error.
Examples:
  imdsguard proxy redirect --print --uid 998
  imdsguard proxy redirect --apply --uid "$(id -u imdsguard)" --policy /etc/imdsguard/proxy.yaml
  imdsguard proxy redirect --print --uid 998 --listen 0.0.0.0:8169 --upstream http://169.254.169.254
  imdsguard proxy redirect --remove`,
    )
    .action(async (_f: RedirectFlags, self: Command) => {
      // --listen, --upstream and --policy belong to `proxy` itself; they may be written after `redirect` too.
      const f = self.optsWithGlobals<RedirectFlags>();
      const modes = [f.print, f.apply, f.remove].filter(Boolean).length;
      if (modes !== 1) throw new ImdsguardError('E_USAGE', 'Give exactly one of --print, --apply, --remove');
      if (f.remove) {
        const removed = removeRedirect(f.table);
        process.stderr.write(
          removed ? `imdsguard: removed table inet ${f.table}\n` : `imdsguard: no table inet ${f.table}\n`,
        );
        process.exitCode = EXIT.ok;
        return;
      }
      const { loadPolicyFile, resolveListeners } = await proxyApp();
      const policy = f.policy ? loadPolicyFile(f.policy) : undefined;
      const listeners = resolveListeners(f.listen, f.upstream, policy);
      const opts = { listeners, table: f.table, ...(f.uid !== undefined ? { proxyUid: f.uid } : {}) };
      if (f.uid === undefined)
        process.stderr.write(
          "imdsguard: warning: no --uid, so the proxy's own upstream traffic would be redirected to itself\n",
        );
      for (const w of redirectWarnings(listeners)) process.stderr.write(`imdsguard: warning: ${w}\n`);
      if (f.print) process.stdout.write(redirectRuleset(opts));
      else {
        applyRedirect(opts);
        process.stderr.write(`imdsguard: applied table inet ${f.table} (${listeners.length} redirects)\n`);
        // Connections opened before the redirect would keep reaching the service directly: end them.
        process.stderr.write(describeEnded(endMetadataConnections(listeners, f.uid)));
      }
      process.exitCode = EXIT.ok;
    });
}

export function proxyCommand(): Command {
  const base = new Command('proxy')
    .description('Enforcing metadata proxy: attributes each request to a process and applies a policy')
    .option('--policy <file>', 'policy file (YAML); reloaded on SIGHUP')
    .option('--listen <addr:port>', 'listen address (repeat; paired with --upstream by position)', collect, [])
    .option('--upstream <url>', 'metadata endpoint behind the --listen in the same position (repeat)', collect, [])
    .addOption(formatOption('record format', ['table', 'jsonl', 'json', 'ocsf', 'sarif']))
    .option('-o, --output <file>', 'write records to FILE (each flushed as written) instead of stdout')
    .addOption(
      new Option('--metrics-port <port>', 'serve /metrics and /healthz on 127.0.0.1:PORT')
        .argParser(intArg('--metrics-port', 0, 65_535))
        .env('IMDSGUARD_METRICS_PORT'),
    )
    .option('--hash-exe', "record each caller's executable sha256 (always on when a rule matches exe_sha256)", false)
    .addOption(
      new Option('--python <path>', 'python3 for the sock_diag attribution helper')
        .default('python3')
        .env('IMDSGUARD_PYTHON'),
    )
    .option('--no-sock-diag', 'attribute through /proc/net/tcp only (slower: milliseconds per connection)')
    .option(
      '--headers-timeout-ms <ms>',
      'clients must send their headers within this time',
      intArg('--headers-timeout-ms', 100, 600_000),
    )
    .option(
      '--upstream-timeout-ms <ms>',
      'the endpoint must answer within this time, else 504',
      intArg('--upstream-timeout-ms', 100, 600_000),
    )
    .option(
      '--max-connections-per-peer <n>',
      'open connections accepted from one address (503 beyond; local processes share one address)',
      intArg('--max-connections-per-peer', 1, 1_000_000),
    )
    .option(
      '--drain-timeout-ms <ms>',
      'on SIGTERM/SIGINT, requests in flight may finish for this long (default 6000)',
      intArg('--drain-timeout-ms', 0, 600_000),
    )
    .addOption(
      new Option('--log-level <level>', 'stderr log level').choices(['debug', 'info', 'warn', 'error']).default('info'),
    );
  const cmd = addPublishOptions(base)
    .addHelpText(
      'after',
      `
Defaults (without --listen/--upstream or "listeners" in the policy):
  0.0.0.0:8169 → http://169.254.169.254   [::]:8170 → http://[fd00:ec2::254]
  0.0.0.0:8171 → http://169.254.170.2     0.0.0.0:8172 → http://169.254.170.23   [::]:8173 → http://[fd00:ec2::23]
Records: one "event" per request (process, http, decision, policy_rule, status, latency_ms), plus a "finding"
for each denied or audited request. Response bodies and token values are never recorded.
Stopping: SIGTERM or SIGINT stops accepting connections, lets requests in flight finish (--drain-timeout-ms),
writes their records and exits; a second signal exits at once.
Exit code: 0 after SIGTERM, 130 after SIGINT; 2 on a usage, policy or listen error.
Examples:
  imdsguard proxy --policy /etc/imdsguard/proxy.yaml -o /var/log/imdsguard/proxy.jsonl
  imdsguard proxy --policy p.yaml --listen 127.0.0.1:8169 --upstream http://127.0.0.1:9000
  imdsguard proxy redirect --apply --uid 998
  imdsguard proxy --policy p.yaml --metrics-port 9465 --publish nats://hub:4222
${PUBLISH_HELP}
The publish counts and the outbox backlog are on /metrics (imdsguard_publish_*, imdsguard_outbox_*).`,
    )
    .action(async (f: ProxyFlags) => {
      if (!f.policy) throw new ImdsguardError('E_USAGE', 'proxy needs --policy FILE');
      const [{ pino }, { runProxy }] = await Promise.all([import('pino'), proxyApp()]);
      const log = pino({ level: f.logLevel, base: { name: 'imdsguard-proxy' } }, pino.destination(2));
      const publish = await publishSettings(f, 'proxy');
      const signal = await runProxy({
        ...(publish ? { publish } : {}),
        policyFile: f.policy,
        listen: f.listen,
        upstream: f.upstream,
        ...(f.format ? { format: f.format } : {}),
        ...(f.output ? { output: f.output } : {}),
        ...(f.metricsPort !== undefined ? { metricsPort: f.metricsPort } : {}),
        hashExe: f.hashExe,
        python: f.sockDiag ? f.python : false,
        ...(f.headersTimeoutMs !== undefined ? { headersTimeoutMs: f.headersTimeoutMs } : {}),
        ...(f.upstreamTimeoutMs !== undefined ? { upstreamTimeoutMs: f.upstreamTimeoutMs } : {}),
        ...(f.maxConnectionsPerPeer !== undefined ? { maxConnectionsPerPeer: f.maxConnectionsPerPeer } : {}),
        ...(f.drainTimeoutMs !== undefined ? { drainTimeoutMs: f.drainTimeoutMs } : {}),
        log,
      });
      // A daemon stopped by SIGTERM did what it was asked (0); Ctrl-C ends as Ctrl-C does everywhere (130).
      process.exitCode = signal === 'SIGINT' ? EXIT.sigint : EXIT.ok;
    });
  cmd.enablePositionalOptions();
  cmd.addCommand(redirectCommand());
  return cmd;
}
