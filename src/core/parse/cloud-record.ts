import { azureActivityToCall } from './cloud-azure-activity.ts';
import type { CloudCall } from './cloud-call.ts';
import { gcpAuditToCall } from './cloud-gcp-audit.ts';
import { cloudTrailToCall } from './cloudtrail.ts';

type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj | undefined =>
  v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : undefined;

/**
 * Unwrap what log shippers put around a record: EventBridge `detail`, Elasticsearch `_source`, a `message` string
 * holding the JSON, a nested trail document `{"Records":[…]}`. Returns the records inside (usually one).
 */
export function unwrapRecord(v: unknown, depth = 0): Obj[] {
  const o = obj(v);
  if (!o || depth > 3) return [];
  for (const k of ['Records', 'records', 'entries']) {
    const a = o[k];
    if (Array.isArray(a)) return a.flatMap((x) => unwrapRecord(x, depth + 1));
  }
  const detail = obj(o.detail);
  if (detail && typeof o['detail-type'] === 'string') return unwrapRecord(detail, depth + 1);
  const src = obj(o._source);
  if (src) return unwrapRecord(src, depth + 1);
  if (
    typeof o.message === 'string' &&
    o.message.startsWith('{') &&
    o.eventVersion === undefined &&
    o.protoPayload === undefined
  ) {
    try {
      return unwrapRecord(JSON.parse(o.message), depth + 1);
    } catch {
      return [o];
    }
  }
  return [o];
}

/** Any supported audit record → `CloudCall` (CloudTrail, Cloud Audit Logs, Azure Activity Log), or undefined. */
export function toCloudCall(r: Obj, where: { file?: string; line?: number } = {}): CloudCall | undefined {
  return cloudTrailToCall(r, where) ?? gcpAuditToCall(r, where) ?? azureActivityToCall(r, where);
}
