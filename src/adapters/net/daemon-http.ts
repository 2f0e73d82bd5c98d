import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ImdsguardError } from '../../core/errors.ts';

/** prom-client, loaded only by the daemons that serve metrics. */
export type PromClient = typeof import('prom-client');
export type PromRegistry = import('prom-client').Registry;

/** What /healthz and /readyz report. `ok: false` answers 503. */
export interface HealthStatus {
  ok: boolean;
  /** Extra detail for operators (sensor in use, drops, …). Must hold no secret. */
  detail?: Record<string, unknown>;
}

export interface DaemonHttpOptions {
  /** TCP port on 127.0.0.1; 0 picks a free one (tests). */
  port: number;
  /** Loopback only: metrics describe the host's callers, so they are never exposed beyond it. */
  host?: '127.0.0.1' | '::1';
  /** Liveness/readiness; defaults to always ok. */
  health?: () => HealthStatus;
  /** Reported on /version. */
  version?: string;
  /** Also export Node process metrics (CPU, RSS, event loop lag). Default true. */
  processMetrics?: boolean;
  /**
   * How often the event-loop delay is sampled, in ms (prom-client's default, 10, wakes the process 100 times a
   * second, which is most of an idle daemon's CPU). Default 10.
   */
  eventLoopResolutionMs?: number;
  /** Metric name prefix for process metrics. Default `imdsguard_`. */
  prefix?: string;
}

/** A running /metrics + /healthz server. Callers register their own metrics on `registry` through `prom`. */
export interface DaemonHttp {
  readonly port: number;
  readonly prom: PromClient;
  readonly registry: PromRegistry;
  close(): Promise<void>;
}

function send(res: ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
  res.end(body);
}

/**
 * Start the daemon's local HTTP endpoint: `/metrics` (Prometheus text), `/healthz`, `/readyz`, `/version`.
 * prom-client is imported here, lazily, so that commands which do not serve metrics never load it.
 * @example const http = await startDaemonHttp({ port: 9464, health: () => ({ ok: true }) });
 */
export async function startDaemonHttp(opts: DaemonHttpOptions): Promise<DaemonHttp> {
  const host = opts.host ?? '127.0.0.1';
  if (host !== '127.0.0.1' && host !== '::1') {
    throw new ImdsguardError('E_CONFIG', `Metrics listen on loopback only, not "${String(host)}"`);
  }
  const prom: PromClient = await import('prom-client');
  const registry = new prom.Registry();
  if (opts.processMetrics !== false)
    prom.collectDefaultMetrics({
      register: registry,
      prefix: opts.prefix ?? 'imdsguard_',
      eventLoopMonitoringPrecision: opts.eventLoopResolutionMs ?? 10,
    });
  const health: () => HealthStatus = opts.health ?? (() => ({ ok: true }));

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('allow', 'GET, HEAD');
      send(res, 405, 'text/plain; charset=utf-8', 'method not allowed\n');
      return;
    }
    const path = (req.url ?? '/').split('?')[0];
    switch (path) {
      case '/metrics':
        send(res, 200, registry.contentType, await registry.metrics());
        return;
      case '/healthz':
      case '/readyz': {
        const h = health();
        send(
          res,
          h.ok ? 200 : 503,
          'application/json',
          `${JSON.stringify({ status: h.ok ? 'ok' : 'unhealthy', ...h.detail })}\n`,
        );
        return;
      }
      case '/version':
        send(res, 200, 'application/json', `${JSON.stringify({ version: opts.version ?? 'unknown' })}\n`);
        return;
      default:
        send(res, 404, 'text/plain; charset=utf-8', 'not found\n');
    }
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      if (!res.headersSent)
        send(res, 500, 'text/plain; charset=utf-8', `${e instanceof Error ? e.message : String(e)}\n`);
      else res.destroy();
    });
  });
  // Scrapers keep connections alive; do not let them hold the daemon open at shutdown.
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) =>
      reject(
        new ImdsguardError('E_CONFIG', `Cannot listen on ${host}:${opts.port} for metrics: ${e.code ?? e.message}`, {
          cause: e,
        }),
      ),
    );
    server.listen(opts.port, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    prom,
    registry,
    close() {
      return new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
