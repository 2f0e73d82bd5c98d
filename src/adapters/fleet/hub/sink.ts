import type { FleetEnvelope } from '../../../core/fleet/contract.ts';

/** One message handed to a reader: the envelope and its message id (the finding id bound to the host). */
export interface Delivery {
  id: string;
  envelope: FleetEnvelope;
}

/**
 * What became of one message. `retry: false` means the receiver refused it for good (a document it rejects): it
 * goes to the dead letters at once instead of being retried until max deliver.
 */
export type DeliveryResult = { ok: true } | { ok: false; retry: boolean; reason: string };

/** A destination of findings. `deliver` answers one result per message, in order; throwing retries them all. */
export interface HubSink {
  readonly name: string;
  readonly type: string;
  deliver(batch: readonly Delivery[]): Promise<DeliveryResult[]>;
  close(): Promise<void>;
}

export const OK: DeliveryResult = { ok: true };

export function retry(reason: string): DeliveryResult {
  return { ok: false, retry: true, reason };
}

export function refused(reason: string): DeliveryResult {
  return { ok: false, retry: false, reason };
}

/** HTTP answers worth trying again: the receiver is busy, rate-limiting or failing, not refusing the data. */
export function retryableStatus(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}
