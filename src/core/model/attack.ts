/** MITRE ATT&CK techniques our detections map to. */
export const ATTACK = {
  cloudInstanceMetadataApi: 'T1552.005',
  exploitPublicFacingApplication: 'T1190',
  validAccountsCloud: 'T1078.004',
  unsecuredCredentials: 'T1552',
  credentialsInFiles: 'T1552.001',
  cloudServiceDiscovery: 'T1526',
  accountDiscovery: 'T1087.004',
} as const;

export type AttackId = (typeof ATTACK)[keyof typeof ATTACK];

export const ATTACK_NAMES: Record<AttackId, string> = {
  'T1552.005': 'Unsecured Credentials: Cloud Instance Metadata API',
  T1190: 'Exploit Public-Facing Application',
  'T1078.004': 'Valid Accounts: Cloud Accounts',
  T1552: 'Unsecured Credentials',
  'T1552.001': 'Unsecured Credentials: Credentials In Files',
  T1526: 'Cloud Service Discovery',
  'T1087.004': 'Account Discovery: Cloud Account',
};
