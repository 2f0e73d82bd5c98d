import { ATTACK_NAMES } from './attack.ts';
import type { Finding } from './finding.ts';
import { ocsfSeverityId } from './severity.ts';

export const OCSF_VERSION = '1.3.0';

const TACTICS: Record<string, { uid: string; name: string }> = {
  'T1552.005': { uid: 'TA0006', name: 'Credential Access' },
  T1552: { uid: 'TA0006', name: 'Credential Access' },
  'T1552.001': { uid: 'TA0006', name: 'Credential Access' },
  T1190: { uid: 'TA0001', name: 'Initial Access' },
  'T1078.004': { uid: 'TA0005', name: 'Defense Evasion' },
  T1526: { uid: 'TA0007', name: 'Discovery' },
  'T1087.004': { uid: 'TA0007', name: 'Discovery' },
};

export interface OcsfDetectionFinding {
  class_uid: 2004;
  class_name: 'Detection Finding';
  category_uid: 2;
  category_name: 'Findings';
  activity_id: 1;
  activity_name: 'Create';
  type_uid: 200401;
  severity_id: number;
  severity: string;
  status_id: 1;
  time: number;
  message: string;
  confidence_score: number;
  metadata: { version: string; product: { name: string; vendor_name: string; version: string }; uid: string };
  finding_info: {
    uid: string;
    title: string;
    desc?: string;
    types: string[];
    analytic: { uid: string; name: string; type_id: 1; type: 'Rule' };
    attacks: Array<{ technique: { uid: string; name: string }; tactic?: { uid: string; name: string } }>;
  };
  remediation: { desc: string };
  evidences: Array<Record<string, unknown>>;
  resources?: Array<{ uid: string; type: string }>;
  unmapped: Record<string, unknown>;
}

/** Map a finding to OCSF 1.3 Detection Finding (class_uid 2004). `nowMs` is used when the finding has no time. */
export function toOcsf(f: Finding, product: { version: string }, nowMs: number): OcsfDetectionFinding {
  const parsed = f.time ? Date.parse(f.time) : Number.NaN;
  const sevName = f.severity === 'info' ? 'Informational' : f.severity[0]!.toUpperCase() + f.severity.slice(1);
  const evidence: Record<string, unknown> = {};
  if (f.target) evidence.url = { url_string: f.target.decoded, raw: f.target.raw };
  if (f.client?.ip) evidence.src_endpoint = { ip: f.client.ip };
  if (f.destination) evidence.dst_endpoint = { ip: f.destination.ip, port: f.destination.port };
  if (f.process) {
    evidence.process = {
      pid: f.process.pid,
      file: f.process.exe ? { path: f.process.exe } : undefined,
      cmd_line: f.process.argv?.join(' '),
      user: f.process.uid !== undefined ? { uid: String(f.process.uid), name: f.process.user } : undefined,
      container: f.process.container ? { uid: f.process.container } : undefined,
    };
  }
  if (f.http) evidence.http_request = { http_method: f.http.method, url: { path: f.http.path } };
  const { type: _t, schema_version: _s, ...rest } = f;
  return {
    class_uid: 2004,
    class_name: 'Detection Finding',
    category_uid: 2,
    category_name: 'Findings',
    activity_id: 1,
    activity_name: 'Create',
    type_uid: 200401,
    severity_id: ocsfSeverityId(f.severity),
    severity: sevName,
    status_id: 1,
    time: Number.isFinite(parsed) ? parsed : nowMs,
    message: f.title,
    confidence_score: Math.round(f.confidence * 100),
    metadata: {
      version: OCSF_VERSION,
      product: { name: 'imdsguard', vendor_name: 'imdsguard', version: product.version },
      uid: f.id,
    },
    finding_info: {
      uid: f.id,
      title: f.title,
      ...(f.description ? { desc: f.description } : {}),
      types: [f.rule.id],
      analytic: { uid: f.rule.id, name: f.rule.name, type_id: 1, type: 'Rule' },
      attacks: f.attack.map((t) => ({
        technique: { uid: t, name: ATTACK_NAMES[t] },
        ...(TACTICS[t] ? { tactic: TACTICS[t] } : {}),
      })),
    },
    remediation: { desc: f.remediation },
    evidences: Object.keys(evidence).length > 0 ? [evidence] : [],
    ...(f.resource ? { resources: [{ uid: f.resource.id, type: f.resource.kind }] } : {}),
    unmapped: rest,
  };
}
