import { ATTACK } from '../model/attack.ts';
import type { Finding } from '../model/finding.ts';
import { exeName, type HostImdsEvent, hostFinding } from '../rules/imds-host-event.ts';

export const IMDS_ENUMERATION = { id: 'imds-enumeration', name: 'Metadata enumeration by one process' } as const;
export const IMDS_BURST = { id: 'imds-request-burst', name: 'Burst of metadata requests by one process' } as const;

export interface EnumerationOptions {
  windowMs: number;
  /** Distinct paths within the window that make an enumeration. */
  distinctPaths: number;
  /** Requests (or connections) within the window that make a burst. */
  burst: number;
  /** Processes tracked at once; the oldest go first. */
  maxProcesses: number;
  /** Distinct paths remembered per process (beyond the threshold nothing more is learned). */
  maxPathsPerProcess: number;
}

export const ENUMERATION_DEFAULTS: EnumerationOptions = {
  windowMs: 10_000,
  distinctPaths: 15,
  burst: 200,
  maxProcesses: 4096,
  maxPathsPerProcess: 64,
};

interface Window {
  startMs: number;
  lastMs: number;
  count: number;
  paths: string[];
  enumerationReported: boolean;
  burstReported: boolean;
}

/** Per-process tumbling windows. Kept in memory only (a window is seconds long). */
export interface EnumerationState {
  windows: Map<string, Window>;
}

export function newEnumeration(): EnumerationState {
  return { windows: new Map() };
}

/**
 * Many distinct metadata paths from one process in a short window (walking the tree: a recon script or a
 * scanner), and bursts of requests (a loop, or a flood through an SSRF). One finding per process per window.
 */
export function imdsEnumeration(
  state: EnumerationState,
  h: HostImdsEvent,
  opts: EnumerationOptions = ENUMERATION_DEFAULTS,
): Finding[] {
  const p = h.event.process;
  const key = `${p.netns ?? 0}:${p.pid}`;
  let w = state.windows.get(key);
  if (!w || h.timeMs - w.startMs > opts.windowMs) {
    w = { startMs: h.timeMs, lastMs: h.timeMs, count: 0, paths: [], enumerationReported: false, burstReported: false };
    state.windows.delete(key);
    state.windows.set(key, w);
    // Map iteration is insertion order: the first keys are the least recently (re)started windows.
    while (state.windows.size > opts.maxProcesses) {
      const first = state.windows.keys().next().value;
      if (first === undefined) break;
      state.windows.delete(first);
    }
  }
  w.lastMs = h.timeMs;
  w.count++;
  const path = h.event.http?.path;
  if (path !== undefined && w.paths.length < opts.maxPathsPerProcess && !w.paths.includes(path)) w.paths.push(path);
  const out: Finding[] = [];
  const who = exeName(p.exe) || `pid ${p.pid}`;
  const seconds = Math.max(0.001, (h.timeMs - w.startMs) / 1000);
  if (!w.enumerationReported && w.paths.length >= opts.distinctPaths) {
    w.enumerationReported = true;
    out.push(
      hostFinding(h, {
        ruleId: IMDS_ENUMERATION.id,
        ruleName: IMDS_ENUMERATION.name,
        severity: 'medium',
        confidence: 0.75,
        attack: [ATTACK.cloudInstanceMetadataApi, ATTACK.cloudServiceDiscovery],
        title: `${who} requested ${w.paths.length} distinct metadata paths in ${seconds.toFixed(1)} s`,
        remediation:
          'Metadata walking is reconnaissance unless the process is a known agent. Identify the process and why it lists the metadata tree.',
        idEvidence: [p.pid, p.netns, w.startMs],
        evidence: {
          distinct_paths: w.paths.length,
          window_s: opts.windowMs / 1000,
          sample_paths: w.paths.slice(0, 10),
        },
      }),
    );
  }
  if (!w.burstReported && w.count >= opts.burst) {
    w.burstReported = true;
    out.push(
      hostFinding(h, {
        ruleId: IMDS_BURST.id,
        ruleName: IMDS_BURST.name,
        severity: 'low',
        confidence: 0.7,
        attack: [ATTACK.cloudInstanceMetadataApi],
        title: `${who} sent ${w.count} metadata requests in ${seconds.toFixed(1)} s`,
        remediation:
          'A client that floods the metadata service is throttled by the provider and may be looping or abused. Check the process.',
        idEvidence: [p.pid, p.netns, w.startMs, 'burst'],
        evidence: { requests: w.count, window_s: opts.windowMs / 1000 },
      }),
    );
  }
  return out;
}
