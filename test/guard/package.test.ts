/**
 * The published shape: `npm pack` (which builds), install the tarball in a scratch directory, and run an app with
 * `node --import imdsguard/guard/register` inside a test network namespace whose fake metadata service is the
 * destination. Also checks that the other public subpaths resolve from the installed package.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createNetns, netnsUnavailable, type TestNetns } from './netns.ts';

const why = netnsUnavailable();
if (why && process.env.CI === 'true') throw new Error(`package test cannot run under CI: ${why}`);

const ROOT = resolve(import.meta.dirname, '../..');
/** The package's runtime dependencies, linked from this checkout instead of downloaded. */
const RUNTIME_DEPS = Object.keys(
  (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { dependencies?: Record<string, string> })
    .dependencies ?? {},
);

describe('installed package: node --import imdsguard/guard/register', { skip: why ?? false, timeout: 120_000 }, () => {
  let dir: string;
  let ns: TestNetns;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'imdsguard-pack-'));
    const pack = spawnSync('npm', ['pack', '--silent', '--pack-destination', dir], {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 90_000,
    });
    assert.equal(pack.status, 0, `npm pack (which builds) failed:\n${pack.stdout}\n${pack.stderr}`);
    const tgz = pack.stdout.trim().split('\n').pop()!;
    const pkgDir = join(dir, 'node_modules', 'imdsguard');
    mkdirSync(pkgDir, { recursive: true });
    const untar = spawnSync('tar', ['xzf', join(dir, tgz), '-C', pkgDir, '--strip-components=1']);
    assert.equal(untar.status, 0);
    for (const d of RUNTIME_DEPS) {
      mkdirSync(dirname(join(dir, 'node_modules', d)), { recursive: true });
      symlinkSync(join(ROOT, 'node_modules', d), join(dir, 'node_modules', d));
    }
    writeFileSync(
      join(dir, 'app.mjs'),
      `import http from 'node:http';
const mw = await import('imdsguard/guard/middleware');
const g = await import('imdsguard/guard');
const r = await fetch('http://169.254.169.254/latest/meta-data/iam/security-credentials/').then((x) => ({ status: x.status }), (e) => ({ code: e.code, message: e.message }));
const h = await new Promise((res) => http.get('http://169.254.169.254/latest/user-data', (x) => { x.resume(); res({ status: x.statusCode }); }).on('error', (e) => res({ code: e.code })));
console.log(JSON.stringify({ fetch: r, http: h, exports: [typeof mw.imdsguardExpress, typeof g.installGuard] }));
`,
    );
    ns = createNetns({ addresses: ['169.254.169.254'], hosts: {} });
    await ns.start([
      process.execPath,
      '--import',
      'tsx',
      join(ROOT, 'test/fake-imds/serve.ts'),
      '--listen',
      '169.254.169.254:80',
    ]);
  });
  after(() => {
    ns?.remove();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  async function runApp(env: Record<string, string>) {
    const r = await ns.exec(
      ['sh', '-c', `cd ${dir} && exec ${process.execPath} --import imdsguard/guard/register app.mjs`],
      {
        env: { ...process.env, ...env },
      },
    );
    assert.equal(r.code, 0, r.stderr);
    return {
      out: JSON.parse(r.stdout.trim()),
      findings: r.stderr
        .trim()
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l)),
    };
  }

  test('block by default: both requests fail with ERR_IMDSGUARD_BLOCKED, findings on stderr as JSON', async () => {
    const { out, findings } = await runApp({});
    assert.equal(out.fetch.code, 'ERR_IMDSGUARD_BLOCKED', JSON.stringify(out));
    assert.equal(out.http.code, 'ERR_IMDSGUARD_BLOCKED');
    assert.deepEqual(out.exports, ['function', 'function']);
    assert.equal(findings.length, 2);
    assert.deepEqual(
      findings.map((f) => [f.decision, f.target.path_class]),
      [
        ['deny', 'credentials'],
        ['deny', 'user-data'],
      ],
    );
    assert.match(findings[0].evidence.app_frame, /app\.mjs$/);
  });

  test('IMDSGUARD_GUARD_MODE=monitor lets them through and still reports', async () => {
    const { out, findings } = await runApp({ IMDSGUARD_GUARD_MODE: 'monitor' });
    assert.equal(out.fetch.status, 200);
    assert.equal(out.http.status, 200);
    assert.deepEqual(
      findings.map((f) => f.decision),
      ['audit', 'audit'],
    );
  });
});
