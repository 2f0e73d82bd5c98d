import type { Finding } from '../model/finding.ts';
import type { CallerPattern } from '../rules/imds-expected-callers.ts';
import type { HostImdsEvent } from '../rules/imds-host-event.ts';
import { imdsUnusualCaller } from '../rules/imds-unusual-caller.ts';
import { imdsV1Use } from '../rules/imds-v1-use.ts';
import { type BaselineState, baselineKey, observeBaseline } from './imds-baseline.ts';
import {
  ENUMERATION_DEFAULTS,
  type EnumerationOptions,
  type EnumerationState,
  imdsEnumeration,
} from './imds-enumeration.ts';
import { imdsV2Sequence, type V2SequenceState } from './imds-v2-sequence.ts';

/** Everything the host detections remember. The baseline and sequences persist; windows do not need to. */
export interface HostDetectionState {
  baseline: BaselineState;
  sequences: V2SequenceState;
  windows: EnumerationState;
}

export interface HostDetectionConfig {
  allow: readonly CallerPattern[];
  enumeration?: EnumerationOptions;
}

/**
 * Run every host detection on one event, in a fixed order: v1 use, unusual caller (against the baseline as it was
 * before this event), the v2 sequence, enumeration and bursts. State changes in place.
 */
export function detectHost(state: HostDetectionState, h: HostImdsEvent, config: HostDetectionConfig): Finding[] {
  const p = h.event.process;
  const key = baselineKey({
    exe: p.exe,
    user: p.user,
    uid: p.uid,
    containerKey: h.containerKey,
    pathClass: h.pathClass,
  });
  const seen = observeBaseline(state.baseline, key, h.timeMs);
  return [
    ...imdsV1Use(h),
    ...imdsUnusualCaller(h, { known: seen.known, learning: seen.learning, allow: config.allow }),
    ...imdsV2Sequence(state.sequences, h),
    ...imdsEnumeration(state.windows, h, config.enumeration ?? ENUMERATION_DEFAULTS),
  ];
}
