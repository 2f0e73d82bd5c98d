import type { Severity } from '../model/severity.ts';

/** What a finding is in the story of an attack. */
/** Every step kind, in the order of a story. */
export const STEP_KINDS = [
  'ssrf-attempt',
  'ssrf-success',
  'host-fetch',
  'credential-leak',
  'cloud-use',
  'cloud-recon',
  'posture',
  'other',
] as const;

export type StepKind =
  | 'ssrf-attempt'
  | 'ssrf-success'
  | 'credential-leak'
  | 'host-fetch'
  | 'cloud-use'
  | 'cloud-recon'
  | 'posture'
  | 'other';

/**
 * Where the finding itself was read (the input of `investigate`), 1-based line. A finding made from raw audit
 * records or an inventory rests on many records, not one line: it has no line.
 */
export interface RecordSource {
  file: string;
  line?: number;
}

/**
 * One finding as a step of an incident: the few fields the linking rules compare, and what a report shows.
 * Built once per finding; the finding itself is not kept (inputs may hold millions).
 */
export interface Step {
  findingId: string;
  kind: StepKind;
  rule: string;
  severity: Severity;
  confidence: number;
  title: string;
  /** RFC 3339 as written in the finding, and its epoch ms (absent when the finding has no time). */
  time?: string;
  timeMs?: number;
  provider?: string;
  /** End of the finding's span (a cloud finding spans its first to its last record), when it has one. */
  endTime?: string;
  endMs?: number;
  /** Where the evidence is: the log line, the sensor and process, or the cloud events. */
  origin: { file?: string; line?: number; sensor?: string; event_ids?: string[] };
  source: RecordSource;
  /**
   * The machine the finding was made on, where the record says (`fleet.host` of the findings store): a line number,
   * a file path or a pid names one thing only on one machine.
   */
  host?: string;
  /**
   * `origin.file` as one spelling (`./a.log`, `a.log` and its absolute path are one file; the app resolves links where
   * the file is there to resolve). Its last component names the log in `identity`, whatever the directory it was
   * spelt from.
   */
  fileKey?: string;
  /**
   * The inputs of `investigate` this finding was read from, each as one spelling: a finding read twice (from its
   * findings file and from the raw log) was read from both. Without a host, two findings are about one line of one
   * log only when they were read from one input.
   */
  readFrom: string[];
  /**
   * What the finding is about, independent of how its file's path was spelt (finding ids hash the path as written):
   * what the incident id is made from.
   */
  identity: string;
  /** The cloud account the step is in (the resource's account, the account of a role ARN, the fleet's account). */
  account?: string;
  /** The client address of an SSRF request, or the address a cloud credential was used from. */
  clientIp?: string;
  /** Roles (AWS), service accounts (GCP) the step names. */
  roles: string[];
  /** Instance or VM the step is about (cloud, posture). */
  instance?: string;
  /** Salted hashes of the secrets the step saw (leak) or of the access keys it names (cloud). */
  keyHashes: string[];
  /** Masked access key ids (`ASIA****QX7Z`): a weaker tie than a hash, for findings written without hashes. */
  maskedKeys: string[];
  /** Path class of a metadata request (credentials, token, index, …). */
  pathClass?: string;
  /** Findings this one names as related (the leak's causing request). */
  relatedFindings: string[];
  /** Process of a host or proxy step: host, sensor, pid, start time and executable (a pid is reused over time and across hosts). */
  processKey?: string;
  /** The proxy refused the request: no credentials were delivered, so nothing is linked to their use. */
  denied?: true;
  /** AWS IMDS version of a host fetch. */
  imdsVersion?: 1 | 2;
  /** Short facts shown with the step (target, status and size, masked key, process, event names). */
  facts: Array<[string, string]>;
}

const RANK: Record<StepKind, number> = {
  'ssrf-attempt': 0,
  'ssrf-success': 0,
  'host-fetch': 0,
  'credential-leak': 1,
  'cloud-use': 2,
  'cloud-recon': 3,
  posture: 4,
  other: 4,
};

/** Column of a step kind in the chain: requests, then leaks, then use of the key, then what was done with it. */
export function stageOf(kind: StepKind): number {
  return RANK[kind];
}

export const STEP_LABEL: Record<StepKind, string> = {
  'ssrf-attempt': 'SSRF attempt',
  'ssrf-success': 'SSRF likely success',
  'host-fetch': 'Host fetch from the metadata service',
  'credential-leak': 'Credentials leaked in a log',
  'cloud-use': 'Key used in the cloud',
  'cloud-recon': 'Reconnaissance with the key',
  posture: 'Instance setting',
  other: 'Other finding',
};
