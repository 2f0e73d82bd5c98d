/**
 * `imdsguard proxy`: load the policy, start caller attribution, the listeners and the record sink; reload the
 * policy on SIGHUP; stop cleanly on SIGTERM/SIGINT.
 */

import { readFileSync } from 'node:fs';
import type { Logger } from 'pino';
import { Attributor } from '../adapters/net/caller/attribute.ts';
import type { DaemonHttp } from '../adapters/net/daemon-http.ts';
import { type ListenSpec, type RunningProxy, startProxyServer } from '../adapters/net/proxy-server.ts';
import { jsonlSink } from '../adapters/sinks/jsonl.ts';
import { ocsfSink } from '../adapters/sinks/ocsf.ts';
import { openSink, type SinkFormat } from '../adapters/sinks/open-sink.ts';
import { openSyncFileOutput } from '../adapters/sinks/sync-file-output.ts';
import { VERSION } from '../adapters/version.ts';
import { ImdsguardError } from '../core/errors.ts';
import { parsePolicy } from '../core/policy/load.ts';
import { type ProxyOutcome, proxyEvent, proxyFinding } from '../core/policy/records.ts';
import type { Policy } from '../core/policy/types.ts';
import type { PublishSettings } from './fleet-publishing.ts';

/** One listener per endpoint: the port tells the proxy which endpoint a redirected client dialled. */
export const DEFAULT_LISTENERS: ReadonlyArray<{ listen: string; upstream: string }> = [
  { listen: '0.0.0.0:8169', upstream: 'http://169.254.169.254' }, // EC2, GCE, Azure, OCI (shared address)
  { listen: '[::]:8170', upstream: 'http://[fd00:ec2::254]' }, // EC2 IPv6
  { listen: '0.0.0.0:8171', upstream: 'http://169.254.170.2' }, // ECS task metadata and credentials
  { listen: '0.0.0.0:8172', upstream: 'http://169.254.170.23' }, // EKS Pod Identity
  { listen: '[::]:8173', upstream: 'http://[fd00:ec2::23]' }, // EKS Pod Identity IPv6
];

/** "0.0.0.0:8169" / "[::1]:8170" → host and port. */
export function parseListen(s: string): { host: string; port: number } {
  const m = /^\[([0-9A-Fa-f:.]+)\]:(\d{1,5})$/.exec(s) ?? /^([0-9.]+):(\d{1,5})$/.exec(s);
  const port = m ? Number(m[2]) : Number.NaN;
  if (!m || port > 65535)
    throw new ImdsguardError('E_USAGE', `Cannot parse listen address "${s}" (expected ADDR:PORT or [V6]:PORT)`);
  return { host: m[1]!, port };
}

/** Listener specs from flags (paired by position), else the policy file, else the defaults. */
export function resolveListeners(listen: string[], upstream: string[], policy?: Policy): ListenSpec[] {
  if (listen.length !== upstream.length) {
    throw new ImdsguardError(
      'E_USAGE',
      `Give one --upstream per --listen (got ${listen.length} --listen and ${upstream.length} --upstream)`,
    );
  }
  const pairs =
    listen.length > 0
      ? listen.map((l, i) => ({ listen: l, upstream: upstream[i]! }))
      : (policy?.listeners ?? DEFAULT_LISTENERS);
  return pairs.map((p) => {
    try {
      new URL(p.upstream);
    } catch {
      throw new ImdsguardError('E_USAGE', `Invalid upstream URL "${p.upstream}"`);
    }
    return { ...parseListen(p.listen), upstream: p.upstream };
  });
}

export function loadPolicyFile(path: string): Policy {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new ImdsguardError('E_CONFIG', `Cannot read policy "${path}": ${(e as Error).message}`, { cause: e });
  }
  return parsePolicy(text, path);
}

/**
 * The record sink. A file given with -o in a line format (jsonl, ocsf) gets one synchronous append per record, so
 * that each record is in the file as soon as it is written (the output contract), at a few microseconds of page-cache
 * write: far cheaper per request than a WriteStream. Anything else goes through openSink.
 */
async function openProxySink(format: SinkFormat | undefined, output: string | undefined) {
  if (output && output !== '-' && (format === undefined || format === 'jsonl' || format === 'ocsf')) {
    const out = openSyncFileOutput(output);
    return format === 'ocsf' ? ocsfSink(out, { version: VERSION }, Date.now) : jsonlSink(out);
  }
  return openSink(format, output);
}

export interface ProxyRunOptions {
  policyFile: string;
  listen: string[];
  upstream: string[];
  format?: SinkFormat;
  output?: string;
  metricsPort?: number;
  hashExe: boolean;
  python: string | false;
  headersTimeoutMs?: number;
  upstreamTimeoutMs?: number;
  maxConnectionsPerPeer?: number;
  /** On SIGTERM/SIGINT, how long requests in flight may take to finish before they are cut off. */
  drainTimeoutMs?: number;
  log: Logger;
  /** --publish: findings also go to JetStream through the outbox. */
  publish?: PublishSettings;
  /** Resolves when the proxy should stop (signals); tests pass their own. */
  until?: Promise<void>;
  /** Told once listening (tests, readiness). */
  onReady?: (proxy: RunningProxy) => void;
}

/** The signals that stop the proxy gracefully; a second one ends it at once (src/cli/lifecycle.ts). */
export type StopSignal = 'SIGTERM' | 'SIGINT';

