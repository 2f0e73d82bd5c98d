/**
 * The pure detection core: the endpoint catalogue, decoders, the classifier and the finding model.
 * @module
 */
export { type ClassifyContext, classify, verdictOf } from './classify.ts';
export { canonicalHostReadings, type HostReading, internalKindOf } from './decode/host.ts';
export { type ParsedIp, parseIPv4Loose, parseIPv6 } from './decode/ip.ts';
export { decodeViews, type View } from './decode/views.ts';
export { type MetadataService, type PathRule, type RequiredHeader, SERVICES } from './endpoints/catalogue.ts';
export {
  ALL_HOSTNAMES,
  ALL_IPV4,
  ALL_IPV6,
  type EndpointMatch,
  matchEndpoint,
  PATH_SENSITIVITY,
} from './endpoints/lookup.ts';
export { ImdsguardError, type ImdsguardErrorCode, InputSyntaxError } from './errors.ts';
export { ATTACK, type AttackId } from './model/attack.ts';
export type { CloudApiEvent, ConnectEvent, HttpEvent, ImdsEvent, InventoryEvent, ProcessInfo } from './model/event.ts';
export { type Finding, type FindingOrigin, type FindingRule, findingId, makeFinding } from './model/finding.ts';
export type {
  HitContext,
  InternalKind,
  MetadataHit,
  PathClass,
  Transform,
  Verdict,
  VerdictOrNone,
} from './model/hit.ts';
export { PATH_CLASSES } from './model/hit.ts';
export { type OcsfDetectionFinding, toOcsf } from './model/ocsf.ts';
export { atLeast, isSeverity, SEVERITIES, type Severity } from './model/severity.ts';
export { mayAddressMetadata } from './prefilter.ts';
