/**
 * Splunk HTTP Event Collector: POST /services/collector/event, `Authorization: Splunk <token>`, events
 * concatenated in one body. Splunk indexes the events of a batch before the first one it cannot parse and answers
 * 400 with `invalid-event-number`: those before it count as delivered, that one is refused, the rest retried.
 * 429 and 5xx (503 "server is busy") retry the whole batch.
 */
import type { Payload } from '../documents.ts';
import { eventMs, payloadDocument } from '../documents.ts';
import { type Delivery, type DeliveryResult, type HubSink, OK, refused, retry, retryableStatus } from '../sink.ts';
import { post } from './http-post.ts';

export interface SplunkHecConfig {
  name: string;
  url: string;
  token: string;
  index?: string;
  sourcetype?: string;
  payload: Payload;
  timeoutMs: number;
  ca?: Buffer;
  insecure?: boolean;
}

export function splunkHecSink(c: SplunkHecConfig, nowMs: () => number = Date.now): HubSink {
  const url = new URL('/services/collector/event', c.url);
  return {
    name: c.name,
    type: 'splunk-hec',
    async deliver(batch: readonly Delivery[]): Promise<DeliveryResult[]> {
      const now = nowMs();
      const body = batch
        .map(({ envelope: e }) =>
          JSON.stringify({
            time: eventMs(e, now) / 1000,
            host: e.host.name ?? e.host.id,
            source: `imdsguard:${e.source}`,
            sourcetype: c.sourcetype ?? (c.payload === 'ocsf' ? 'imdsguard:ocsf' : 'imdsguard:finding'),
            ...(c.index ? { index: c.index } : {}),
            event: payloadDocument(c.payload, e, now),
          }),
        )
        .join('\n');
      const r = await post(
        url,
        body,
        { authorization: `Splunk ${c.token}`, 'content-type': 'application/json' },
        { timeoutMs: c.timeoutMs, ...(c.ca ? { ca: c.ca } : {}), rejectUnauthorized: !c.insecure },
      );
      if (r.status >= 200 && r.status < 300) return batch.map(() => OK);
      let answer: { text?: string; code?: number; 'invalid-event-number'?: number } = {};
      try {
        answer = JSON.parse(r.body);
      } catch {
        // Not HEC's JSON: a proxy in between. The status decides.
      }
      const why = `HEC ${r.status}${answer.text ? ` ${answer.text}` : ''}${answer.code !== undefined ? ` (code ${answer.code})` : ''}`;
      const bad = answer['invalid-event-number'];
      if (r.status === 400 && typeof bad === 'number' && bad >= 0 && bad < batch.length)
        return batch.map((_, i) => (i < bad ? OK : i === bad ? refused(why) : retry(`after a refused event: ${why}`)));
      // 401/403 (token) and 404 (wrong URL, HEC disabled) are the operator's to fix: keep retrying, never drop data.
      if (retryableStatus(r.status) || r.status === 401 || r.status === 403 || r.status === 404)
        return batch.map(() => retry(why));
      return batch.map(() => refused(why));
    },
    async close() {},
  };
}
