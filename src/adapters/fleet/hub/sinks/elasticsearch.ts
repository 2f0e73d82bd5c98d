/**
 * Elasticsearch / OpenSearch `_bulk`: one `create` per finding with `_id` = its message id, so a redelivered
 * finding answers 409 and counts as already delivered (idempotent across hub restarts). Items are judged one by
 * one: 429 and 5xx items are retried, other refusals (mapping errors) go to the dead letters.
 */
import { ecsDocument, ocsfDocument, type Payload } from '../documents.ts';
import { type Delivery, type DeliveryResult, type HubSink, OK, refused, retry, retryableStatus } from '../sink.ts';
import { post } from './http-post.ts';

export interface ElasticsearchConfig {
  name: string;
  url: string;
  index: string;
  /** 'finding' writes ECS (with the finding under `imdsguard`); 'ocsf' writes OCSF 2004. */
  payload: Payload;
  apiKey?: string;
  username?: string;
  password?: string;
  timeoutMs: number;
  ca?: Buffer;
  insecure?: boolean;
}

interface BulkItem {
  status: number;
  error?: { type?: string; reason?: string };
}

export function elasticsearchSink(c: ElasticsearchConfig, nowMs: () => number = Date.now): HubSink {
  const url = new URL('/_bulk', c.url);
  const auth = c.apiKey
    ? `ApiKey ${c.apiKey}`
    : c.username
      ? `Basic ${Buffer.from(`${c.username}:${c.password ?? ''}`).toString('base64')}`
      : undefined;
  return {
    name: c.name,
    type: 'elasticsearch',
    async deliver(batch: readonly Delivery[]): Promise<DeliveryResult[]> {
      const now = nowMs();
      let body = '';
      for (const d of batch) {
        const doc = c.payload === 'ocsf' ? ocsfDocument(d.envelope, now) : ecsDocument(d.envelope, now);
        body += `${JSON.stringify({ create: { _index: c.index, _id: d.id } })}\n${JSON.stringify(doc)}\n`;
      }
      const r = await post(
        url,
        body,
        { 'content-type': 'application/x-ndjson', ...(auth ? { authorization: auth } : {}) },
        { timeoutMs: c.timeoutMs, ...(c.ca ? { ca: c.ca } : {}), rejectUnauthorized: !c.insecure },
      );
      if (r.status < 200 || r.status >= 300) {
        const why = `_bulk ${r.status}: ${r.body.slice(0, 200)}`;
        return batch.map(() =>
          retryableStatus(r.status) || r.status === 401 || r.status === 403 ? retry(why) : refused(why),
        );
      }
      let items: BulkItem[];
      try {
        const answer = JSON.parse(r.body) as { items?: Array<Record<string, BulkItem>> };
        items = (answer.items ?? []).map((i) => i.create ?? Object.values(i)[0]!);
      } catch {
        return batch.map(() => retry('_bulk answered something other than JSON'));
      }
      if (items.length !== batch.length)
        return batch.map(() => retry(`_bulk answered ${items.length} items of ${batch.length}`));
      return items.map((it) => {
        if ((it.status >= 200 && it.status < 300) || it.status === 409) return OK;
        const why = `_bulk item ${it.status} ${it.error?.type ?? ''}: ${it.error?.reason ?? ''}`.trim();
        return retryableStatus(it.status) ? retry(why) : refused(why);
      });
    },
    async close() {},
  };
}
