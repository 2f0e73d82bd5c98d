import { ATTACK } from '../model/attack.ts';
import type { Finding } from '../model/finding.ts';
import { raiseSeverity, type Severity } from '../model/severity.ts';
import { type CallerPattern, expectedCaller } from './imds-expected-callers.ts';
import { exeName, type HostImdsEvent, hostFinding } from './imds-host-event.ts';

export const IMDS_UNUSUAL_CALLER = {
  id: 'imds-unusual-caller',
  name: 'Unexpected process reads metadata credentials',
} as const;

const INTERPRETERS =
  /^(?:python[0-9.]*|perl[0-9.]*|ruby[0-9.]*|node|nodejs|bun|deno|php[0-9.]*|java|lua[0-9.]*|pwsh|powershell|osascript|tclsh)$/;
const SHELLS = /^(?:sh|bash|dash|zsh|ksh|ash|busybox|fish|csh|tcsh)$/;
const FETCHERS = /^(?:curl|wget|nc|ncat|netcat|socat|telnet|openssl|httpie|http|aria2c|lynx|links)$/;
const WEB_WORKERS =
  /^(?:nginx|apache2|httpd|php-fpm[0-9.]*|gunicorn|uwsgi|unicorn|puma|passenger|tomcat|catalina|caddy|lighttpd|envoy|haproxy|traefik)$/;

/** Why a caller is riskier than a plain unknown binary. */
export function riskTraits(h: HostImdsEvent): string[] {
  const p = h.event.process;
  const names = [exeName(p.exe), exeName(p.argv?.[0])].filter(Boolean);
  const traits: string[] = [];
  if (names.some((n) => INTERPRETERS.test(n))) traits.push('interpreter');
  if (names.some((n) => SHELLS.test(n))) traits.push('shell');
  if (names.some((n) => FETCHERS.test(n))) traits.push('http-tool');
  if (names.some((n) => WEB_WORKERS.test(n)) || (p.ancestors ?? []).some((a) => WEB_WORKERS.test(exeName(a.exe))))
    traits.push('web-server-worker');
  if (p.container) traits.push('container');
  return traits;
}

/** Paths whose reading by an unknown caller matters. Connection-only events (auditd, procfs) count too: the path is unknown. */
function sensitive(h: HostImdsEvent): boolean {
  return h.pathClass === null || h.pathClass === 'credentials' || h.pathClass === 'token';
}

export interface UnusualCallerInput {
  /** The baseline says this (exe, user, container, path class) was seen before. */
  known: boolean;
  /** The baseline is still learning: nothing is unusual yet. */
  learning: boolean;
  allow?: readonly CallerPattern[];
}

/**
 * A process outside the baseline, the built-in expected callers and the allowlist touches the credential or token
 * paths (or, for connection-level sensors, the service at all). Severity starts at medium and rises for
 * interpreters, shells, HTTP tools and web-server workers, and again for processes in containers.
 */
export function imdsUnusualCaller(h: HostImdsEvent, input: UnusualCallerInput): Finding[] {
  if (input.known || input.learning || !sensitive(h)) return [];
  const p = h.event.process;
  const expected = expectedCaller(
    {
      exe: p.exe,
      argv: p.argv,
      uid: p.uid,
      user: p.user,
      container: p.container,
      netns: p.netns,
      containerKey: h.containerKey,
      pathClass: h.pathClass,
    },
    input.allow,
  );
  if (expected) return [];
  const traits = riskTraits(h);
  let severity: Severity = h.pathClass === null ? 'low' : 'medium';
  if (traits.some((t) => t !== 'container')) severity = raiseSeverity(severity);
  if (traits.includes('container')) severity = raiseSeverity(severity);
  const who = exeName(p.exe) || `pid ${p.pid}`;
  const what =
    h.pathClass === null ? 'connected to the metadata service' : `requested ${h.event.http?.path ?? h.pathClass}`;
  return [
    hostFinding(h, {
      ruleId: IMDS_UNUSUAL_CALLER.id,
      ruleName: IMDS_UNUSUAL_CALLER.name,
      severity,
      confidence: traits.length > 0 ? 0.8 : 0.6,
      attack: [ATTACK.cloudInstanceMetadataApi],
      title: `Unexpected caller ${who} (uid ${p.uid ?? '?'}${p.container ? `, container ${p.container.slice(0, 12)}` : ''}) ${what}`,
      description:
        'Neither the learned baseline, the built-in list of cloud agents nor the allowlist expects this process to read metadata credentials.',
      remediation:
        'Find out why this process reads instance credentials. If it is legitimate, add it to the allowlist; otherwise contain it, rotate the role credentials and block it (imdsguard proxy, or a hop limit of 1 for containers).',
      idEvidence: [p.exe, p.uid, h.containerKey ?? p.container, h.pathClass ?? 'connect'],
      evidence: { traits, path_class: h.pathClass },
    }),
  ];
}
