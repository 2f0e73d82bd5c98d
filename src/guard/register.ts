/**
 * `import 'imdsguard/guard/register'` or `node --import imdsguard/guard/register app.js`: install the guard with
 * its settings from `IMDSGUARD_GUARD_*` variables (mode block by default, findings to stderr as JSON lines).
 */
import { installGuard } from './install.ts';

installGuard();
