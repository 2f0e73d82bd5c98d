/**
 * Module loader hooks registered at run time. `module.register()` starts (or reuses) the loader thread and runs
 * the hooks module's top level there: a thread the guard was never installed in, since Node runs no `--import`
 * preload there. Its `load` hook can also serve other source for every module loaded afterwards. So in block mode
 * `register` is refused, with a finding (recorded in monitor mode too). Hooks registered before the guard
 * (`node --import ./hooks.mjs --import imdsguard/guard/register`, or `--loader`) are the process's own setup and
 * stay; `module.registerHooks()` (Node ≥ 22.15) runs its hooks on the thread that registers them, which is guarded.
 * Replaced once per process, read-only, on the module object and in its ES namespace.
 */
import { createRequire, syncBuiltinESMExports } from 'node:module';
import { guardMethod, LOADER_RULE } from './capability.ts';

let hooked = false;

export function hookLoader(): void {
  if (hooked) return;
  hooked = true;
  const moduleObject = createRequire(import.meta.url)('node:module') as object;
  guardMethod(moduleObject, 'register', LOADER_RULE, () => 'module.register() of loader hooks');
  syncBuiltinESMExports();
}
