/**
 * In-process guard and request middleware: stop outbound connections to cloud metadata services from inside a
 * Node application, and catch SSRF payloads in incoming requests.
 * @module
 */
export { GUARD_BLOCKED_CODE, GuardBlockedError, isGuardBlocked } from './blocked-error.ts';
export { type MetadataDestination, metadataAtAddress, metadataAtHostname } from './destination.ts';
export { type GuardHandle, type GuardStatus, guardInstalled, installGuard } from './install.ts';
export { type AllowRule, DEFAULT_ALLOW, type GuardMode, type GuardOptions, type GuardReport } from './options.ts';
