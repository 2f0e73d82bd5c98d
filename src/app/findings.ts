/**
 * `imdsguard findings`: read the findings store (what the hub, or a single-machine setup, stored from the bus) and
 * write the matching findings through the usual sinks. Each finding is printed as the output contract has it, with
 * a `fleet` object saying which host and sensor reported it.
 */
import { type FindingQuery, FindingStore } from '../adapters/fleet/finding-store.ts';
import type { FindingSink } from '../core/ports.ts';

export interface FindingsRun {
  store: string;
  query: FindingQuery;
  sink: FindingSink;
}

/** Returns how many findings were written and how many matched before --limit. */
export async function runFindings(o: FindingsRun): Promise<{ written: number; total: number }> {
  const store = new FindingStore(o.store, { readonly: true });
  try {
    const { rows, total } = store.query(o.query);
    for (const r of rows) {
      const e = r.envelope;
      await o.sink.write({
        ...e.finding,
        fleet: {
          host: e.host,
          source: e.source,
          account: e.account,
          region: e.region,
          sent_at: e.sent_at,
          received_at: new Date(r.receivedMs).toISOString(),
        },
      });
    }
    return { written: rows.length, total };
  } finally {
    store.close();
  }
}
