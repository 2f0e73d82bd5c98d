export {
  AWS_TOKEN_HEADER,
  AWS_TOKEN_PATH,
  AWS_TTL_HEADER,
  isAwsImds,
  isTokenRequest,
  tokenTtlSeconds,
} from './aws-semantics.ts';
export { type CanonicalTarget, canonicalTarget } from './canonical-path.ts';
export { callerKey, DEFAULT_CREDENTIALS_RULE, DEFAULT_UNMATCHED_RULE, type DecideContext, decide } from './decide.ts';
export { parsePolicy } from './load.ts';
export { newRateState, type RateState } from './rate-limit.ts';
export { PROXY_SENSOR, type ProxyEventRecord, type ProxyOutcome, proxyEvent, proxyFinding } from './records.ts';
export { relayProblem } from './relay-check.ts';
export { targetProblem } from './target-check.ts';
export type * from './types.ts';
