/**
 * Capabilities of the process that would take the guard apart from inside: an inspector session (it reads any
 * closure, the guard's included, and so Node's original TCP `connect`) and module loader hooks registered at run
 * time (their module runs on the loader thread, which the guard's hooks do not reach, and can serve other source
 * for what is loaded afterwards). In block mode the guard refuses them, in monitor mode it lets them through; a
 * finding is recorded in both.
 */
import { ATTACK } from '../core/model/attack.ts';
import { type Finding, makeFinding } from '../core/model/finding.ts';
import { maskRecord } from '../core/secrets/masker.ts';
import { GUARD_BLOCKED_CODE } from './blocked-error.ts';
import { processInfo } from './decide.ts';
import { DateNow, ObjectDefineProperty, ReflectApply } from './intrinsics.ts';
import type { GuardMode } from './options.ts';

export interface CapabilityRule {
  readonly id: string;
  readonly name: string;
  /** Why the capability defeats the guard (the finding's description). */
  readonly why: string;
  readonly remediation: string;
}

export const INSPECTOR_RULE: CapabilityRule = Object.freeze({
  id: 'guard-inspector-session',
  name: 'In-process inspector session',
  why: 'an inspector session inside the process can read the guard closures and reach the original connect of the TCP handle',
  remediation:
    'Debug with --inspect from outside the process, not with node:inspector sessions opened by application code; find which module opened it.',
});

export const INSPECTOR_PORT_RULE: CapabilityRule = Object.freeze({
  id: 'guard-inspector-port',
  name: 'Inspector port opened in the process',
  why: 'an inspector port accepts sessions from any code in the process over loopback, and a session can read the guard closures and reach the original connect of the TCP handle',
  remediation:
    'Start the process with --inspect when it must be debugged, not in production; find what sent SIGUSR1 (kill -USR1, process.kill, process._debugProcess) or opened the port.',
});

export const LOADER_RULE: CapabilityRule = Object.freeze({
  id: 'guard-loader-hooks',
  name: 'Module loader hooks registered at run time',
  why: 'a hooks module registered with module.register() runs on the loader thread, outside the guard, and its hooks can serve other source for modules loaded afterwards',
  remediation:
    'Register loader hooks before the guard (node --import <hooks> --import imdsguard/guard/register app.js), or find which module registered them.',
});

/** What the checks ask of the installed guard: its mode and where findings go (null once uninstalled). */
export type CapabilityPolicy = () => { mode: GuardMode; emit: (f: Finding) => void } | null;

let policy: CapabilityPolicy = () => null;

/** Point the checks at the installed guard; the function returned points them at nothing (uninstall). */
export function setCapabilityPolicy(p: CapabilityPolicy): () => void {
  policy = p;
  return () => {
    if (policy === p) policy = () => null;
  };
}

function capabilityFinding(rule: CapabilityRule, what: string, mode: GuardMode, refusing: boolean): Finding {
  const outcome = refusing && mode === 'block' ? 'deny' : 'audit';
  return maskRecord(
    makeFinding({
      idEvidence: [rule.id, process.pid, what, outcome, DateNow()],
      rule: { id: rule.id, name: rule.name },
      severity: 'high',
      confidence: 1,
      attack: [ATTACK.cloudInstanceMetadataApi],
      title: !refusing ? `Found ${what}` : outcome === 'deny' ? `Refused ${what}` : `Allowed ${what}`,
      description: rule.why,
      remediation: rule.remediation,
      origin: { sensor: 'imdsguard-guard' },
      time: new Date().toISOString(),
      process: processInfo(),
      decision: outcome,
      policy_rule: `mode:${mode}`,
      evidence: { via: rule.id, call: what },
    }),
  );
}

/** Record `what`; in block mode throw the guard's error. */
export function checkCapability(rule: CapabilityRule, what: string): void {
  const p = policy();
  if (!p) return;
  let id = '';
  try {
    const f = capabilityFinding(rule, what, p.mode, true);
    id = f.id;
    p.emit(f);
  } catch {
    // Reporting must not decide.
  }
  if (p.mode === 'block') {
    const e = new Error(`imdsguard refused ${what}: ${rule.why}`);
    ObjectDefineProperty(e, 'code', { value: GUARD_BLOCKED_CODE, enumerable: true });
    ObjectDefineProperty(e, 'findingId', { value: id, enumerable: true });
    throw e;
  }
}

/** Record `what` without refusing anything (something the guard can no longer stop, such as a port already open). */
export function recordCapability(rule: CapabilityRule, what: string): void {
  const p = policy();
  if (!p) return;
  try {
    p.emit(capabilityFinding(rule, what, p.mode, false));
  } catch {
    // Reporting must not decide.
  }
}

/**
 * Replace `target[name]` by a function that checks first, read-only and non-configurable, so that the original
 * cannot be put back. `argOf` names the call from its arguments; null lets the call through unchecked.
 */
export function guardMethod(
  target: object,
  name: string,
  rule: CapabilityRule,
  what: (args: unknown[]) => string | null,
  rewrite?: (args: unknown[]) => unknown[],
): void {
  const original = (target as Record<string, unknown>)[name];
  if (typeof original !== 'function') return;
  const wrapped = {
    [name](this: unknown, ...given: unknown[]) {
      const args = rewrite ? rewrite(given) : given;
      const w = what(args);
      if (w !== null) checkCapability(rule, w);
      return ReflectApply(original, this, args);
    },
  }[name]!;
  ObjectDefineProperty(target, name, { value: wrapped, writable: false, configurable: false, enumerable: false });
}
