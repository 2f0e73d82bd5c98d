import { matchEndpoint } from '../endpoints/lookup.ts';
import type { AttackId } from '../model/attack.ts';
import type { ConnectEvent, ProcessInfo } from '../model/event.ts';
import { type Finding, makeFinding } from '../model/finding.ts';
import type { PathClass } from '../model/hit.ts';
import type { Severity } from '../model/severity.ts';

/** What the host sensor saw on a metadata socket, with the catalogue's reading of it. */
export interface HostImdsEvent {
  event: ConnectEvent;
  /** Event time in ms since the epoch (the sensor's clock, passed in: the core never reads it). */
  timeMs: number;
  provider: string | null;
  service: string | null;
  /** null when only the connection is known (auditd, procfs, or no request bytes seen). */
  pathClass: PathClass | null;
  /**
   * AWS only: 2 with a session token (or the token PUT itself); 1 without, when the whole request head was seen;
   * 'unknown' when a payload-reading sensor did not see the whole head (never a guessed 1).
   */
  imdsVersion?: 1 | 2 | 'unknown';
  /** The AWS IMDSv2 session token header was sent. */
  awsToken: boolean;
  /** This is the IMDSv2 token request (PUT /latest/api/token). */
  tokenPut: boolean;
  /** Container image when the runtime told us, else the container's cgroup path; absent on the host. */
  containerKey?: string;
}

/** Unwrap IPv4-mapped IPv6 (`::ffff:169.254.169.254`), which dual-stack sockets use for IPv4 destinations. */
export function destinationKind(ip: string): { host: string; kind: 'ipv4' | 'ipv6' } {
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  if (m?.[1]) return { host: m[1], kind: 'ipv4' };
  return ip.includes(':') ? { host: ip.toLowerCase(), kind: 'ipv6' } : { host: ip, kind: 'ipv4' };
}

/**
 * Read a connect event against the endpoint catalogue: provider, path class and, for AWS, the IMDS version.
 * @example classifyHostEvent(ev, 1700000000000).imdsVersion // 1 for a GET without a token
 */
export function classifyHostEvent(event: ConnectEvent, timeMs: number, containerKey?: string): HostImdsEvent {
  const { host, kind } = destinationKind(event.destination.ip);
  const http = event.http;
  const match = matchEndpoint(host, kind, event.destination.port, http?.path ?? '/');
  const names = new Set(http?.headerNames ?? []);
  const awsToken = names.has('x-aws-ec2-metadata-token');
  const pathClass = http?.path !== undefined ? (match?.pathClass ?? 'other') : null;
  const tokenPut = Boolean(http && http.method === 'PUT' && pathClass === 'token');
  const out: HostImdsEvent = {
    event,
    timeMs,
    provider: match?.provider ?? null,
    service: match?.service ?? null,
    pathClass,
    awsToken,
    tokenPut,
    ...(containerKey ? { containerKey } : {}),
  };
  // On 169.254.169.254 a path that names no provider is still answered by EC2 when the host is on AWS.
  const aws =
    match?.provider === 'aws' || (match?.provider === 'multi' && kind === 'ipv4' && host === '169.254.169.254');
  if (aws && (awsToken || tokenPut)) out.imdsVersion = 2;
  else if (aws && event.capture && !event.capture.complete) out.imdsVersion = 'unknown';
  else if (aws && http?.method) out.imdsVersion = 1;
  return out;
}

/** The process fields a daemon record carries (DESIGN output contract). */
export function processRecord(p: ProcessInfo): NonNullable<Finding['process']> {
  return {
    pid: p.pid,
    ...(p.ppid !== undefined ? { ppid: p.ppid } : {}),
    ...(p.exe !== undefined ? { exe: p.exe } : {}),
    ...(p.argv !== undefined ? { argv: p.argv } : {}),
    ...(p.uid !== undefined ? { uid: p.uid } : {}),
    ...(p.user !== undefined ? { user: p.user } : {}),
    ...(p.netns !== undefined ? { netns: p.netns } : {}),
    ...(p.container !== undefined ? { container: p.container } : {}),
  };
}

/** The base name of an executable path. */
export function exeName(exe: string | undefined): string {
  if (!exe) return '';
  const i = exe.lastIndexOf('/');
  return (i >= 0 ? exe.slice(i + 1) : exe).replace(/ \(deleted\)$/, '');
}

export interface HostFindingSpec {
  ruleId: string;
  ruleName: string;
  severity: Severity;
  confidence: number;
  attack: AttackId[];
  title: string;
  description?: string;
  remediation: string;
  /** What makes two findings the same finding (besides the rule). */
  idEvidence: ReadonlyArray<string | number | undefined | null>;
  evidence?: Record<string, unknown>;
}

/** A finding about one host event: origin is the sensor, and the process, destination and request are attached. */
export function hostFinding(h: HostImdsEvent, spec: HostFindingSpec): Finding {
  const ev = h.event;
  return makeFinding({
    rule: { id: spec.ruleId, name: spec.ruleName },
    severity: spec.severity,
    confidence: spec.confidence,
    attack: spec.attack,
    title: spec.title,
    ...(spec.description ? { description: spec.description } : {}),
    remediation: spec.remediation,
    origin: { sensor: ev.origin.sensor ?? 'unknown' },
    time: ev.time,
    provider: h.provider,
    service: h.service,
    process: processRecord(ev.process),
    destination: { ip: ev.destination.ip, port: ev.destination.port },
    ...(ev.http
      ? {
          http: {
            ...(ev.http.method ? { method: ev.http.method } : {}),
            ...(ev.http.path !== undefined ? { path: ev.http.path } : {}),
            token: ev.http.token,
          },
        }
      : {}),
    ...(h.imdsVersion ? { imds_version: h.imdsVersion } : {}),
    ...(spec.evidence ? { evidence: spec.evidence } : {}),
    idEvidence: spec.idEvidence,
  });
}
