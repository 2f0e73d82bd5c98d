/**
 * Elasticsearch's `_bulk` as it answers: NDJSON action/document pairs, `create` refusing an existing `_id` with
 * 409 version_conflict_engine_exception, per-item 429 es_rejected_execution_exception and 400
 * mapper_parsing_exception on demand, whole-request 429/503 on demand, `errors: true` whenever an item failed.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

interface Item {
  _index: string;
  _id: string;
  status: number;
  error?: { type: string; reason: string };
  result?: string;
}

export class FakeElasticsearch {
  /** index → _id → document */
  readonly docs = new Map<string, Map<string, Record<string, unknown>>>();
  requests = 0;
  conflicts = 0;
  failNext: number[] = [];
  /** _id → how many more times that item is rejected with 429. */
  readonly busyItems = new Map<string, number>();
  /** Documents refused for good (a mapping error). */
  reject: (doc: Record<string, unknown>) => boolean = () => false;
  delayMs = 0;
  private server!: Server;
  port = 0;

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  count(index: string): number {
    return this.docs.get(index)?.size ?? 0;
  }

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', async () => {
        this.requests++;
        if (this.delayMs > 0) await new Promise((r) => setTimeout(r, this.delayMs));
        const answer = (status: number, body: unknown) => {
          res.writeHead(status, { 'content-type': 'application/json' });
          res.end(JSON.stringify(body));
        };
        if (req.method !== 'POST' || req.url !== '/_bulk')
          return answer(404, { error: { type: 'no_handler' }, status: 404 });
        if (!String(req.headers['content-type']).startsWith('application/x-ndjson'))
          return answer(406, { error: 'Content-Type header is not supported', status: 406 });
        const fail = this.failNext.shift();
        if (fail !== undefined)
          return answer(fail, {
            error: { type: fail === 429 ? 'es_rejected_execution_exception' : 'unavailable' },
            status: fail,
          });
        const lines = Buffer.concat(chunks).toString('utf8').split('\n').filter(Boolean);
        if (lines.length % 2 !== 0)
          return answer(400, {
            error: { type: 'illegal_argument_exception', reason: 'The bulk request must be terminated by a newline' },
            status: 400,
          });
        const items: Array<{ create: Item }> = [];
        for (let i = 0; i < lines.length; i += 2) {
          const action = JSON.parse(lines[i]!) as { create?: { _index: string; _id: string } };
          const doc = JSON.parse(lines[i + 1]!) as Record<string, unknown>;
          if (!action.create) return answer(400, { error: { type: 'illegal_argument_exception' }, status: 400 });
          const { _index, _id } = action.create;
          const idx = this.docs.get(_index) ?? new Map();
          this.docs.set(_index, idx);
          const busy = this.busyItems.get(_id) ?? 0;
          if (busy > 0) {
            this.busyItems.set(_id, busy - 1);
            items.push({
              create: {
                _index,
                _id,
                status: 429,
                error: { type: 'es_rejected_execution_exception', reason: 'rejected execution' },
              },
            });
          } else if (this.reject(doc)) {
            items.push({
              create: {
                _index,
                _id,
                status: 400,
                error: { type: 'mapper_parsing_exception', reason: 'failed to parse' },
              },
            });
          } else if (idx.has(_id)) {
            this.conflicts++;
            items.push({
              create: {
                _index,
                _id,
                status: 409,
                error: {
                  type: 'version_conflict_engine_exception',
                  reason: `[${_id}]: version conflict, document already exists`,
                },
              },
            });
          } else {
            idx.set(_id, doc);
            items.push({ create: { _index, _id, status: 201, result: 'created' } });
          }
        }
        answer(200, { took: 1, errors: items.some((i) => i.create.status >= 300), items });
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
