import type { CloudCall } from './cloud-call.ts';

type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj | undefined =>
  v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : undefined;
const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

/** Is this a Cloud Logging entry holding a Cloud Audit Logs `AuditLog` payload? */
export function isGcpAuditEntry(r: Obj): boolean {
  const p = obj(r.protoPayload);
  if (!p) return false;
  const t = str(p['@type']) ?? '';
  return t.endsWith('google.cloud.audit.AuditLog') || (str(r.logName) ?? '').includes('cloudaudit.googleapis.com');
}

/**
 * Google-managed service agents act for Google services, never from a VM's metadata server
 * (`service-123@compute-system.iam.gserviceaccount.com`, `123@cloudservices.gserviceaccount.com`).
 */
function isServiceAgent(email: string): boolean {
  return /^service-\d+@|@cloudservices\.gserviceaccount\.com$|@gcp-sa-[a-z-]+\.iam\.gserviceaccount\.com$|-system\.iam\.gserviceaccount\.com$/i.test(
    email,
  );
}

const SERVICE_ACCOUNT =
  /@[a-z0-9-]+\.iam\.gserviceaccount\.com$|-compute@developer\.gserviceaccount\.com$|@appspot\.gserviceaccount\.com$/i;

/**
 * Cloud Audit Logs entry → `CloudCall`. A service-account principal with no `serviceAccountKeyName` and no
 * `serviceAccountDelegationInfo` called with a short-lived token; on a VM that token comes from the metadata server.
 * `callerIp` of `gce-internal-ip` or `private` means a Google-internal or VPC-internal path: not outside use.
 */
export function gcpAuditToCall(r: Obj, where: { file?: string; line?: number } = {}): CloudCall | undefined {
  if (!isGcpAuditEntry(r)) return undefined;
  const p = obj(r.protoPayload) ?? {};
  const auth = obj(p.authenticationInfo) ?? {};
  const meta = obj(p.requestMetadata) ?? {};
  const resource = obj(r.resource) ?? {};
  const labels = obj(resource.labels) ?? {};
  const email = str(auth.principalEmail);
  const keyName = str(auth.serviceAccountKeyName);
  const delegated = Array.isArray(auth.serviceAccountDelegationInfo) && auth.serviceAccountDelegationInfo.length > 0;
  const callerIp = str(meta.callerIp);
  let kind: CloudCall['credentialKind'] = 'other';
  if (email && SERVICE_ACCOUNT.test(email) && !keyName && !delegated && !isServiceAgent(email))
    kind = 'gcp-service-account-token';
  else if (email && !SERVICE_ACCOUNT.test(email)) kind = 'human';
  const serviceMade =
    (email !== undefined && isServiceAgent(email)) ||
    callerIp === 'gce-internal-ip' ||
    callerIp === 'private' ||
    delegated;
  const call: CloudCall = {
    kind: 'cloud-api',
    origin: {
      ...(where.file ? { file: where.file } : {}),
      ...(where.line ? { line: where.line } : {}),
      format: 'gcp-audit',
    },
    time: str(r.timestamp) ?? str(r.receiveTimestamp) ?? '',
    provider: 'gcp',
    eventId: str(r.insertId) ?? `${where.file ?? ''}:${where.line ?? 0}`,
    eventName: str(p.methodName) ?? '',
    credentialKind: kind,
    serviceMade,
  };
  const svc = str(p.serviceName);
  if (svc) call.eventSource = svc;
  if (email) {
    call.principal = email;
    call.role = email.toLowerCase();
  }
  if (callerIp) call.sourceIp = callerIp;
  const ua = str(meta.callerSuppliedUserAgent);
  if (ua) call.userAgent = ua;
  const project = str(labels.project_id);
  if (project) call.account = project;
  if (where.file) call.file = where.file;
  if (where.line) call.line = where.line;
  const status = obj(p.status);
  if (status && typeof status.code === 'number' && status.code !== 0) call.errorCode = String(status.code);
  return call;
}
