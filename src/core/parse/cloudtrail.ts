import type { CloudCall, CredentialKind } from './cloud-call.ts';

type Obj = Record<string, unknown>;

function obj(v: unknown): Obj | undefined {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : undefined;
}
function str(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

/**
 * Instance sessions: `assumed-role/<role>/i-<hex>`. Matched case-insensitively and for any id length, because
 * published and anonymised records carry mixed-case ids (`i-786a3A8B5C0d92eF4`) and old ids are 8 digits.
 */
const INSTANCE_SESSION = /:assumed-role\/([^/]+)\/(i-[0-9a-f]{6,32})$/i;
const INSTANCE_PRINCIPAL = /^[A-Z0-9]+:(i-[0-9a-f]{6,32})$/i;

/** Event sources through which the SSM agent on the instance talks to its service: not outside use. */
const SERVICE_CHANNELS = new Set(['ec2messages.amazonaws.com', 'ssmmessages.amazonaws.com']);

/**
 * CloudTrail field names. Athena tables (and `UNLOAD … WITH (format = 'JSON')`) give them lower-cased, with
 * `requestparameters`/`responseelements` as JSON strings; records in that shape are brought back to these names.
 */
const FIELD_NAMES = [
  'eventVersion',
  'userIdentity',
  'type',
  'principalId',
  'arn',
  'accountId',
  'accessKeyId',
  'userName',
  'invokedBy',
  'sessionContext',
  'attributes',
  'creationDate',
  'mfaAuthenticated',
  'sessionIssuer',
  'ec2RoleDelivery',
  'sourceIdentity',
  'webIdFederationData',
  'eventTime',
  'eventSource',
  'eventName',
  'awsRegion',
  'sourceIPAddress',
  'userAgent',
  'errorCode',
  'errorMessage',
  'requestParameters',
  'responseElements',
  'additionalEventData',
  'requestID',
  'eventID',
  'readOnly',
  'resources',
  'eventType',
  'apiVersion',
  'managementEvent',
  'recipientAccountId',
  'sharedEventID',
  'vpcEndpointId',
  'vpcEndpointAccountId',
  'eventCategory',
  'tlsDetails',
  'credentials',
  'roleSessionName',
  'roleArn',
  'assumedRoleUser',
];
const CANONICAL = new Map(FIELD_NAMES.map((n) => [n.toLowerCase(), n]));

function canonicalKeys(v: unknown, depth: number): unknown {
  if (depth > 4 || v === null || typeof v !== 'object' || Array.isArray(v)) {
    if (typeof v === 'string' && depth === 1 && v.startsWith('{')) {
      try {
        return canonicalKeys(JSON.parse(v), depth);
      } catch {
        return v;
      }
    }
    return v;
  }
  const out: Obj = {};
  for (const [k, x] of Object.entries(v as Obj)) out[CANONICAL.get(k.toLowerCase()) ?? k] = canonicalKeys(x, depth + 1);
  return out;
}

/** Athena-shaped (lower-cased) CloudTrail record → the documented field names; other records pass unchanged. */
export function normaliseCloudTrailKeys(r: Obj): Obj {
  if (r.eventVersion !== undefined || r.eventversion === undefined) return r;
  return canonicalKeys(r, 0) as Obj;
}

/** Does this object look like a CloudTrail record? */
export function isCloudTrailRecord(r: Obj): boolean {
  return typeof r.eventVersion === 'string' && (obj(r.userIdentity) !== undefined || typeof r.eventSource === 'string');
}

/** The source address is a service, not an IP: `AWS Internal`, `ec2.amazonaws.com`, `ssm.amazonaws.com`. */
export function isServiceSource(src: string | undefined): boolean {
  if (!src) return false;
  return src === 'AWS Internal' || /\.amazonaws\.com$/i.test(src) || src.endsWith('.amazonaws.com.cn');
}

function kindOf(
  identityType: string | undefined,
  arn: string | undefined,
  accessKeyId: string | undefined,
): {
  kind: CredentialKind;
  role?: string;
  instanceId?: string;
} {
  const m = arn ? INSTANCE_SESSION.exec(arn) : null;
  if (m) {
    const role = m[1] as string;
    const instanceId = m[2] as string;
    return {
      kind: role.toLowerCase() === 'aws:ec2-instance' ? 'aws-instance-identity' : 'aws-instance-profile',
      role,
      instanceId,
    };
  }
  if (identityType === 'IAMUser' || identityType === 'Root') return { kind: 'human' };
  // Console and SSO users hold ASIA keys too; their ARNs are not instance sessions.
  if (identityType === 'AssumedRole' && arn && /:assumed-role\/AWSReservedSSO_/i.test(arn)) return { kind: 'human' };
  if (accessKeyId?.startsWith('AKIA')) return { kind: 'human' };
  return { kind: 'other' };
}

/**
 * CloudTrail record → `CloudCall`, or undefined when it is not a CloudTrail record.
 * @example cloudTrailToCall({ eventVersion: '1.08', eventID: 'x', eventName: 'GetCallerIdentity', userIdentity: { type: 'AssumedRole', arn: 'arn:aws:sts::1:assumed-role/r/i-0abc12345' } })
 */
export function cloudTrailToCall(raw: Obj, where: { file?: string; line?: number } = {}): CloudCall | undefined {
  const r = normaliseCloudTrailKeys(raw);
  if (!isCloudTrailRecord(r)) return undefined;
  const ui = obj(r.userIdentity) ?? {};
  const sc = obj(ui.sessionContext) ?? {};
  const issuer = obj(sc.sessionIssuer) ?? {};
  const identityType = str(ui.type);
  let arn = str(ui.arn);
  const principalId = str(ui.principalId);
  const accessKeyId = str(ui.accessKeyId);
  const k = kindOf(identityType, arn, accessKeyId);
  // Some shippers drop the ARN; the principal id `AROA…:i-…` still names the instance session.
  if (k.kind === 'other' && !arn && principalId) {
    const pm = INSTANCE_PRINCIPAL.exec(principalId);
    const roleName = str(issuer.userName);
    if (pm && roleName) {
      arn = `assumed-role/${roleName}/${pm[1]}`;
      Object.assign(k, kindOf(identityType, `:${arn}`, accessKeyId));
    }
  }
  const eventSource = str(r.eventSource);
  const sourceIp = str(r.sourceIPAddress);
  const invokedBy = str(ui.invokedBy);
  const userAgent = str(r.userAgent);
  const eventName = str(r.eventName) ?? '';
  const serviceMade =
    invokedBy !== undefined ||
    identityType === 'AWSService' ||
    isServiceSource(sourceIp) ||
    (userAgent !== undefined && /^AWS Internal$/i.test(userAgent)) ||
    (eventSource !== undefined && SERVICE_CHANNELS.has(eventSource));

  let issuance: CloudCall['issuance'];
  if (
    eventName === 'AssumeRole' &&
    eventSource === 'sts.amazonaws.com' &&
    (invokedBy === 'ec2.amazonaws.com' || sourceIp === 'ec2.amazonaws.com')
  ) {
    const req = obj(r.requestParameters) ?? {};
    const resp = obj(r.responseElements) ?? {};
    const creds = obj(resp.credentials) ?? {};
    const session = str(req.roleSessionName);
    const key = str(creds.accessKeyId);
    const roleArn = str(req.roleArn);
    if (session && key && /^i-[0-9a-f]{6,32}$/i.test(session)) {
      issuance = {
        accessKeyId: key,
        instanceId: session,
        ...(roleArn ? { role: roleArn.replace(/^.*:role\/(?:.*\/)?/, '') } : {}),
      };
    }
  }

  const roleDelivery = str(sc.ec2RoleDelivery);
  const vpcEndpointId = str(r.vpcEndpointId);
  const vpcEndpointAccountId = str(r.vpcEndpointAccountId);
  const recipientAccountId = str(r.recipientAccountId) ?? str(ui.accountId);
  const errorCode = str(r.errorCode);
  const region = str(r.awsRegion);
  const call: CloudCall = {
    kind: 'cloud-api',
    origin: {
      ...(where.file ? { file: where.file } : {}),
      ...(where.line ? { line: where.line } : {}),
      format: 'cloudtrail',
    },
    time: str(r.eventTime) ?? '',
    provider: 'aws',
    eventId: str(r.eventID) ?? str(r.requestID) ?? `${where.file ?? ''}:${where.line ?? 0}`,
    eventName,
    credentialKind: k.kind,
    serviceMade,
    consoleSignIn: eventName === 'ConsoleLogin' || eventName === 'GetSigninToken' || eventName === 'GetFederationToken',
  };
  if (eventSource) call.eventSource = eventSource;
  if (arn) call.principal = arn;
  if (accessKeyId) call.accessKeyId = accessKeyId;
  if (k.instanceId) {
    call.instanceId = k.instanceId;
    call.instanceKey = k.instanceId.toLowerCase();
    call.sessionName = k.instanceId;
  }
  if (k.role) call.role = k.role;
  if (sourceIp) call.sourceIp = sourceIp;
  if (userAgent) call.userAgent = userAgent;
  if (vpcEndpointId) call.vpcEndpointId = vpcEndpointId;
  if (vpcEndpointAccountId) call.vpcEndpointAccountId = vpcEndpointAccountId;
  if (recipientAccountId) {
    call.recipientAccountId = recipientAccountId;
    call.account = recipientAccountId;
  }
  const credAccount = str(ui.accountId);
  if (credAccount) call.credentialAccount = credAccount;
  if (roleDelivery) call.roleDelivery = roleDelivery;
  if (invokedBy) call.invokedBy = invokedBy;
  if (errorCode) call.errorCode = errorCode;
  if (region) call.region = region;
  if (issuance) call.issuance = issuance;
  if (where.file) call.file = where.file;
  if (where.line) call.line = where.line;
  return call;
}
