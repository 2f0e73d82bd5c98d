/**
 * The --publish options, the same on every sensor command (scan, cloudtrail, agent, proxy), and the settings they
 * give. The NATS password is read from the environment: a command line shows in the process list.
 */
import { homedir } from 'node:os';
import { join } from 'node:path';
import { type Command, InvalidArgumentError, Option } from 'commander';
import type { NatsClientOptions } from '../adapters/fleet/nats-connection.ts';
import { checkServerUrl } from '../adapters/fleet/server-url.ts';
import type { PublishSettings } from '../app/fleet-publishing.ts';
import type { FleetSource } from '../core/fleet/contract.ts';

export interface PublishFlags {
  publish?: string[];
  natsCreds?: string;
  natsUser?: string;
  natsTlsCa?: string;
  hostId?: string;
  account?: string;
  region?: string;
  outbox?: string;
  outboxMax: number;
  createStream?: boolean;
  streamMaxAge?: number;
  publishTimeout: number;
  publishRequired?: boolean;
}

function collectServer(v: string, prev: string[] | undefined): string[] {
  try {
    checkServerUrl(v);
  } catch (e) {
    throw new InvalidArgumentError((e as Error).message);
  }
  return [...(prev ?? []), v];
}

function positiveInt(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`expected a positive integer, got "${v}"`);
  return n;
}

function seconds(v: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new InvalidArgumentError(`expected seconds (0 or more), got "${v}"`);
  return n;
}

/** "7d", "12h", "90m", "3600s" (or bare seconds) in ms. */
function duration(v: string): number {
  const m = /^(\d+(?:\.\d+)?)([smhd]?)$/.exec(v.trim());
  if (!m) throw new InvalidArgumentError(`expected a duration like 7d, 12h, 90m or 3600s, got "${v}"`);
  const unit = { '': 1, s: 1, m: 60, h: 3600, d: 86_400 }[m[2] as '' | 's' | 'm' | 'h' | 'd'];
  return Number(m[1]) * unit * 1000;
}

/** Add the publishing options to a sensor command. */
export function addPublishOptions(cmd: Command): Command {
  return cmd
    .addOption(
      new Option(
        '--publish <url>',
        'also publish every finding to NATS JetStream at nats://HOST:PORT (or tls://); repeat for more servers of one cluster',
      ).argParser(collectServer),
    )
    .addOption(
      new Option('--nats-creds <file>', 'NATS credentials file (JWT and NKey seed)').env('IMDSGUARD_NATS_CREDS'),
    )
    .addOption(
      new Option('--nats-user <name>', 'NATS user (password from IMDSGUARD_NATS_PASSWORD)').env('IMDSGUARD_NATS_USER'),
    )
    .addOption(
      new Option('--nats-tls-ca <file>', 'CA bundle to verify the NATS servers (implies TLS)').env(
        'IMDSGUARD_NATS_TLS_CA',
      ),
    )
    .addOption(
      new Option('--host-id <id>', 'this host on the bus (default: /etc/machine-id, else the host name)').env(
        'IMDSGUARD_HOST_ID',
      ),
    )
    .addOption(
      new Option('--account <id>', 'cloud account for the subject and envelope (default "_")').env('IMDSGUARD_ACCOUNT'),
    )
    .addOption(
      new Option('--region <name>', 'cloud region for the subject and envelope (default "_")').env('IMDSGUARD_REGION'),
    )
    .addOption(
      new Option(
        '--outbox <file>',
        'SQLite outbox of findings not yet acknowledged (default: outbox-<command>.sqlite in the state directory)',
      ),
    )
    .addOption(
      new Option('--outbox-max <n>', 'findings the outbox keeps; past it the oldest are dropped and counted')
        .argParser(positiveInt)
        .default(100_000),
    )
    .option('--create-stream', 'create the findings stream when it is missing (normally the hub creates it)')
    .addOption(
      new Option(
        '--stream-max-age <duration>',
        'with --create-stream: how long the stream keeps findings (7d, 12h)',
      ).argParser(duration),
    )
    .addOption(
      new Option('--publish-timeout <seconds>', 'at the end, wait this long for the acknowledgements')
        .argParser(seconds)
        .default(10),
    )
    .option('--publish-required', 'exit 3 when findings are left unacknowledged at the end');
}

/** The directory of state files: IMDSGUARD_STATE_DIR, /var/lib/imdsguard for root, else ~/.local/state/imdsguard. */
export function defaultStateDir(): string {
  if (process.env.IMDSGUARD_STATE_DIR) return process.env.IMDSGUARD_STATE_DIR;
  if (process.getuid?.() === 0) return '/var/lib/imdsguard';
  return join(process.env.XDG_STATE_HOME || join(homedir(), '.local', 'state'), 'imdsguard');
}

/**
 * The settings of --publish, or undefined when the command does not publish. The NATS files are read and checked
 * here (the client is loaded only when a command publishes).
 */
export async function publishSettings(
  f: PublishFlags,
  source: FleetSource,
  stateDir = defaultStateDir(),
): Promise<PublishSettings | undefined> {
  if (!f.publish || f.publish.length === 0) {
    if (f.createStream || f.outbox || f.publishRequired)
      process.stderr.write('imdsguard: --create-stream, --outbox and --publish-required only matter with --publish\n');
    return undefined;
  }
  const password = process.env.IMDSGUARD_NATS_PASSWORD;
  const nats: NatsClientOptions = {
    servers: f.publish,
    ...(f.natsCreds ? { credsFile: f.natsCreds } : {}),
    ...(f.natsUser ? { user: f.natsUser } : {}),
    ...(password ? { password } : {}),
    ...(f.natsTlsCa ? { tlsCaFile: f.natsTlsCa } : {}),
  };
  // A credentials or CA file that cannot be read, or is not one, is a configuration error (exit 2) before any input
  // is read: not a broker outage, which publishing rides out with its outbox.
  (await import('../adapters/fleet/nats-connection.ts')).natsConnectionOptions(nats);
  return {
    nats,
    ...(f.hostId ? { hostId: f.hostId } : {}),
    ...(f.account ? { account: f.account } : {}),
    ...(f.region ? { region: f.region } : {}),
    outboxPath: f.outbox ?? join(stateDir, `outbox-${source}.sqlite`),
    outboxMax: f.outboxMax,
    createStream: Boolean(f.createStream),
    ...(f.streamMaxAge !== undefined ? { streamMaxAgeMs: f.streamMaxAge } : {}),
    timeoutMs: f.publishTimeout * 1000,
    required: Boolean(f.publishRequired),
  };
}

export const PUBLISH_HELP = `
Publishing (--publish): every finding still goes to the output; it is also written to a local SQLite outbox and
published to JetStream on imds.v1.finding.<account>.<region>.<source>.<severity>, with Nats-Msg-Id bound to the host
and the finding's id. It leaves the outbox when the server acknowledges it; what a broker outage or a restart leaves
is sent by the next run (the server drops duplicates). Publishing problems never change the exit code unless
--publish-required: then 3 when findings are left unacknowledged. See docs/fleet.md.`;
