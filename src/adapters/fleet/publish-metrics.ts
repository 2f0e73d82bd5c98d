import type { DaemonHttp } from '../net/daemon-http.ts';
import type { PublishStats } from './publisher.ts';

/**
 * The publisher's counts on a daemon's /metrics. The counts live in the publisher; each scrape reads them, so that
 * publishing code never waits on metric objects.
 */
export function registerPublishMetrics(http: DaemonHttp, stats: () => PublishStats): void {
  const counters: Array<[string, string, keyof PublishStats]> = [
    ['imdsguard_publish_queued_total', 'Findings written to the outbox', 'queued'],
    ['imdsguard_publish_attempts_total', 'Publish attempts to JetStream (retries included)', 'published'],
    ['imdsguard_publish_acked_total', 'Findings acknowledged by JetStream (PubAck)', 'acked'],
    [
      'imdsguard_publish_duplicates_total',
      'PubAcks saying the stream already held the message id (replays)',
      'duplicates',
    ],
    ['imdsguard_publish_failures_total', 'Publish attempts that failed and will be retried', 'failures'],
    ['imdsguard_outbox_dropped_total', 'Findings dropped by the outbox bound (--outbox-max), oldest first', 'dropped'],
  ];
  for (const [name, help, key] of counters)
    new http.prom.Counter({
      name,
      help,
      registers: [http.registry],
      collect() {
        this.reset();
        this.inc(stats()[key] as number);
      },
    });
  new http.prom.Gauge({
    name: 'imdsguard_outbox_backlog',
    help: 'Findings in the outbox waiting for a PubAck',
    registers: [http.registry],
    collect() {
      this.set(stats().backlog);
    },
  });
  new http.prom.Gauge({
    name: 'imdsguard_publish_connected',
    help: '1 while connected to a NATS server',
    registers: [http.registry],
    collect() {
      this.set(stats().connected ? 1 : 0);
    },
  });
}
