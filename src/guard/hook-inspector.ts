/**
 * The in-process inspector. A `node:inspector` Session connected from inside the process can read any closure
 * (`Runtime.getProperties` on a function's `[[Scopes]]`), the guard's included, and so get Node's original TCP
 * `connect` that the guard keeps to call after its check: no JavaScript structure hides a value from the debugger.
 * So in block mode the guard refuses to open one — `Session.prototype.connect`, `connectToMainThread` (a
 * worker's session into the main thread) and `inspector.open()` (a debugging port that code in the process could
 * then reach over loopback) throw the guard's error — and records a finding in either mode. The methods are
 * replaced once, read-only and non-configurable, like the TCP handle's.
 */
import { createRequire, syncBuiltinESMExports } from 'node:module';
import { ATTACK } from '../core/model/attack.ts';
import { type Finding, makeFinding } from '../core/model/finding.ts';
import { maskRecord } from '../core/secrets/masker.ts';
import { GUARD_BLOCKED_CODE } from './blocked-error.ts';
import { processInfo } from './decide.ts';
import type { GuardMode } from './options.ts';

export const INSPECTOR_RULE = { id: 'guard-inspector-session', name: 'In-process inspector session' } as const;

type Inspector = typeof import('node:inspector');

/** What the hook asks of the installed guard: its mode and where findings go (null once uninstalled). */
export type InspectorPolicy = () => { mode: GuardMode; emit: (f: Finding) => void } | null;

let policy: InspectorPolicy = () => null;
let hooked = false;

function inspectorFinding(what: string, mode: GuardMode): Finding {
  const outcome = mode === 'block' ? 'deny' : 'audit';
  return maskRecord(
    makeFinding({
      idEvidence: [INSPECTOR_RULE.id, process.pid, what, outcome, Date.now()],
      rule: { ...INSPECTOR_RULE },
      severity: 'high',
      confidence: 1,
      attack: [ATTACK.cloudInstanceMetadataApi],
      title:
        outcome === 'deny'
          ? `Refused an in-process inspector session (${what})`
          : `In-process inspector session (${what})`,
      description:
        'an inspector session inside the process can read the guard closures and reach the original connect of the TCP handle',
      remediation:
        'Debug with --inspect from outside the process, not with node:inspector sessions opened by application code; find which module opened it.',
      origin: { sensor: 'imdsguard-guard' },
      time: new Date().toISOString(),
      process: processInfo(),
      decision: outcome,
      policy_rule: `mode:${mode}`,
      evidence: { via: 'inspector', call: what },
    }),
  );
}

function check(what: string): void {
  const p = policy();
  if (!p) return;
  const f = inspectorFinding(what, p.mode);
  try {
    p.emit(f);
  } catch {
    // Reporting must not decide.
  }
  if (p.mode === 'block') {
    throw Object.assign(
      new Error(
        `imdsguard refused ${what}: an in-process inspector session could read the guard's state and bypass it`,
      ),
      { code: GUARD_BLOCKED_CODE, findingId: f.id },
    );
  }
}

function wrap(target: object, name: string, what: string): void {
  const original = (target as Record<string, unknown>)[name];
  if (typeof original !== 'function') return;
  const wrapped = {
    [name](this: unknown, ...args: unknown[]) {
      check(what);
      return Reflect.apply(original, this, args);
    },
  }[name]!;
  Object.defineProperty(target, name, { value: wrapped, writable: false, configurable: false, enumerable: false });
}

/** Point the hook at the installed guard (replaced once per process; uninstall points it at nothing). */
export function hookInspector(p: InspectorPolicy): () => void {
  policy = p;
  if (!hooked) {
    hooked = true;
    let inspector: Inspector;
    try {
      inspector = createRequire(import.meta.url)('node:inspector') as Inspector;
    } catch {
      // A Node built without the inspector has no session to open.
      return () => {
        if (policy === p) policy = () => null;
      };
    }
    wrap(inspector.Session.prototype, 'connect', 'inspector Session.connect()');
    wrap(inspector.Session.prototype, 'connectToMainThread', 'inspector Session.connectToMainThread()');
    wrap(inspector, 'open', 'inspector.open()');
    // `import { open } from 'node:inspector'` reads the module's ES namespace.
    syncBuiltinESMExports();
  }
  return () => {
    if (policy === p) policy = () => null;
  };
}
