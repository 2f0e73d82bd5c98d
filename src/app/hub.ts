/**
 * `imdsguard hub`: read the fleet's findings from JetStream, correlate them across hosts, and deliver them to the
 * SIEMs. Every reader (the correlator and each sink) has its own durable consumer and worker, so each keeps its own
 * position and a slow or failing one holds back nobody else. SIGHUP reloads the config (sinks are reopened; their
 * positions stay in the broker); SIGTERM finishes the batches in hand and exits 0.
 */
import type { Logger } from 'pino';
import { type Bus, ensureConsumer, openBus, type StartAt } from '../adapters/fleet/hub/bus.ts';
import { type HubConfig, loadHubConfig } from '../adapters/fleet/hub/config.ts';
import { ConsumerWorker, type WorkerCounters } from '../adapters/fleet/hub/consumer-worker.ts';
import { correlatorReader } from '../adapters/fleet/hub/correlator-reader.ts';
import { type CorrelatorStore, openCorrelatorStore } from '../adapters/fleet/hub/correlator-store.ts';
import { openHubSink } from '../adapters/fleet/hub/open-hub-sink.ts';
import type { HubSink } from '../adapters/fleet/hub/sink.ts';
import { ensureHubDeadStream } from '../adapters/fleet/streams.ts';
import type { DaemonHttp } from '../adapters/net/daemon-http.ts';
import { VERSION } from '../adapters/version.ts';

/** Failures in a row (fetches or deliveries) after which /healthz calls a reader failing and answers 503. */
const FAILING_AFTER = 5;
/** Or this long failing without a single delivery. */
const FAILING_AFTER_MS = 120_000;

export interface HubRunOptions {
  configFile: string;
  /** Move these readers' positions (all of them when `replayReaders` is empty). */
  replayFrom?: StartAt;
  replayReaders?: string[];
  metricsPort?: number;
  log: Logger;
  env?: NodeJS.ProcessEnv;
  /** Resolves when the hub should stop (signals by default; tests pass their own). */
  until?: Promise<void>;
  onReady?: (hub: RunningHub) => void;
}

export interface RunningHub {
  metricsPort: number | undefined;
  readers(): string[];
  /** What SIGHUP does. */
  reload(): Promise<void>;
}

interface Reader {
  name: string;
  worker: ConsumerWorker;
  sink?: HubSink;
  store?: CorrelatorStore;
}

interface Metrics {
  delivered: { inc(l: Record<string, string>, n: number): void };
  failed: { inc(l: Record<string, string>, n: number): void };
  lag: { set(l: Record<string, string>, n: number): void };
  hubFindings: { inc(n?: number): void };
}

function countersFor(reader: string, m: Metrics | undefined): WorkerCounters {
  return {
    delivered: (n) => m?.delivered.inc({ reader }, n),
    retried: (n) => m?.failed.inc({ reader, outcome: 'retry' }, n),
    deadLettered: (n, dropped) => m?.failed.inc({ reader, outcome: dropped ? 'dropped' : 'dead_letter' }, n),
    lag: (n) => m?.lag.set({ reader }, n),
  };
}

