/**
 * The in-process inspector. A session connected from inside the process can read any closure
 * (`Runtime.getProperties` on a function's `[[Scopes]]`), the guard's included, and so get Node's original TCP
 * `connect` that the guard keeps to call after its check: no JavaScript structure hides a value from the debugger.
 * So in block mode the guard refuses to open one — `Session.prototype.connect`, `connectToMainThread` (a
 * worker's session into the main thread) and `inspector.open()` (a debugging port that code in the process could
 * then reach over loopback) throw the guard's error — and records a finding in either mode. The binding under
 * node:inspector is refused the same way: `process.binding('inspector')` hands out `Connection` and
 * `MainThreadConnection` (a session without `Session.connect`) and its own `open`. The methods are replaced once,
 * read-only and non-configurable, like the TCP handle's.
 */
import { createRequire, syncBuiltinESMExports } from 'node:module';
import { guardMethod, INSPECTOR_RULE } from './capability.ts';
import { StringCtor } from './intrinsics.ts';

type Inspector = typeof import('node:inspector');

let hooked = false;

/** The name a binding is asked for, read once: an object whose `toString` answers twice cannot differ. */
function bindingName(args: unknown[]): unknown[] {
  const out = [];
  out[0] = typeof args[0] === 'string' ? args[0] : StringCtor(args[0]);
  for (let i = 1; i < args.length; i++) out[i] = args[i];
  return out;
}

/** Refuse in-process inspector sessions (once per process; the capability policy says whether and how). */
export function hookInspector(): void {
  if (hooked) return;
  hooked = true;
  guardMethod(
    process,
    'binding',
    INSPECTOR_RULE,
    (a) => (a[0] === 'inspector' ? "process.binding('inspector')" : null),
    bindingName,
  );
  let inspector: Inspector;
  try {
    inspector = createRequire(import.meta.url)('node:inspector') as Inspector;
  } catch {
    // A Node built without the inspector has no session to open.
    return;
  }
  const always = (what: string) => () => what;
  guardMethod(inspector.Session.prototype, 'connect', INSPECTOR_RULE, always('inspector Session.connect()'));
  guardMethod(
    inspector.Session.prototype,
    'connectToMainThread',
    INSPECTOR_RULE,
    always('inspector Session.connectToMainThread()'),
  );
  guardMethod(inspector, 'open', INSPECTOR_RULE, always('inspector.open()'));
  // `import { open } from 'node:inspector'` reads the module's ES namespace.
  syncBuiltinESMExports();
}
