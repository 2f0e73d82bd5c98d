/**
 * The correlator as a reader of the stream: observe each envelope, publish the hub findings it completes back on
 * the bus (source 'hub', Nats-Msg-Id from the contract, so a replay republishes nothing new), store the state, and
 * only then let the batch be acknowledged.
 */
import type { JetStreamClient } from '@nats-io/jetstream';
import {
  encodeEnvelope,
  envelopeMsgId,
  FLEET_CONTRACT_VERSION,
  type FleetEnvelope,
  findingSubject,
} from '../../../core/fleet/contract.ts';
import {
  boundCorrelatorState,
  type CorrelatorOptions,
  type CorrelatorState,
  correlate,
} from '../../../core/fleet/correlate.ts';
import type { Finding } from '../../../core/model/finding.ts';
import type { CorrelatorStore } from './correlator-store.ts';
import { type Delivery, type DeliveryResult, OK } from './sink.ts';

export interface CorrelatorReader {
  handle(batch: readonly Delivery[]): Promise<DeliveryResult[]>;
  /** Hub findings published so far by this process. */
  readonly published: number;
}

export function hubEnvelope(f: Finding, cause: FleetEnvelope, hostId: string, nowMs: number): FleetEnvelope {
  return {
    v: FLEET_CONTRACT_VERSION,
    source: 'hub',
    host: { id: hostId },
    account: cause.account,
    region: cause.region,
    sent_at: new Date(nowMs).toISOString(),
    finding: f,
  };
}

export function correlatorReader(o: {
  js: JetStreamClient | null;
  store: CorrelatorStore;
  options: CorrelatorOptions;
  hostId: string;
  nowMs?: () => number;
  onFinding?: (e: FleetEnvelope) => void;
}): CorrelatorReader {
  let state: CorrelatorState = o.store.load();
  let published = 0;
  const now = o.nowMs ?? Date.now;
  return {
    get published() {
      return published;
    },
    async handle(batch) {
      const out: FleetEnvelope[] = [];
      for (const d of batch)
        for (const f of correlate(state, d.envelope, o.options)) out.push(hubEnvelope(f, d.envelope, o.hostId, now()));
      try {
        for (const e of out) {
          if (o.js)
            await o.js.publish(findingSubject({ ...e, severity: e.finding.severity }), encodeEnvelope(e), {
              msgID: envelopeMsgId(e),
              timeout: 5_000,
            });
          o.onFinding?.(e);
          published++;
        }
        boundCorrelatorState(state, o.options);
        o.store.save(state);
      } catch (err) {
        // Go back to the last stored state, so that the redelivered batch produces these findings again.
        state = o.store.load();
        throw err;
      }
      return batch.map(() => OK);
    },
  };
}
