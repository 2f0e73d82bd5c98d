/**
 * The shapes a finding takes at a sink: the contract's finding with who saw it, an Elastic Common Schema document,
 * or an OCSF Detection Finding. Every shape goes through the masker once more before it leaves the hub.
 */
import type { FleetEnvelope } from '../../../core/fleet/contract.ts';
import type { Finding } from '../../../core/model/finding.ts';
import { toOcsf } from '../../../core/model/ocsf.ts';
import { ocsfSeverityId } from '../../../core/model/severity.ts';
import { maskRecord } from '../../../core/secrets/masker.ts';
import { VERSION } from '../../version.ts';

export type Payload = 'finding' | 'ocsf';

export function fleetOf(e: FleetEnvelope) {
  return { host: e.host, account: e.account, region: e.region, source: e.source, sent_at: e.sent_at };
}

/** The finding exactly as the output contract prints it, plus `fleet`: who saw it, where. */
export function findingDocument(e: FleetEnvelope): Record<string, unknown> {
  return { ...maskRecord(e.finding), fleet: fleetOf(e) };
}

/** OCSF 2004 with the host and cloud account in OCSF's own fields. */
export function ocsfDocument(e: FleetEnvelope, nowMs: number): Record<string, unknown> {
  const o = toOcsf(maskRecord(e.finding), { version: VERSION }, nowMs) as unknown as Record<string, unknown>;
  return {
    ...o,
    device: { uid: e.host.id, ...(e.host.name ? { hostname: e.host.name } : {}), type_id: 0 },
    cloud: { account: { uid: e.account }, region: e.region, provider: e.finding.provider ?? undefined },
  };
}

export function payloadDocument(p: Payload, e: FleetEnvelope, nowMs: number): Record<string, unknown> {
  return p === 'ocsf' ? ocsfDocument(e, nowMs) : findingDocument(e);
}

/** The finding's time, else when it was sent, else now. */
export function eventMs(e: FleetEnvelope, nowMs: number): number {
  for (const t of [e.finding.time, e.sent_at]) {
    const ms = t ? Date.parse(t) : Number.NaN;
    if (Number.isFinite(ms)) return ms;
  }
  return nowMs;
}

/** Elastic Common Schema 8: what Elastic Security's detection views read. The whole finding stays under `imdsguard`. */
export function ecsDocument(e: FleetEnvelope, nowMs: number): Record<string, unknown> {
  const f: Finding = maskRecord(e.finding);
  const doc: Record<string, unknown> = {
    '@timestamp': new Date(eventMs(e, nowMs)).toISOString(),
    ecs: { version: '8.11.0' },
    message: f.title,
    event: {
      kind: 'alert',
      category: ['intrusion_detection'],
      type: ['indicator'],
      id: f.id,
      severity: ocsfSeverityId(f.severity),
      risk_score: ocsfSeverityId(f.severity) * 20,
      module: 'imdsguard',
      dataset: `imdsguard.${e.source}`,
      created: e.sent_at || undefined,
    },
    rule: { id: f.rule.id, name: f.rule.name },
    threat: f.attack.length > 0 ? { framework: 'MITRE ATT&CK', technique: f.attack.map((id) => ({ id })) } : undefined,
    host: { id: e.host.id, ...(e.host.name ? { name: e.host.name } : {}) },
    cloud: {
      account: { id: e.account },
      region: e.region,
      ...(f.provider ? { provider: f.provider } : {}),
    },
    observer: { vendor: 'imdsguard', product: 'imdsguard', type: e.source },
    imdsguard: f,
  };
  if (f.process)
    doc.process = {
      ...(f.process.pid !== undefined ? { pid: f.process.pid } : {}),
      ...(f.process.exe ? { executable: f.process.exe } : {}),
      ...(f.process.argv ? { args: f.process.argv } : {}),
      ...(f.process.user ? { user: { name: f.process.user } } : {}),
    };
  if (f.client?.ip) doc.source = { ip: f.client.ip };
  if (f.destination) doc.destination = { ip: f.destination.ip, port: f.destination.port };
  if (f.target) doc.url = { original: f.target.decoded };
  if (f.principal) doc.user = { name: f.principal };
  if (f.origin.file) doc.log = { file: { path: f.origin.file } };
  return doc;
}
