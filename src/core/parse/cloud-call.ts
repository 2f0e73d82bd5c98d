import type { CloudApiEvent } from '../model/event.ts';

/** What kind of credential a cloud call was made with, as far as the record tells. */
export type CredentialKind =
  /** AWS instance-profile role session `assumed-role/<role>/i-…`. */
  | 'aws-instance-profile'
  /** AWS instance identity role `assumed-role/aws:ec2-instance/i-…`. */
  | 'aws-instance-identity'
  /** GCP service-account token without a key or impersonation: minted by a metadata server. */
  | 'gcp-service-account-token'
  /** Azure managed identity whose `xms_mirid` names a virtual machine. */
  | 'azure-vm-managed-identity'
  /** Long-term or human credentials (IAM user keys, console, root, Azure users). */
  | 'human'
  | 'other';

/**
 * A cloud audit record reduced to what the correlators read. Extends the model's `cloud-api` event with the
 * instance the credential belongs to and whether a cloud service made the call on someone's behalf.
 */
export interface CloudCall extends CloudApiEvent {
  credentialKind: CredentialKind;
  /** Account, project or subscription the call was recorded in. */
  account?: string;
  /** Account that owns the credential (AWS `userIdentity.accountId`). */
  credentialAccount?: string;
  /** Role name (AWS), service-account email (GCP), managed identity resource id (Azure). */
  role?: string;
  /** The instance (AWS id, GCE name, Azure VM resource id) as written. */
  instanceId?: string;
  /** The instance id lower-cased: anonymised and hand-typed ids differ in case. */
  instanceKey?: string;
  /** The call was made by a cloud service for someone (invokedBy, AWS Internal, SSM channels). */
  serviceMade: boolean;
  /** A console sign-in (or the federation calls that lead to one). */
  consoleSignIn?: boolean;
  /** STS AssumeRole issued by ec2.amazonaws.com: ties a temporary key to an instance. */
  issuance?: { accessKeyId: string; instanceId: string; role?: string };
  region?: string;
  /** File and line the record came from. */
  file?: string;
  line?: number;
}
