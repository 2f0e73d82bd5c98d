import { ATTACK } from '../model/attack.ts';
import type { Finding } from '../model/finding.ts';
import { exeName, type HostImdsEvent, hostFinding } from '../rules/imds-host-event.ts';

export const IMDS_V2_SEQUENCE = { id: 'imds-v2-credentials-sequence', name: 'IMDSv2 token then credentials' } as const;

/** Token PUTs remembered per process (and per parent, for shells that run one curl per step). Serialisable. */
export interface V2SequenceState {
  /** key (`pid:N` or `ppid:N`, with netns) → last token PUT. */
  tokens: Record<string, { ms: number; pid: number; exe?: string }>;
}

/** IMDSv2 tokens live at most 6 hours (21600 s); nothing can pair beyond that. */
export const TOKEN_MAX_TTL_MS = 21_600_000;
export const V2_SEQUENCE_MAX_KEYS = 4096;

export function newV2Sequence(): V2SequenceState {
  return { tokens: {} };
}

function keys(h: HostImdsEvent): string[] {
  const p = h.event.process;
  const ns = p.netns ?? 0;
  const out = [`pid:${ns}:${p.pid}`];
  if (p.ppid !== undefined && p.ppid > 1) out.push(`ppid:${ns}:${p.ppid}`);
  return out;
}

function prune(state: V2SequenceState, nowMs: number): void {
  const entries = Object.entries(state.tokens);
  for (const [k, v] of entries) if (nowMs - v.ms > TOKEN_MAX_TTL_MS) delete state.tokens[k];
  const left = Object.entries(state.tokens);
  if (left.length > V2_SEQUENCE_MAX_KEYS) {
    left.sort((a, b) => a[1].ms - b[1].ms);
    for (const [k] of left.slice(0, left.length - V2_SEQUENCE_MAX_KEYS)) delete state.tokens[k];
  }
}

/**
 * The IMDSv2 sequence: a token PUT followed by a credentials GET with the token header, from the same process (or
 * a sibling under the same parent, as when a shell script runs curl twice). Reports the time between them; a
 * caller that fetches a token just to read credentials is what an intruder's script looks like too, so the
 * finding is informational on its own and gives the unusual-caller finding its context. State changes in place.
 */
export function imdsV2Sequence(state: V2SequenceState, h: HostImdsEvent): Finding[] {
  prune(state, h.timeMs);
  const p = h.event.process;
  if (h.tokenPut) {
    for (const k of keys(h)) state.tokens[k] = { ms: h.timeMs, pid: p.pid, ...(p.exe ? { exe: p.exe } : {}) };
    return [];
  }
  if (h.pathClass !== 'credentials' || !h.awsToken) return [];
  const [own, parent] = keys(h);
  const put = (own ? state.tokens[own] : undefined) ?? (parent ? state.tokens[parent] : undefined);
  if (!put) return [];
  const seconds = Math.max(0, (h.timeMs - put.ms) / 1000);
  const who = exeName(p.exe) || `pid ${p.pid}`;
  return [
    hostFinding(h, {
      ruleId: IMDS_V2_SEQUENCE.id,
      ruleName: IMDS_V2_SEQUENCE.name,
      severity: 'info',
      confidence: put.pid === p.pid ? 0.95 : 0.8,
      attack: [ATTACK.cloudInstanceMetadataApi],
      title: `${who} fetched an IMDSv2 token and then role credentials ${seconds.toFixed(3)} s later`,
      remediation:
        'Expected for SDKs and cloud agents. For any other caller, check the unusual-caller findings for the same process and whether the credentials were used from elsewhere.',
      idEvidence: [p.pid, p.netns, put.ms, h.event.http?.path],
      evidence: {
        seconds_between: Number(seconds.toFixed(6)),
        token_pid: put.pid,
        token_exe: put.exe,
        same_process: put.pid === p.pid,
      },
    }),
  ];
}
