/** Every kind of secret the detector knows, with who issues it and whether it is usable on its own. */
export const SECRET_KINDS = {
  'aws-access-key-id': { provider: 'aws', live: false, label: 'AWS access key id' },
  'aws-secret-access-key': { provider: 'aws', live: true, label: 'AWS secret access key' },
  'aws-session-token': { provider: 'aws', live: true, label: 'AWS session token' },
  'aws-imdsv2-session-token': { provider: 'aws', live: true, label: 'EC2 IMDSv2 session token' },
  'gcp-access-token': { provider: 'gcp', live: true, label: 'Google OAuth access token' },
  'gcp-identity-token': { provider: 'gcp', live: true, label: 'Google identity token (JWT)' },
  'azure-managed-identity-token': { provider: 'azure', live: true, label: 'Azure managed identity token (JWT)' },
  'alibaba-sts-access-key-id': { provider: 'alibaba', live: false, label: 'Alibaba Cloud STS access key id' },
  'alibaba-access-key-secret': { provider: 'alibaba', live: true, label: 'Alibaba Cloud access key secret' },
  'alibaba-sts-security-token': { provider: 'alibaba', live: true, label: 'Alibaba Cloud STS security token' },
  'oci-instance-principal-token': { provider: 'oracle', live: true, label: 'OCI instance principal token (JWT)' },
  'private-key': { provider: 'generic', live: true, label: 'private key (PEM)' },
} as const;

export type SecretKind = keyof typeof SECRET_KINDS;
export type SecretProvider = (typeof SECRET_KINDS)[SecretKind]['provider'];

/** One secret found in one line. `value` is the logical secret and never leaves the core unmasked. */
export interface SecretMatch {
  kind: SecretKind;
  provider: SecretProvider;
  /** Span in the line as written (UTF-16 offsets), which redaction replaces. */
  start: number;
  end: number;
  /** The logical value, escapes undone. Only `mask()` and `secretHash()` may see it. */
  value: string;
  /** Usable credential material (critical), as opposed to an identifier such as a key id. */
  live: boolean;
  /** What the secret itself says about its owner and expiry (JWT claims). */
  owner?: string;
  expires?: string;
  claims?: Record<string, string>;
}
