import type { Logger } from 'pino';
import { type DaemonHttp, startDaemonHttp } from '../adapters/net/daemon-http.ts';
import { openSink, type SinkFormat } from '../adapters/sinks/open-sink.ts';
import { loadAllowlist } from '../adapters/sources/host/allowlist.ts';
import { type AttributedEvent, Attributor } from '../adapters/sources/host/attribute.ts';
import { PidTable } from '../adapters/sources/host/pid-table.ts';
import type { HostSensor, SensorEvent } from '../adapters/sources/host/sensor-event.ts';
import { JsonFileStore } from '../adapters/store/json-file-store.ts';
import { type BaselineState, learning, newBaseline } from '../core/correlate/imds-baseline.ts';
import { newEnumeration } from '../core/correlate/imds-enumeration.ts';
import { detectHost, type HostDetectionState } from '../core/correlate/imds-host-pipeline.ts';
import { newV2Sequence, type V2SequenceState } from '../core/correlate/imds-v2-sequence.ts';
import { ImdsguardError } from '../core/errors.ts';
import type { Finding } from '../core/model/finding.ts';
import { atLeast, type Severity } from '../core/model/severity.ts';
import type { FindingSink } from '../core/ports.ts';
import type { CallerPattern } from '../core/rules/imds-expected-callers.ts';
import { classifyHostEvent, processRecord } from '../core/rules/imds-host-event.ts';
import { type SensorName, selectSensors } from './agent-sensors.ts';
import type { PublishSettings } from './fleet-publishing.ts';

export interface AgentOptions {
  sensor: SensorName | 'auto';
  format?: SinkFormat;
  output?: string;
  stateDir: string;
  durationS?: number;
  events: boolean;
  metricsPort?: number;
  warmupS: number;
  allowlist?: string;
  auditLog: string;
  auditRule: boolean;
  procfsIntervalMs: number;
  failOn: Severity;
  /** Bound on events waiting for attribution; beyond it events are dropped and counted. */
  queueMax: number;
  version: string;
  log: Logger;
  /** --publish: findings also go to JetStream through the outbox. */
  publish?: PublishSettings;
  /** Called once the sensor is attached (tests, readiness). */
  onReady?: (sensor: string) => void;
}

/** A daemon record for one observed request (DESIGN output contract, `type: "event"`). */
function eventRecord(a: AttributedEvent, h: ReturnType<typeof classifyHostEvent>): Record<string, unknown> {
  const ev = a.event;
  const p = ev.process;
  return {
    type: 'event',
    time: ev.time,
    sensor: ev.origin.sensor,
    process: {
      ...processRecord(p),
      ...(p.containerRuntime ? { container_runtime: p.containerRuntime } : {}),
      ...(a.container?.podUid ? { pod_uid: a.container.podUid } : {}),
      ...(p.ancestors?.length ? { ancestors: p.ancestors } : {}),
    },
    destination: ev.destination,
    ...(ev.http
      ? {
          http: { method: ev.http.method, path: ev.http.path, token: ev.http.token, header_names: ev.http.headerNames },
        }
      : {}),
    provider: h.provider,
    service: h.service,
    ...(h.pathClass ? { path_class: h.pathClass } : {}),
    ...(h.imdsVersion ? { imds_version: h.imdsVersion } : {}),
    ...(ev.capture ? { capture: ev.capture.complete ? 'full' : 'partial' } : {}),
    ...(ev.capture?.gap ? { capture_gap: ev.capture.gap } : {}),
    ...(ev.preExisting ? { connection: 'pre-existing' } : {}),
    ...(ev.openedBy !== undefined ? { opened_by: { pid: ev.openedBy } } : {}),
  };
}

/** Findings repeat for a busy caller; report each id once per hour. Bounded. */
class Dedupe {
  private readonly seen = new Map<string, number>();
  fresh(id: string, nowMs: number): boolean {
    const last = this.seen.get(id);
    if (last !== undefined && nowMs - last < 3_600_000) return false;
    this.seen.delete(id);
    this.seen.set(id, nowMs);
    if (this.seen.size > 50_000) this.seen.delete(this.seen.keys().next().value as string);
    return true;
  }
}

/**
 * The host agent: sensor → bounded queue → attribution → catalogue → detections → sink. Returns the exit code:
 * 0 on SIGTERM (a daemon stopping as asked); after --duration, 1 when a finding reached --fail-on, else 0.
 */