/** Default --drain-timeout-ms: the upstream timeout and a second, below the packaged unit's TimeoutStopSec (10 s). */
export const DEFAULT_DRAIN_TIMEOUT_MS = 6000;

/** Runs until stopped; resolves with the signal that stopped it. */
export async function runProxy(o: ProxyRunOptions): Promise<StopSignal | undefined> {
  let policy = loadPolicyFile(o.policyFile);
  const listeners = resolveListeners(o.listen, o.upstream, policy);
  const output = await openProxySink(o.format, o.output);
  const publishing = o.publish
    ? (await import('./fleet-publishing.ts')).FleetPublishing.start(o.publish, 'proxy', (m) => o.log.warn(m))
    : undefined;
  const sink = publishing ? publishing.tee(output) : output;
  const attributor = await Attributor.create({
    python: o.python,
    hashExe: o.hashExe || policy.needsExeHash,
    warn: (m) => o.log.warn(m),
  });
  let metrics: DaemonHttp | undefined;
  let counter: { inc(labels: Record<string, string>): void } | undefined;
  let histogram: { observe(labels: Record<string, string>, v: number): void } | undefined;
  if (o.metricsPort !== undefined) {
    const { startDaemonHttp } = await import('../adapters/net/daemon-http.ts');
    metrics = await startDaemonHttp({
      port: o.metricsPort,
      health: () => ({ ok: true, detail: { attribution: attributor.backend, listeners: listeners.length } }),
    });
    counter = new metrics.prom.Counter({
      name: 'imdsguard_proxy_requests_total',
      help: 'Requests handled by the metadata proxy',
      labelNames: ['decision', 'status'],
      registers: [metrics.registry],
    });
    histogram = new metrics.prom.Histogram({
      name: 'imdsguard_proxy_request_duration_seconds',
      help: 'Time from request to response end, inside the proxy',
      labelNames: ['decision'],
      buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
      registers: [metrics.registry],
    });
    publishing?.registerMetrics(metrics);
  }

  const onOutcome = (out: ProxyOutcome) => {
    counter?.inc({ decision: out.decision.action, status: String(out.status) });
    histogram?.observe({ decision: out.decision.action }, out.latencyMs / 1000);
    const write = (r: Record<string, unknown>) => {
      try {
        const p = sink.write(r);
        if (p) p.catch((e: unknown) => o.log.error({ err: e }, 'cannot write record'));
      } catch (e) {
        o.log.error({ err: e }, 'cannot write record');
      }
    };
    write(proxyEvent(out) as unknown as Record<string, unknown>);
    const f = proxyFinding(out);
    if (f) write(f as unknown as Record<string, unknown>);
  };

  const proxy = await startProxyServer({
    listeners,
    policy: () => policy,
    attribution: attributor,
    onOutcome,
    ...(o.headersTimeoutMs !== undefined ? { headersTimeoutMs: o.headersTimeoutMs } : {}),
    ...(o.upstreamTimeoutMs !== undefined ? { upstreamTimeoutMs: o.upstreamTimeoutMs } : {}),
    ...(o.maxConnectionsPerPeer !== undefined ? { maxConnectionsPerPeer: o.maxConnectionsPerPeer } : {}),
  });
  o.log.info(
    { listeners: proxy.addresses, attribution: attributor.backend, rules: policy.rules.length, metrics: metrics?.port },
    'imdsguard proxy listening',
  );

  const reload = () => {
    try {
      policy = loadPolicyFile(o.policyFile);
      o.log.info({ rules: policy.rules.length }, 'policy reloaded');
    } catch (e) {
      o.log.error({ err: (e as Error).message }, 'policy reload failed; keeping the previous policy');
    }
  };
  process.on('SIGHUP', reload);
  o.onReady?.(proxy);

  // Listening for these tells the CLI's lifecycle that the proxy handles them; once one arrived the handlers are
  // gone, so a second signal ends the process at once.
  const onSignal: Partial<Record<StopSignal, () => void>> = {};
  const stop: Promise<StopSignal | undefined> = o.until
    ? o.until.then(() => undefined)
    : new Promise<StopSignal>((resolve) => {
        for (const sig of ['SIGTERM', 'SIGINT'] as const) {
          onSignal[sig] = () => {
            for (const [other, h] of Object.entries(onSignal)) process.off(other, h);
            resolve(sig);
          };
          process.once(sig, onSignal[sig]);
        }
      });
  const signal = await stop;
  process.off('SIGHUP', reload);
  const drainMs = o.drainTimeoutMs ?? DEFAULT_DRAIN_TIMEOUT_MS;
  o.log.info(
    { signal, drain_timeout_ms: drainMs },
    'imdsguard proxy stopping: no new connections; requests in flight finish',
  );
  const { cut } = await proxy.close(drainMs);
  if (cut > 0)
    o.log.warn({ cut }, 'requests still in flight after the drain timeout were cut off (recorded as PROXY_STOPPED)');
  attributor.close();
  await metrics?.close();
  await sink.close();
  if (publishing) {
    const { stats, left } = await publishing.finish();
    o.log.info({ ...stats, left, outbox: o.publish?.outboxPath }, 'publishing stopped');
  }
  o.log.info('imdsguard proxy stopped');
  return signal;
}
