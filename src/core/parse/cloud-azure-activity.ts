import type { CloudCall } from './cloud-call.ts';

type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj | undefined =>
  v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : undefined;
const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

/** `xms_mirid` of a system-assigned identity names the VM: `/subscriptions/…/providers/Microsoft.Compute/virtualMachines/<name>`. */
const VM_MIRID =
  /\/subscriptions\/([^/]+)\/resourcegroups\/([^/]+)\/providers\/microsoft\.compute\/virtualmachines\/([^/]+)$/i;

function opName(v: unknown): string | undefined {
  const o = obj(v);
  return o ? str(o.value) : str(v);
}

/**
 * Azure Activity Log record (the `az monitor activity-log list` / REST shape with `claims` and `httpRequest`, or the
 * diagnostic-settings export shape with `identity.claims` and `callerIpAddress`).
 */
export function isAzureActivityRecord(r: Obj): boolean {
  return (
    (obj(r.claims) !== undefined || obj(obj(r.identity)?.claims) !== undefined) &&
    r.operationName !== undefined &&
    (str(r.resourceId) !== undefined || str(r.eventDataId) !== undefined || str(r.correlationId) !== undefined)
  );
}

/** Azure Activity Log record → `CloudCall`; managed-identity tokens whose `xms_mirid` names a VM are flagged. */
export function azureActivityToCall(r: Obj, where: { file?: string; line?: number } = {}): CloudCall | undefined {
  if (!isAzureActivityRecord(r)) return undefined;
  const identity = obj(r.identity) ?? {};
  const claims = obj(r.claims) ?? obj(identity.claims) ?? {};
  const http = obj(r.httpRequest) ?? {};
  const props = obj(r.properties) ?? {};
  const mirid = str(claims.xms_mirid);
  const m = mirid ? VM_MIRID.exec(mirid) : null;
  const ip = str(r.callerIpAddress) ?? str(http.clientIpAddress) ?? str(claims.ipaddr);
  const idtyp = str(claims.idtyp);
  let kind: CloudCall['credentialKind'] = 'other';
  if (m) kind = 'azure-vm-managed-identity';
  else if (idtyp === 'user' || str(claims['http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn'])) kind = 'human';
  const call: CloudCall = {
    kind: 'cloud-api',
    origin: {
      ...(where.file ? { file: where.file } : {}),
      ...(where.line ? { line: where.line } : {}),
      format: 'azure-activity',
    },
    time: str(r.eventTimestamp) ?? str(r.time) ?? '',
    provider: 'azure',
    eventId:
      str(r.eventDataId) ??
      str(props.eventDataId) ??
      str(r.id) ??
      `${str(r.correlationId) ?? ''}:${opName(r.operationName) ?? ''}:${str(r.time) ?? where.line ?? ''}`,
    eventName: opName(r.operationName) ?? '',
    credentialKind: kind,
    // Azure writes no address for calls Azure itself makes; a call with no caller IP is not outside use.
    serviceMade: ip === undefined,
  };
  const caller = str(r.caller);
  if (caller) call.principal = caller;
  if (mirid) call.role = mirid.toLowerCase();
  if (m) {
    call.instanceId = mirid as string;
    call.instanceKey = (mirid as string).toLowerCase();
    call.account = m[1] as string;
  } else {
    const sub = str(r.subscriptionId);
    if (sub) call.account = sub;
  }
  if (ip) call.sourceIp = ip;
  if (where.file) call.file = where.file;
  if (where.line) call.line = where.line;
  const status = opName(r.status) ?? str(r.resultType);
  if (status && /fail/i.test(status)) call.errorCode = status;
  return call;
}
