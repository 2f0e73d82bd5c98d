/**
 * `import 'imdsguard/guard/register'` or `node --import imdsguard/guard/register app.js`: install the guard with
 * its settings from `IMDSGUARD_GUARD_*` variables (mode block by default, findings to stderr as JSON lines).
 * In a worker thread started by a guarded thread (which preloads this module first), the settings are the ones
 * that thread's guard handed over, never the worker's environment.
 */
import { settingsFromParent } from './hook-worker.ts';
import { guardInstalled, installGuard, installWorkerGuard } from './install.ts';

const fromParent = settingsFromParent();
// Preloaded by the guard and also named by the worker's inherited `--import imdsguard/guard/register`: once.
if (!guardInstalled()) {
  if (fromParent) installWorkerGuard(fromParent);
  else installGuard();
}
