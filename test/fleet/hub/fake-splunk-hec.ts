/**
 * A Splunk HTTP Event Collector as it answers on the wire: `Authorization: Splunk <token>` (401 code 4 otherwise),
 * events concatenated in the body, 400 with `invalid-event-number` for the first event it cannot take (the events
 * before it are indexed, as Splunk does), 503 "Server is busy" (code 9) and 429 on demand, and a delay to make it
 * slow.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface HecEvent {
  time?: number;
  host?: string;
  source?: string;
  sourcetype?: string;
  event: Record<string, unknown>;
}

export class FakeSplunkHec {
  readonly indexed: HecEvent[] = [];
  requests = 0;
  /** Statuses to answer to the next requests, one each (503, 429, 500). */
  failNext: number[] = [];
  /** Events the fake cannot parse (answers 400 code 6 for the first one in a batch). */
  refuse: (e: HecEvent) => boolean = () => false;
  delayMs = 0;
  private server!: Server;
  port = 0;

  readonly token: string;
  constructor(token: string) {
    this.token = token;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', async () => {
        this.requests++;
        if (this.delayMs > 0) await new Promise((r) => setTimeout(r, this.delayMs));
        const answer = (status: number, body: Record<string, unknown>) => {
          res.writeHead(status, { 'content-type': 'application/json' });
          res.end(JSON.stringify(body));
        };
        if (req.method !== 'POST' || req.url !== '/services/collector/event')
          return answer(404, { text: 'The requested URL was not found on this server.', code: 404 });
        if (req.headers.authorization !== `Splunk ${this.token}`)
          return answer(401, { text: 'Invalid token', code: 4 });
        const fail = this.failNext.shift();
        if (fail === 503) return answer(503, { text: 'Server is busy', code: 9 });
        if (fail !== undefined) return answer(fail, { text: 'Internal server error', code: 8 });
        // Events are JSON objects one after another; the sink writes one per line.
        const lines = Buffer.concat(chunks).toString('utf8').split('\n').filter(Boolean);
        for (let i = 0; i < lines.length; i++) {
          let e: HecEvent;
          try {
            e = JSON.parse(lines[i]!) as HecEvent;
          } catch {
            return answer(400, { text: 'Invalid data format', code: 6, 'invalid-event-number': i });
          }
          if (e.event === undefined)
            return answer(400, { text: 'Event field is required', code: 12, 'invalid-event-number': i });
          if (this.refuse(e)) return answer(400, { text: 'Invalid data format', code: 6, 'invalid-event-number': i });
          this.indexed.push(e);
        }
        answer(200, { text: 'Success', code: 0 });
      });
    });
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.port = (this.server.address() as AddressInfo).port;
  }

  close(): Promise<void> {
    return new Promise((r) => {
      this.server.close(() => r());
      this.server.closeAllConnections();
    });
  }
}