export async function runHub(o: HubRunOptions): Promise<void> {
  const env = o.env ?? process.env;
  let config: HubConfig = loadHubConfig(o.configFile, env);
  const bus: Bus = await openBus(
    config.bus,
    { maxAgeMs: config.raw.hub.stream_max_age_hours * 3_600_000 },
    {
      down: (server) => o.log.warn({ server }, 'lost the connection to NATS; reconnecting (/healthz answers 503)'),
      up: (server, downMs) => o.log.info({ server, down_s: Math.round(downMs / 1000) }, 'reconnected to NATS'),
    },
  );
  o.log.info({ nats: config.bus.servers }, 'connected to NATS');

  let metrics: DaemonHttp | undefined;
  let m: Metrics | undefined;
  const readers = new Map<string, Reader>();
  if (o.metricsPort !== undefined) {
    const { startDaemonHttp } = await import('../adapters/net/daemon-http.ts');
    // A port in use ends the start (exit 2): the open connection would otherwise keep the process alive.
    metrics = await startDaemonHttp({
      port: o.metricsPort,
      version: VERSION,
      health: () => {
        // A reader is degraded from its first failure in a row, and failing (503) after FAILING_AFTER of them or
        // FAILING_AFTER_MS of failures without a delivery: a sink that refuses everything must show here.
        const state = (r: Reader) => {
          const h = r.worker.health();
          const failing = h.consecutiveFailures >= FAILING_AFTER || h.failingForMs >= FAILING_AFTER_MS;
          return { ...h, state: failing ? 'failing' : h.consecutiveFailures > 0 ? 'degraded' : 'ok' };
        };
        const all = [...readers.values()].map((r) => ({ name: r.name, ...state(r) }));
        const failing = all.filter((r) => r.state === 'failing').map((r) => r.name);
        const degraded = all.filter((r) => r.state === 'degraded').map((r) => r.name);
        return {
          ok: bus.link.state === 'connected' && !bus.nc.isClosed() && failing.length === 0,
          detail: {
            readers: [...readers.keys()],
            failing,
            degraded,
            reader_state: Object.fromEntries(
              all.map((r) => [
                r.name,
                {
                  state: r.state,
                  consecutive_failures: r.consecutiveFailures,
                  failing_for_s: Math.round(r.failingForMs / 1000),
                  ...(r.lastError ? { last_error: r.lastError } : {}),
                },
              ]),
            ),
            nats: bus.nc.isClosed() ? 'closed' : bus.link.state,
            ...(bus.link.state === 'disconnected'
              ? { nats_down_s: Math.round((Date.now() - bus.link.sinceMs) / 1000) }
              : {}),
          },
        };
      },
    }).catch(async (e: unknown) => {
      await bus.nc.close();
      throw e;
    });
    const reg = [metrics.registry];
    m = {
      delivered: new metrics.prom.Counter({
        name: 'imdsguard_hub_delivered_total',
        help: 'Findings a reader accepted (a sink acknowledged them, or the correlator observed them)',
        labelNames: ['reader'],
        registers: reg,
      }),
      failed: new metrics.prom.Counter({
        name: 'imdsguard_hub_failed_total',
        help: 'Findings not delivered: retried later, handed to the dead-letter subject, or dropped',
        labelNames: ['reader', 'outcome'],
        registers: reg,
      }),
      lag: new metrics.prom.Gauge({
        name: 'imdsguard_hub_lag_messages',
        help: "Messages in the stream the reader's consumer has not been handed yet",
        labelNames: ['reader'],
        registers: reg,
      }),
      hubFindings: new metrics.prom.Counter({
        name: 'imdsguard_hub_correlated_findings_total',
        help: 'Hub findings the correlator published',
        registers: reg,
      }),
    };
  }

  // A replay moves positions once, at start; a reload keeps them.
  let replayFrom = o.replayFrom;
  const replays = (reader: string) =>
    replayFrom !== undefined && (!o.replayReaders?.length || o.replayReaders.includes(reader));

  const startReaders = async (cfg: HubConfig): Promise<void> => {
    const h = cfg.raw.hub;
    if (h.dead_letter !== null) {
      // Before any reader can give up on a finding: a dead letter nobody keeps would be a finding lost.
      const stream = await ensureHubDeadStream(bus.jsm, h.dead_letter);
      o.log.info({ stream, subjects: `${h.dead_letter}.>` }, 'dead letters kept');
    }
    const common = {
      js: bus.js,
      batch: h.batch,
      maxDeliver: h.max_deliver,
      backoffMs: h.backoff_ms,
      deadLetter: h.dead_letter,
      log: o.log,
    };
    const consumerOpts = (reader: string, start: StartAt, forceReplay: boolean) => ({
      start: replays(reader) && replayFrom ? replayFrom : start,
      replay: replays(reader) || forceReplay,
      ackWaitMs: h.ack_wait_ms,
      maxAckPending: h.max_ack_pending,
    });
    if (cfg.raw.correlator.enabled) {
      const store = await openCorrelatorStore(cfg.raw.correlator.state);
      // A new state file: rebuild the correlator's memory from everything the stream still holds.
      const consumer = await ensureConsumer(
        bus.jsm,
        'correlator',
        consumerOpts('correlator', { kind: 'all' }, store.fresh),
      );
      if (store.fresh) o.log.info({ state: cfg.raw.correlator.state }, 'new correlator state: replaying the stream');
      const reader = correlatorReader({
        js: cfg.raw.correlator.publish ? bus.js : null,
        store,
        options: cfg.correlator,
        hostId: cfg.hostId,
        onFinding: (e) => {
          m?.hubFindings.inc();
          o.log.info({ rule: e.finding.rule.id, id: e.finding.id, severity: e.finding.severity }, e.finding.title);
        },
      });
      const w = new ConsumerWorker({
        ...common,
        reader: 'correlator',
        consumer,
        handle: (b) => reader.handle(b),
        counters: countersFor('correlator', m),
      });
      readers.set('correlator', { name: 'correlator', worker: w, store });
    }
    for (const s of cfg.raw.sinks) {
      const sink = await openHubSink(s, env);
      const consumer = await ensureConsumer(bus.jsm, s.name, consumerOpts(s.name, { kind: 'all' }, false));
      const w = new ConsumerWorker({
        ...common,
        reader: s.name,
        consumer,
        handle: (b) => sink.deliver(b),
        counters: countersFor(s.name, m),
      });
      readers.set(s.name, { name: s.name, worker: w, sink });
    }
    for (const r of readers.values()) r.worker.start();
    o.log.info({ readers: [...readers.keys()] }, 'hub readers started');
  };

  const stopReaders = async (): Promise<void> => {
    await Promise.all([...readers.values()].map((r) => r.worker.stop()));
    for (const r of readers.values()) {
      await r.sink?.close().catch((e: unknown) => o.log.warn({ reader: r.name, err: (e as Error).message }, 'close'));
      r.store?.close();
    }
    readers.clear();
  };

  try {
    await startReaders(config);
  } catch (e) {
    // A sink or stream that cannot be set up ends the start; nothing may keep the process alive after it.
    await stopReaders().catch(() => undefined);
    await metrics?.close();
    await bus.nc.close();
    throw e;
  }
  replayFrom = undefined;

  let reloading: Promise<void> = Promise.resolve();
  const reload = (): Promise<void> => {
    reloading = reloading.then(async () => {
      let next: HubConfig;
      try {
        next = loadHubConfig(o.configFile, env);
      } catch (e) {
        o.log.error({ err: (e as Error).message }, 'config reload failed; keeping the previous config');
        return;
      }
      await stopReaders();
      config = next;
      try {
        await startReaders(config);
        o.log.info({ sinks: config.raw.sinks.length }, 'config reloaded');
      } catch (e) {
        o.log.error({ err: (e as Error).message }, 'config reload: cannot start readers');
      }
    });
    return reloading;
  };
  const onHup = () => {
    void reload();
  };
  process.on('SIGHUP', onHup);
  o.onReady?.({ metricsPort: metrics?.port, readers: () => [...readers.keys()], reload });

  const stop =
    o.until ??
    new Promise<void>((resolve) => {
      process.once('SIGTERM', () => resolve());
      process.once('SIGINT', () => resolve());
    });
  await stop;
  process.off('SIGHUP', onHup);
  await reloading;
  await stopReaders();
  await bus.nc.drain().catch(() => bus.nc.close());
  await metrics?.close();
  o.log.info('imdsguard hub stopped');
}
