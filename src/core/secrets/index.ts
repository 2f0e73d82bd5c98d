export { hintsIn } from './context.ts';
export { applyMasks, type DetectState, detectLine, mayHoldSecret, newDetectState } from './detect.ts';
export { decodeSecretText } from './encoding.ts';
export { classifyJwt, decodeJwtPayload, type JwtIdentity } from './jwt.ts';
export { SECRET_KINDS, type SecretKind, type SecretMatch, type SecretProvider } from './kinds.ts';
export { mask, secretHash } from './mask.ts';
export { IpPseudonymiser } from './pseudonymise.ts';
export { type RedactCounts, Redactor } from './redactor.ts';
export { LeakTracker, type LineLeak, type MaskedSecret, type TrackerOptions } from './tracker.ts';
