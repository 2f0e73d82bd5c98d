/**
 * Loader hooks registered at run time: `module.register()` runs the hooks module's top level on the loader thread,
 * where the guard was never installed. A guarded process (the built guard, as users run it) registers a hooks module
 * whose top level connects to the managed identity endpoint on loopback (Azure Arc, 127.0.0.1:40342): unguarded it
 * reaches the port (ECONNREFUSED where nothing listens), and in block mode `register` is refused before it runs.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

const GUARD_MODULE = new URL('../../dist/guard/index.js', import.meta.url);
const why = existsSync(GUARD_MODULE) ? null : 'dist/ is not built (npm run build)';
if (why && process.env.CI === 'true') throw new Error(`loader tests cannot run under CI: ${why}`);

describe('module.register() in a guarded process', { skip: why ?? false }, () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'imdsguard-loader-'));
    // The hooks module's top level connects; initialize() (which register waits for) returns when that ended.
    writeFileSync(
      join(dir, 'hooks.mjs'),
      `import net from 'node:net';
import { writeFileSync } from 'node:fs';
const ended = new Promise((resolve) => {
  net.connect(40342, '127.0.0.1')
    .on('connect', function () { this.destroy(); resolve('connected'); })
    .on('error', (e) => resolve(e.code));
});
export async function initialize({ out }) { writeFileSync(out, await ended); }
`,
    );
  });
  after(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  async function run(mode: 'block' | 'monitor'): Promise<{ register: string; findings: string[]; hooks: string }> {
    const out = join(dir, `outcome-${mode}`);
    const app = join(dir, `app-${mode}.mjs`);
    writeFileSync(
      app,
      `import { installGuard } from ${JSON.stringify(GUARD_MODULE.href)};
import { register } from 'node:module';
const findings = [];
installGuard({ mode: ${JSON.stringify(mode)}, report: 'none', onFinding: (f) => findings.push(f.rule.id + ' ' + f.decision) });
let outcome = 'registered';
try { register('./hooks.mjs', import.meta.url, { data: { out: ${JSON.stringify(out)} } }); } catch (e) { outcome = e.code; }
console.log(JSON.stringify({ register: outcome, findings }));
`,
    );
    const stdout = await new Promise<string>((resolve, reject) => {
      execFile(process.execPath, [app], { cwd: dir, timeout: 60_000 }, (err, o, e) =>
        err ? reject(new Error(`${err.message}\n${e}`)) : resolve(o),
      );
    });
    const r = JSON.parse(stdout) as { register: string; findings: string[] };
    return { ...r, hooks: existsSync(out) ? readFileSync(out, 'utf8') : 'did not run' };
  }

  test('block mode: register() is refused with a finding, and the hooks module never runs', async () => {
    const r = await run('block');
    assert.equal(r.register, 'ERR_IMDSGUARD_BLOCKED', JSON.stringify(r));
    assert.equal(r.hooks, 'did not run');
    assert.deepEqual(r.findings, ['guard-loader-hooks deny']);
  });

  test('monitor mode: the hooks are registered and the registration recorded', async () => {
    const r = await run('monitor');
    assert.equal(r.register, 'registered', JSON.stringify(r));
    assert.deepEqual(r.findings, ['guard-loader-hooks audit']);
    // Unguarded there, as monitor mode says: the port was reached (refused when nothing listens on it, connected when
    // something on this machine does; never the guard's refusal).
    assert.match(r.hooks, /^(ECONNREFUSED|connected)$/);
  });
});
