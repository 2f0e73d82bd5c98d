/**
 * Whether this process has an inspector port open, read with node:inspector's own `url()` taken when the guard
 * loads. A port opened after the guard was installed is one the guard did not expect (it refuses every opener it
 * knows: `inspector.open()`, the inspector binding, `SIGUSR1`): any code in the process could connect to it over
 * loopback and read the guard's closures, so while one is open no caller is trusted with a metadata service.
 * Kept apart from hook-inspector.ts so that the decision can ask without importing the hooks.
 */
import { createRequire } from 'node:module';
import { ReflectApply } from './intrinsics.ts';

type Inspector = typeof import('node:inspector');

let inspectorModule: Inspector | null = null;
try {
  inspectorModule = createRequire(import.meta.url)('node:inspector') as Inspector;
} catch {
  // A Node built without the inspector has no port to open.
}
const inspectorUrl = inspectorModule ? inspectorModule.url : null;

/** The port's URL, or undefined when none is open. */
export function inspectorUrlNow(): string | undefined {
  if (!inspectorUrl || !inspectorModule) return undefined;
  try {
    return ReflectApply(inspectorUrl, inspectorModule, []) as string | undefined;
  } catch {
    return undefined;
  }
}

/** The URL open when the guard was installed in this thread (`null`: not installed yet). */
let atInstall: string | undefined | null = null;

/** Note what was open at installation (first installation only: an uninstall does not reset what is expected). */
export function noteInspectorAtInstall(): string | undefined {
  if (atInstall === null) atInstall = inspectorUrlNow();
  return atInstall;
}

/** Whether a port is open now that was not open when the guard was installed. */
export function inspectorOpenedAfterInstall(): boolean {
  if (atInstall === null) return false;
  const now = inspectorUrlNow();
  return now !== undefined && now !== atInstall;
}
