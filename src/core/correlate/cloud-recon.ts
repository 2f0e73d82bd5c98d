import type { Severity } from '../model/severity.ts';
import type { CloudCall } from '../parse/cloud-call.ts';

/** A call that betrays someone finding out what stolen credentials can do, and how bad it is. */
export interface ReconClass {
  category:
    | 'console-sign-in'
    | 'iam-change'
    | 'iam-enumeration'
    | 'identity-check'
    | 'storage-enumeration'
    | 'secret-enumeration'
    | 'describe';
  severity: Severity;
}

const IAM_CHANGE =
  /^(Create|Put|Attach|Update|Add|Delete|Detach|Remove|Set|Upload|Change|Tag|Untag|Enable|Deactivate|Reset|Pass)/;
const IAM_ENUM = /^(List|Get|Simulate|Generate)/;

/**
 * Classify a call made with instance credentials. Calls an instance's own software rarely makes
 * (`sts:GetCallerIdentity`, `s3:ListBuckets`, IAM enumeration) are what the first minutes with stolen credentials
 * look like; IAM changes and console sign-in are escalation.
 * @example reconClass({ provider: 'aws', eventName: 'GetCallerIdentity', eventSource: 'sts.amazonaws.com' }) // identity-check, low
 */
export function reconClass(c: Pick<CloudCall, 'provider' | 'eventName' | 'eventSource'>): ReconClass | undefined {
  const n = c.eventName;
  const src = c.eventSource ?? '';
  if (c.provider === 'aws') {
    if (n === 'ConsoleLogin' || n === 'GetSigninToken' || n === 'GetFederationToken')
      return { category: 'console-sign-in', severity: 'critical' };
    if (src === 'iam.amazonaws.com' && IAM_CHANGE.test(n)) return { category: 'iam-change', severity: 'high' };
    if (src === 'iam.amazonaws.com' && IAM_ENUM.test(n)) return { category: 'iam-enumeration', severity: 'medium' };
    if (src === 'organizations.amazonaws.com' && /^(List|Describe)/.test(n))
      return { category: 'iam-enumeration', severity: 'medium' };
    if (n === 'GetCallerIdentity' || n === 'GetAccessKeyInfo') return { category: 'identity-check', severity: 'low' };
    if (n === 'ListBuckets') return { category: 'storage-enumeration', severity: 'medium' };
    if (n === 'ListSecrets' || (src === 'ssm.amazonaws.com' && n === 'DescribeParameters'))
      return { category: 'secret-enumeration', severity: 'medium' };
    if (n.startsWith('Describe')) return { category: 'describe', severity: 'low' };
    return undefined;
  }
  if (c.provider === 'gcp') {
    if (/\.(SetIamPolicy|CreateServiceAccountKey|CreateRole|UpdateRole|CreateServiceAccount)$/.test(n))
      return { category: 'iam-change', severity: 'high' };
    if (
      /\.(GetIamPolicy|TestIamPermissions|ListServiceAccounts|ListServiceAccountKeys|ListRoles|QueryGrantableRoles)$/.test(
        n,
      )
    )
      return { category: 'iam-enumeration', severity: 'medium' };
    if (/storage\.buckets\.list$|\.ListBuckets$/.test(n))
      return { category: 'storage-enumeration', severity: 'medium' };
    if (/secretmanager.*\.(ListSecrets|AccessSecretVersion)$/.test(n))
      return { category: 'secret-enumeration', severity: 'medium' };
    return undefined;
  }
  const op = n.toLowerCase();
  if (/^microsoft\.authorization\/(roleassignments|roledefinitions)\/write$/.test(op))
    return { category: 'iam-change', severity: 'high' };
  if (/^microsoft\.keyvault\/vaults\/secrets\/(read|getsecret\/action)$/.test(op) || /listkeys\/action$/.test(op))
    return { category: 'secret-enumeration', severity: 'medium' };
  if (/^microsoft\.authorization\/.*\/read$/.test(op)) return { category: 'iam-enumeration', severity: 'medium' };
  return undefined;
}
