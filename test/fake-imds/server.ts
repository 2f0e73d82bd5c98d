/**
 * Mount the fake metadata handlers on a real HTTP server: in-process as a request listener, or listening on an
 * address (127.0.0.1:0 by default; the real metadata address only inside a network namespace a test created).
 */
import { createServer, type IncomingMessage, type RequestListener, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createFakeImds, type FakeImdsOptions, type FakeRequest, type FakeResponse } from './handlers.ts';

/** What the fake saw, so tests can assert what reached the "metadata service". */
export interface SeenRequest {
  method: string;
  target: string;
  headers: Record<string, string>;
  remoteAddress: string | undefined;
  status: number;
}

export interface FakeImdsServerOptions extends FakeImdsOptions {
  /** Wait this long before answering (slow upstream). */
  delayMs?: number;
}

function toFakeRequest(req: IncomingMessage): FakeRequest & { headers: Record<string, string> } {
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers)) {
    if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(', ') : v;
  }
  return { method: req.method ?? 'GET', target: req.url ?? '/', headers };
}

/** A request listener plus the log of what it answered. */
export function fakeImdsListener(options: FakeImdsServerOptions = {}): {
  listener: RequestListener;
  seen: SeenRequest[];
  handle: (req: FakeRequest) => FakeResponse;
} {
  const handle = createFakeImds(options);
  const seen: SeenRequest[] = [];
  const listener: RequestListener = (req: IncomingMessage, res: ServerResponse) => {
    // Drain any body first: the real services ignore it, and answering early would reset keep-alive sockets.
    req.resume();
    req.on('end', () => {
      const fr = toFakeRequest(req);
      const out = handle(fr);
      seen.push({ ...fr, remoteAddress: req.socket.remoteAddress, status: out.status });
      const send = () => {
        res.writeHead(out.status, { ...out.headers, 'content-length': Buffer.byteLength(out.body) });
        res.end(req.method === 'HEAD' ? undefined : out.body);
      };
      if (options.delayMs) setTimeout(send, options.delayMs);
      else send();
    });
  };
  return { listener, seen, handle };
}

export interface RunningFakeImds {
  server: Server;
  host: string;
  port: number;
  /** http://host:port (IPv6 in brackets). */
  url: string;
  seen: SeenRequest[];
  close(): Promise<void>;
}

/** Listen on host:port (default 127.0.0.1:0) and resolve once listening. */
export async function startFakeImds(
  options: FakeImdsServerOptions & { host?: string; port?: number } = {},
): Promise<RunningFakeImds> {
  const { listener, seen } = fakeImdsListener(options);
  const server = createServer({ keepAliveTimeout: 5000 }, listener);
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const url = host.includes(':') ? `http://[${host}]:${port}` : `http://${host}:${port}`;
  return {
    server,
    host,
    port,
    url,
    seen,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
