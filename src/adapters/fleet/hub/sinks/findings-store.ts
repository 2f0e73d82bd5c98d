/**
 * The findings store (SQLite) that `imdsguard findings` and `investigate --store` read: one row per finding and
 * host, upserted by message id, so a redelivered or replayed finding rewrites its own row and never adds one.
 */
import { FindingStore } from '../../finding-store.ts';
import type { Delivery, DeliveryResult, HubSink } from '../sink.ts';
import { OK } from '../sink.ts';

export interface FindingsStoreConfig {
  name: string;
  path: string;
}

export function findingsStoreSink(c: FindingsStoreConfig, nowMs: () => number = Date.now): HubSink {
  const store = new FindingStore(c.path);
  return {
    name: c.name,
    type: 'findings-store',
    async deliver(batch: readonly Delivery[]): Promise<DeliveryResult[]> {
      // One transaction per batch: a batch is stored whole or not at all (then retried whole).
      store.upsertMany(
        batch.map((d) => d.envelope),
        nowMs(),
      );
      return batch.map(() => OK);
    },
    async close(): Promise<void> {
      store.close();
    },
  };
}
