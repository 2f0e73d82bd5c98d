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
 *
 * A port can also be opened from outside JavaScript: on SIGUSR1 Node starts the inspector on `process.debugPort`,
 * and `process._debugProcess(pid)` is `kill(pid, SIGUSR1)` on POSIX, so application code opens its own port with
 * `process.kill(process.pid, 'SIGUSR1')`, `process._debugProcess(process.pid)` or a `kill -USR1` it runs in a child.
 * Node opens the inspector on that signal only while no JavaScript listener is registered for it (the listener's
 * signal handler replaces Node's), so the main thread's guard listens for SIGUSR1: in block mode the signal opens
 * nothing and is recorded; in monitor mode, and after uninstall, the listener opens the port as Node would have.
 * Removing the listener does not give the signal back to the inspector: libuv then restores the default action,
 * and SIGUSR1 ends the process. A port open anyway — `--inspect` before the guard, or opened by a way this does not
 * know — is recorded, and one that appears after installation makes every metadata connection refused in block
 * mode (inspector-port.ts, decide.ts).
 */
import { EventEmitter } from 'node:events';
import { createRequire, syncBuiltinESMExports } from 'node:module';
import { isMainThread } from 'node:worker_threads';
import { checkCapability, guardMethod, INSPECTOR_PORT_RULE, INSPECTOR_RULE, recordCapability } from './capability.ts';
import { noteInspectorAtInstall } from './inspector-port.ts';
import { ReflectApply, StringCtor } from './intrinsics.ts';

/** Taken at load: the listener is added and counted with these, whatever replaced them on `process` later. */
const emitterOn = EventEmitter.prototype.on;
const emitterListenerCount = EventEmitter.prototype.listenerCount;

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
  const open = inspector.open;
  const url = inspector.url;
  guardMethod(inspector, 'open', INSPECTOR_RULE, always('inspector.open()'));
  // `import { open } from 'node:inspector'` reads the module's ES namespace.
  syncBuiltinESMExports();

  if (noteInspectorAtInstall() !== undefined)
    recordCapability(INSPECTOR_PORT_RULE, 'an inspector port open when the guard was installed');
  // Signals reach the main thread's `process` only.
  if (!isMainThread) return;
  const onActivationSignal = () => {
    // Node does nothing on SIGUSR1 while a port is open, nor while another listener takes the signal.
    if (ReflectApply(url, inspector, []) !== undefined) return;
    if ((ReflectApply(emitterListenerCount, process, ['SIGUSR1']) as number) > 1) return;
    try {
      checkCapability(INSPECTOR_PORT_RULE, 'SIGUSR1 (opens an inspector port)');
    } catch {
      return;
    }
    try {
      // Monitor mode or uninstalled: what Node does on the signal (the port and host of its debug options).
      ReflectApply(open, inspector, []);
    } catch {
      // A port that cannot be opened (already in use) must not throw out of a signal handler.
    }
  };
  ReflectApply(emitterOn, process, ['SIGUSR1', onActivationSignal]);
}
