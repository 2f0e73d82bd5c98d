/**
 * A webhook: POST {"findings":[…]} as JSON, signed. `X-Imdsguard-Timestamp` carries Unix seconds and
 * `X-Imdsguard-Signature` is `sha256=` + hex HMAC-SHA256(secret, timestamp + "." + body), so the receiver can
 * check both origin and freshness (reject old timestamps to stop replays). 2xx delivers the batch; 408, 429 and
 * 5xx retry it; other answers refuse it.
 */
import { createHmac } from 'node:crypto';
import { type Payload, payloadDocument } from '../documents.ts';
import { type Delivery, type DeliveryResult, type HubSink, OK, refused, retry, retryableStatus } from '../sink.ts';
import { post } from './http-post.ts';

export interface WebhookConfig {
  name: string;
  url: string;
  secret: string;
  payload: Payload;
  timeoutMs: number;
  ca?: Buffer;
  insecure?: boolean;
}

export function webhookSignature(secret: string, timestamp: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(timestamp).update('.').update(body).digest('hex')}`;
}

export function webhookSink(c: WebhookConfig, nowMs: () => number = Date.now): HubSink {
  const url = new URL(c.url);
  return {
    name: c.name,
    type: 'webhook',
    async deliver(batch: readonly Delivery[]): Promise<DeliveryResult[]> {
      const now = nowMs();
      const body = JSON.stringify({ findings: batch.map((d) => payloadDocument(c.payload, d.envelope, now)) });
      const ts = String(Math.floor(now / 1000));
      const r = await post(
        url,
        body,
        {
          'content-type': 'application/json',
          'x-imdsguard-timestamp': ts,
          'x-imdsguard-signature': webhookSignature(c.secret, ts, body),
        },
        { timeoutMs: c.timeoutMs, ...(c.ca ? { ca: c.ca } : {}), rejectUnauthorized: !c.insecure },
      );
      if (r.status >= 200 && r.status < 300) return batch.map(() => OK);
      const why = `webhook ${r.status}`;
      return batch.map(() => (retryableStatus(r.status) ? retry(why) : refused(why)));
    },
    async close() {},
  };
}