export async function runAgent(o: AgentOptions): Promise<number> {
  const log = o.log;
  const store = new JsonFileStore(o.stateDir);
  await store.checkWritable();
  const nowMs = Date.now();
  const state: HostDetectionState = {
    baseline: (await store.get<BaselineState>('baseline')) ?? newBaseline(nowMs, o.warmupS * 1000),
    sequences: (await store.get<V2SequenceState>('sequences')) ?? newV2Sequence(),
    windows: newEnumeration(),
  };
  // A changed warm-up applies to the stored baseline too (e.g. --warmup 0 to alert at once).
  state.baseline.warmupMs = o.warmupS * 1000;
  let allow: CallerPattern[] = o.allowlist ? await loadAllowlist(o.allowlist) : [];

  const output: FindingSink = await openSink(o.format, o.output);
  const publishing = o.publish
    ? (await import('./fleet-publishing.ts')).FleetPublishing.start(o.publish, 'agent', (m) => log.warn(m))
    : undefined;
  const sink = publishing ? publishing.tee(output) : output;
  const stopPublishing = async () => {
    if (!publishing) return;
    const { stats, left } = await publishing.finish();
    log.info({ ...stats, left, outbox: o.publish?.outboxPath }, 'publishing stopped');
  };
  const pids = new PidTable();
  const attributor = new Attributor(pids);
  const counters = { events: 0, dropped: 0, findings: 0, worst: -1 };
  let failed = false;

  let http: DaemonHttp | undefined;
  let sensor: HostSensor | undefined;
  let ready = false;
  if (o.metricsPort !== undefined) {
    http = await startDaemonHttp({
      port: o.metricsPort,
      version: o.version,
      // The agent mostly waits: one event-loop delay sample a second keeps the metric without 100 wake-ups a second.
      eventLoopResolutionMs: 1000,
      health: () => ({
        ok: ready,
        detail: { sensor: sensor?.name ?? null, ...(sensor ? sensor.stats() : {}), dropped: counters.dropped },
      }),
    });
    log.info({ port: http.port }, 'metrics and health on 127.0.0.1');
    publishing?.registerMetrics(http);
  }
  const m = http
    ? {
        events: new http.prom.Counter({
          name: 'imdsguard_events_total',
          help: 'Metadata requests observed',
          labelNames: ['source'],
          registers: [http.registry],
        }),
        dropped: new http.prom.Counter({
          name: 'imdsguard_events_dropped_total',
          help: 'Events dropped because the queue was full',
          registers: [http.registry],
        }),
        alerts: new http.prom.Counter({
          name: 'imdsguard_alerts_total',
          help: 'Findings reported',
          labelNames: ['rule_id', 'severity'],
          registers: [http.registry],
        }),
        queue: new http.prom.Gauge({
          name: 'imdsguard_agent_queue_depth',
          help: 'Events waiting for attribution',
          registers: [http.registry],
        }),
        sensorStats: new http.prom.Gauge({
          name: 'imdsguard_sensor_stat',
          help: "The sensor's own counters (lost: records the kernel ring dropped; restarts; events; ...)",
          labelNames: ['sensor', 'stat'],
          registers: [http.registry],
          collect() {
            if (!sensor) return;
            for (const [k, v] of Object.entries(sensor.stats())) this.set({ sensor: sensor.name, stat: k }, v);
          },
        }),
      }
    : undefined;

  // Bounded queue between the sensor (synchronous, fast) and attribution (async /proc reads).
  const queue: SensorEvent[] = [];
  let wake: (() => void) | undefined;
  const push = (ev: SensorEvent) => {
    if (queue.length >= o.queueMax) {
      counters.dropped++;
      m?.dropped.inc();
      if (counters.dropped === 1 || counters.dropped % 10_000 === 0)
        log.warn({ dropped: counters.dropped }, 'event queue full; dropping events');
      return;
    }
    queue.push(ev);
    wake?.();
  };

  const dedupe = new Dedupe();
  const write = async (rec: Finding | Record<string, unknown>) => {
    try {
      await sink.write(rec);
    } catch (e) {
      failed = true;
      log.error({ err: (e as Error).message }, 'cannot write output');
    }
  };
  const handle = async (ev: SensorEvent) => {
    const a = await attributor.attribute(ev);
    const h = classifyHostEvent(a.event, a.timeMs, a.container?.cgroup);
    counters.events++;
    m?.events.inc({ source: ev.sensor });
    if (o.events) await write(eventRecord(a, h));
    const findings = detectHost(state, h, { allow });
    for (const f of findings) {
      if (!dedupe.fresh(f.id, a.timeMs)) continue;
      counters.findings++;
      m?.alerts.inc({ rule_id: f.rule.id, severity: f.severity });
      if (atLeast(f.severity, o.failOn)) counters.worst = 1;
      await write(f);
    }
  };

  let stopping = false;
  const worker = (async () => {
    for (;;) {
      const ev = queue.shift();
      if (ev) {
        m?.queue.set(queue.length);
        try {
          await handle(ev);
        } catch (e) {
          log.error({ err: (e as Error).message }, 'event handling failed');
        }
        continue;
      }
      if (stopping) return;
      await new Promise<void>((resolve) => {
        wake = resolve;
      });
      wake = undefined;
    }
  })();

  const persist = async () => {
    try {
      await store.put('baseline', state.baseline);
      await store.put('sequences', state.sequences);
    } catch (e) {
      log.error({ err: (e as Error).message }, 'cannot persist state');
    }
  };
  const persistTimer = setInterval(() => void persist(), 30_000);
  persistTimer.unref();

  // Signals are handled from here on, so that one arriving while the sensor starts still stops cleanly.
  type StopReason = 'signal' | 'sigint' | 'duration';
  let requestStop: (r: StopReason) => void = () => {};
  const stopRequested = new Promise<StopReason>((resolve) => {
    requestStop = resolve;
  });
  process.once('SIGTERM', () => requestStop('signal'));
  // Ctrl-C stops as cleanly as SIGTERM (audit rules removed, state saved), then exits 130.
  process.once('SIGINT', () => requestStop('sigint'));
  process.on('SIGHUP', () => {
    if (!o.allowlist) {
      log.info({}, 'SIGHUP: no allowlist configured');
      return;
    }
    loadAllowlist(o.allowlist).then(
      (a) => {
        allow = a;
        log.info({ entries: a.length, file: o.allowlist }, 'SIGHUP: allowlist reloaded');
      },
      (e: Error) => log.error({ err: e.message }, 'SIGHUP: allowlist not reloaded, keeping the previous one'),
    );
  });

  const candidates = await selectSensors(o, pids);
  for (const [i, c] of candidates.entries()) {
    log.info({ sensor: c.sensor.name, reason: c.reason, sees: c.sees }, `using sensor ${c.sensor.name}: ${c.reason}`);
    try {
      await c.sensor.start(push, log);
      sensor = c.sensor;
      break;
    } catch (e) {
      await c.sensor.stop().catch(() => undefined);
      if (i === candidates.length - 1) {
        clearInterval(persistTimer);
        stopping = true;
        wake?.();
        await http?.close();
        await sink.close();
        await stopPublishing();
        throw e;
      }
      log.warn(
        { sensor: c.sensor.name, err: (e as Error).message },
        `sensor ${c.sensor.name} failed to start; trying the next one`,
      );
    }
  }
  if (!sensor) throw new ImdsguardError('E_SENSOR', 'No sensor could start');
  ready = true;
  log.info(
    {
      sensor: (sensor as HostSensor).name,
      learning: learning(state.baseline, Date.now()),
      baseline_entries: Object.keys(state.baseline.entries).length,
    },
    'agent ready',
  );
  o.onReady?.((sensor as HostSensor).name);

  const durationTimer =
    o.durationS !== undefined ? setTimeout(() => requestStop('duration'), o.durationS * 1000) : undefined;
  const reason = await stopRequested;
  clearTimeout(durationTimer);
  log.info({ reason }, 'stopping');
  const active: HostSensor = sensor;
  await active.stop();
  stopping = true;
  wake?.();
  await worker;
  clearInterval(persistTimer);
  await persist();
  await sink.close();
  await http?.close();
  await stopPublishing();
  log.info({ ...counters, sensor: active.stats() }, 'agent stopped');
  if (failed) throw new ImdsguardError('E_SINK_IO', 'Some records could not be written');
  if (reason === 'signal') return 0;
  if (reason === 'sigint') return 130;
  return counters.worst > 0 ? 1 : 0;
}
