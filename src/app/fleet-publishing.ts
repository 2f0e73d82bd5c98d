/**
 * `--publish` for the sensors (scan, cloudtrail, agent, proxy): every finding a command writes also goes to the
 * outbox and from there to JetStream. Publishing never replaces the command's own output, and a broker outage never
 * fails a run: what is not acknowledged stays in the outbox for the next run, unless --publish-required asks for the
 * exit code to say so.
 */
import { fleetHost } from '../adapters/fleet/host-identity.ts';
import type { NatsClientOptions } from '../adapters/fleet/nats-connection.ts';
import { Outbox } from '../adapters/fleet/outbox.ts';
import { registerPublishMetrics } from '../adapters/fleet/publish-metrics.ts';
import { FleetPublisher, type FleetSender, type PublishStats } from '../adapters/fleet/publisher.ts';
import type { DaemonHttp } from '../adapters/net/daemon-http.ts';
import type { FleetSource } from '../core/fleet/contract.ts';
import type { Finding } from '../core/model/finding.ts';
import type { FindingSink } from '../core/ports.ts';

export interface PublishSettings {
  nats: NatsClientOptions;
  hostId?: string;
  account?: string;
  region?: string;
  outboxPath: string;
  outboxMax: number;
  createStream: boolean;
  streamMaxAgeMs?: number;
  /** How long a command that ends waits for the PubAcks of what it found (ms). */
  timeoutMs: number;
  /** Exit 3 when findings are left unacknowledged at the end. */
  required: boolean;
}

export interface PublishOutcome {
  stats: PublishStats;
  /** Findings left in the outbox (published by the next run). */
  left: number;
}

export class FleetPublishing {
  readonly settings: PublishSettings;
  private readonly publisher: FleetPublisher;
  private finished: Promise<PublishOutcome> | undefined;

  private constructor(settings: PublishSettings, publisher: FleetPublisher) {
    this.settings = settings;
    this.publisher = publisher;
  }

  /** Open the outbox (failing now when it cannot be) and start connecting in the background. */
  static start(s: PublishSettings, source: FleetSource, warn: (message: string) => void): FleetPublishing {
    const outbox = new Outbox(s.outboxPath, { maxRows: s.outboxMax });
    const publisher = new FleetPublisher({
      nats: { ...s.nats, name: `imdsguard ${source}` },
      outbox,
      source,
      host: fleetHost(s.hostId),
      ...(s.account ? { account: s.account } : {}),
      ...(s.region ? { region: s.region } : {}),
      createStream: s.createStream,
      ...(s.streamMaxAgeMs !== undefined ? { streamMaxAgeMs: s.streamMaxAgeMs } : {}),
      warn: (m) => warn(`publish: ${m}`),
    });
    publisher.start();
    if (outbox.size > 0)
      warn(`publish: ${outbox.size} finding(s) left in ${outbox.path} by an earlier run are sent first`);
    return new FleetPublishing(s, publisher);
  }

  /**
   * The same sink, with every finding written to it also published (first to the outbox, then the sink); `on`
   * publishes under another host, account and region than this command's own.
   */
  tee<S extends FindingSink>(sink: S, on?: FleetSender): S {
    const publisher = this.publisher;
    return {
      ...sink,
      write(record: Finding | Record<string, unknown>) {
        if (record.type === 'finding') publisher.enqueue(record as Finding, on);
        return sink.write(record);
      },
    };
  }

  /** Wait (up to `timeoutMs`) until the server has acknowledged everything so far; returns the findings left. */
  settle(timeoutMs: number): Promise<number> {
    return this.publisher.drain(timeoutMs);
  }

  /** The publisher's counts on a daemon's /metrics. */
  registerMetrics(http: DaemonHttp): void {
    registerPublishMetrics(http, () => this.publisher.stats());
  }

  stats(): PublishStats {
    return this.publisher.stats();
  }

  /** Wait (up to the timeout) for the acknowledgements, then close; what is left stays in the outbox. */
  finish(): Promise<PublishOutcome> {
    this.finished ??= (async () => {
      const left = await this.publisher.drain(this.settings.timeoutMs);
      const stats = this.publisher.stats();
      await this.publisher.close();
      return { stats, left };
    })();
    return this.finished;
  }
}

/** The stderr line a command ends with. */
export function describePublishOutcome(r: PublishOutcome, outboxPath: string): string {
  const s = r.stats;
  const parts = [`${s.acked} acknowledged`];
  if (s.duplicates > 0) parts.push(`${s.duplicates} already in the stream`);
  if (s.dropped > 0) parts.push(`${s.dropped} dropped by --outbox-max`);
  parts.push(r.left > 0 ? `${r.left} left in the outbox ${outboxPath} for the next run` : 'outbox empty');
  return `imdsguard: published ${s.queued} finding(s): ${parts.join(', ')}\n`;
}
