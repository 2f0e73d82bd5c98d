/**
 * Worker threads started by a guarded process, with the options code creating them controls: preloads of their
 * own, and an environment that names other guard settings. The metadata endpoint used is the one that lives on
 * loopback (Azure Arc, 127.0.0.1:40342), so nothing can leave this host: a request the guard let through ends in
 * ECONNREFUSED (or whatever listens there), a refused one in the guard's error.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { constants, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type * as WorkerThreads from 'node:worker_threads';
import type * as Guard from '../../src/guard/index.ts';

/** Workers load the guard's register module as a file of their own: the built one (as users run it). */
const GUARD_MODULE = new URL('../../dist/guard/index.js', import.meta.url);
const why = existsSync(GUARD_MODULE) ? null : 'dist/ is not built (npm run build)';
if (why && process.env.CI === 'true') throw new Error(`worker tests cannot run under CI: ${why}`);

const ARC = 'http://127.0.0.1:40342/metadata/identity/oauth2/token?resource=https://management.azure.com';
const AXIOS = createRequire(import.meta.url).resolve('axios');

interface Outcome {
  code: string;
  mode?: string;
}

describe('worker threads of a guarded process', { skip: why ?? false }, () => {
  let guard: Guard.GuardHandle;
  let Worker: typeof WorkerThreads.Worker;
  let SHARE_ENV: typeof WorkerThreads.SHARE_ENV;
  let dir: string;

  before(async () => {
    const g = (await import(GUARD_MODULE.href)) as typeof Guard;
    guard = g.installGuard({ mode: 'block', report: 'none' });
    // Read after installation, the way application code gets it.
    ({ Worker, SHARE_ENV } = await import('node:worker_threads'));
    dir = mkdtempSync(join(tmpdir(), 'imdsguard-worker-'));
    // A preload that keeps the TCP handle's connect as it finds it, to use it later from the worker's code.
    const grab = `const { TCP, TCPConnectWrap, constants } = process.binding('tcp_wrap');
const connect = TCP.prototype.connect;
globalThis.__grabbedConnect = (address, port) => new Promise((resolve) => {
  const h = new TCP(constants.SOCKET);
  const req = new TCPConnectWrap();
  req.oncomplete = (status) => { h.close(); resolve(status); };
  const err = connect.call(h, req, address, port);
  if (err !== 0) { h.close(); resolve(err); }
});\n`;
    writeFileSync(join(dir, 'pre.cjs'), grab);
    writeFileSync(
      join(dir, 'pre.mjs'),
      `import { createRequire } from 'node:module';\nconst require = createRequire(import.meta.url);\n${grab}`,
    );
  });
  after(() => {
    guard?.uninstall();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  let scripts = 0;
  /** Run CommonJS code as a worker's script (eval workers run no --import preloads); it posts one message. */
  async function inWorker(code: string, options: WorkerThreads.WorkerOptions = {}): Promise<Outcome> {
    const file = join(dir, `worker-${++scripts}.cjs`);
    writeFileSync(file, code);
    const w = new Worker(file, options);
    try {
      return await new Promise<Outcome>((resolve) => {
        w.once('message', (m: Outcome) => resolve(m));
        w.once('error', (e: Error) => resolve({ code: `WORKER_ERROR ${e.message}` }));
      });
    } finally {
      await w.terminate();
    }
  }

  const useGrabbed = `globalThis.__grabbedConnect('127.0.0.1', 40342).then((s) => require('node:worker_threads').parentPort.postMessage({ code: 'status ' + s }));`;
  const EACCES = `status ${-constants.errno.EACCES}`;

  for (const flag of ['--require', '--import'] as const) {
    test(`a preload named by the worker's execArgv (${flag}) runs after the guard and cannot keep an unguarded connect`, async () => {
      const file = join(dir, flag === '--require' ? 'pre.cjs' : 'pre.mjs');
      const r = await inWorker(useGrabbed, { execArgv: [flag, file] });
      // The TCP handle check refuses the metadata address (EACCES) before any packet leaves.
      assert.equal(r.code, EACCES, JSON.stringify(r));
    });
  }

  test("NODE_OPTIONS in the worker's environment (env option, process.env changed before, SHARE_ENV) preloads after the guard", async () => {
    const saved = process.env.NODE_OPTIONS;
    const preload = `--require "${join(dir, 'pre.cjs')}"`;
    const withPreload = saved ? `${saved} ${preload}` : preload;
    try {
      const viaOption = await inWorker(useGrabbed, { env: { ...process.env, NODE_OPTIONS: withPreload } });
      assert.equal(viaOption.code, EACCES, `env option: ${JSON.stringify(viaOption)}`);
      process.env.NODE_OPTIONS = withPreload;
      const viaProcessEnv = await inWorker(useGrabbed);
      assert.equal(viaProcessEnv.code, EACCES, `process.env: ${JSON.stringify(viaProcessEnv)}`);
      const viaShared = await inWorker(useGrabbed, { env: SHARE_ENV });
      assert.equal(viaShared.code, EACCES, `SHARE_ENV: ${JSON.stringify(viaShared)}`);
      assert.equal(process.env.NODE_OPTIONS, withPreload, 'the shared environment is left as it was');
    } finally {
      if (saved === undefined) delete process.env.NODE_OPTIONS;
      else process.env.NODE_OPTIONS = saved;
    }
  });

  test("a loader in the worker's NODE_OPTIONS is refused", () => {
    assert.throws(
      () =>
        new Worker('0', {
          eval: true,
          env: { NODE_OPTIONS: `--experimental-loader=${join(dir, 'pre.mjs')}` },
        }),
      (e: NodeJS.ErrnoException) => e.code === 'ERR_IMDSGUARD_BLOCKED' && /NODE_OPTIONS/.test(e.message),
    );
  });

  test('a worker may not add a loader: its hooks would run before the guard', () => {
    const loader = join(dir, 'pre.mjs');
    // Every spelling Node reads as a loader: alias, "_" for "-" in the name, the value after "=" or as the next word.
    for (const execArgv of [
      ['--experimental-loader', loader],
      [`--experimental-loader=${loader}`],
      [`--experimental_loader=${loader}`],
      ['--experimental_loader', loader],
      [`--loader=${loader}`],
      ['--conditions', 'x', `--experimental_loader=${loader}`],
    ]) {
      assert.throws(
        () => new Worker('0', { eval: true, execArgv }),
        (e: NodeJS.ErrnoException) => e.code === 'ERR_IMDSGUARD_BLOCKED' && /loader/.test(e.message),
        execArgv.join(' '),
      );
    }
  });

  test("a loader or --expose-internals in the worker's NODE_OPTIONS is refused however it is spelled", () => {
    const loader = join(dir, 'pre.mjs');
    for (const options of [
      `--experimental_loader=${loader}`,
      `--experimental_loader ${loader}`,
      `"--experimental_loader=${loader}"`,
      `--no-warnings "--exp\\erimental_loader" "${loader}"`,
      `--loader=${loader}`,
      '--expose_internals=1',
    ]) {
      assert.throws(
        () => new Worker('0', { eval: true, env: { NODE_OPTIONS: options } }),
        (e: NodeJS.ErrnoException) => e.code === 'ERR_IMDSGUARD_BLOCKED' && /NODE_OPTIONS/.test(e.message),
        options,
      );
    }
  });

  test('a worker may not add --expose-internals: internal/worker would start workers without the guard', () => {
    // Node takes the option whatever value follows "=" (even "=0"), and reads "_" as "-" in its name.
    for (const flag of [
      '--expose-internals',
      '--expose_internals',
      '--expose-internals=1',
      '--expose-internals=true',
      '--expose_internals=0',
      '--expose-internals=',
    ]) {
      assert.throws(
        () => new Worker('0', { eval: true, execArgv: [flag] }),
        (e: NodeJS.ErrnoException) => e.code === 'ERR_IMDSGUARD_BLOCKED' && e.message.includes(flag),
        flag,
      );
    }
  });

  test('options added to process.execArgv after start reach no worker: Node hands workers its own copy', async () => {
    const length = process.execArgv.length;
    // A loader added here would be installed in the worker before the guard, and the loader check compares with the
    // process's options: both must be the ones the process started with.
    process.execArgv.push('--experimental-loader', join(dir, 'pre.mjs'));
    try {
      const r = await inWorker(
        `require('node:worker_threads').parentPort.postMessage({ code: JSON.stringify(process.execArgv) });`,
      );
      assert.ok(r.code.startsWith('['), r.code);
      assert.ok(!r.code.includes('pre.mjs'), r.code);
    } finally {
      process.execArgv.splice(length);
    }
  });

  /** axios (a genuine installed package, not on the allowlist) asks for the managed identity token. */
  const axiosRequest = `const { parentPort } = require('node:worker_threads');
import(${JSON.stringify(new URL('../../dist/guard/index.js', import.meta.url).href)}).then(({ guardInstalled }) =>
  require(${JSON.stringify(AXIOS)}).get(${JSON.stringify(ARC)}, { headers: { Metadata: 'true' }, proxy: false })
    .then(() => parentPort.postMessage({ code: 'ok', mode: guardInstalled()?.mode }))
    .catch((e) => parentPort.postMessage({ code: String(e.code), mode: guardInstalled()?.mode })));`;

  test('no route from the Worker the application sees leads to an unguarded constructor', async () => {
    const { EventEmitter } = await import('node:events');
    const fromRequire = (createRequire(import.meta.url)('node:worker_threads') as typeof WorkerThreads).Worker;
    assert.equal(fromRequire, Worker, 'require and the ES named import give the same constructor');
    // A subclass's prototype would be the original Worker; the guard's constructor sits on EventEmitter directly.
    assert.equal(Object.getPrototypeOf(Worker), EventEmitter);
    assert.equal(Worker.prototype.constructor, Worker);
    const connect = `const { parentPort } = require('node:worker_threads');
require('node:net').connect(40342, '127.0.0.1')
  .on('connect', function () { this.destroy(); parentPort.postMessage({ code: 'connected' }); })
  .on('error', (e) => parentPort.postMessage({ code: e.code }));`;
    class Sub extends Worker {}
    const outcome = (W: typeof Worker): Promise<string> =>
      new Promise((resolve) => {
        const w = new W(connect, { eval: true });
        assert.equal(w.constructor, W === Sub ? Sub : Worker, 'an instance names the guarded constructor');
        w.once('message', (m: Outcome) => void w.terminate().then(() => resolve(m.code)));
        w.once('error', (e: Error) => resolve(`WORKER_ERROR ${e.message}`));
      });
    const ways: Record<string, typeof Worker> = {
      'ES named import': Worker,
      require: fromRequire,
      'prototype.constructor': Worker.prototype.constructor as typeof Worker,
      subclass: Sub,
    };
    for (const [how, W] of Object.entries(ways)) assert.equal(await outcome(W), 'ERR_IMDSGUARD_BLOCKED', how);
    // And the instance's own constructor, as code holding only a worker would reach it.
    const first = new Worker('', { eval: true });
    const FromInstance = first.constructor as typeof Worker;
    await first.terminate();
    assert.equal(await outcome(FromInstance), 'ERR_IMDSGUARD_BLOCKED', 'instance.constructor');
  });

  test("the worker's env option cannot widen the allowlist or switch to monitor mode", async () => {
    const r = await inWorker(axiosRequest, {
      env: { ...process.env, IMDSGUARD_GUARD_ALLOW: 'axios:azure', IMDSGUARD_GUARD_MODE: 'monitor' },
    });
    assert.deepEqual(r, { code: 'ERR_IMDSGUARD_BLOCKED', mode: 'block' });
  });

  test('process.env changed before new Worker (copied or SHARE_ENV) changes nothing either', async () => {
    const saved = { ...process.env };
    try {
      process.env.IMDSGUARD_GUARD_ALLOW = 'axios:azure';
      assert.deepEqual(await inWorker(axiosRequest), { code: 'ERR_IMDSGUARD_BLOCKED', mode: 'block' });
      process.env.IMDSGUARD_GUARD_MODE = 'monitor';
      assert.deepEqual(await inWorker(axiosRequest, { env: SHARE_ENV }), {
        code: 'ERR_IMDSGUARD_BLOCKED',
        mode: 'block',
      });
    } finally {
      for (const k of ['IMDSGUARD_GUARD_ALLOW', 'IMDSGUARD_GUARD_MODE']) {
        if (saved[k] === undefined) delete process.env[k];
        else process.env[k] = saved[k];
      }
    }
  });

  test("the parent guard's own settings do reach the worker (its handle allowing axios)", async () => {
    guard.reconfigure({ mode: 'block', report: 'none', allow: [{ package: 'axios', providers: ['azure'] }] });
    try {
      const r = await inWorker(axiosRequest);
      assert.notEqual(r.code, 'ERR_IMDSGUARD_BLOCKED', JSON.stringify(r));
      assert.equal(r.mode, 'block');
    } finally {
      guard.reconfigure({ mode: 'block', report: 'none' });
    }
  });
});

/**
 * A process started with options Node refuses in a worker's explicit execArgv (per-process and V8 options: Node 24's
 * test runner starts its children with many), one given with its value as the next word, and options a worker
 * does take. Its own code creates the workers, after the guard is installed.
 */
describe('workers of a guarded process started with per-process and V8 options', { skip: why ?? false }, () => {
  const PARENT_FLAGS = [
    '--stack-trace-limit=10',
    '--v8-pool-size=4',
    '--secure-heap=0',
    '--secure-heap-min',
    '2',
    '--enable-source-maps',
    '--conditions',
    'imdsguard-parent',
  ];
  // What a worker takes of them, in order.
  const WORKER_FLAGS = ['--enable-source-maps', '--conditions', 'imdsguard-parent'];
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'imdsguard-worker-flags-'));
  });
  after(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('every worker user code creates is guarded, with the options it would have without the guard', async () => {
    const app = join(dir, 'app.mjs');
    writeFileSync(
      app,
      `import { installGuard } from ${JSON.stringify(GUARD_MODULE.href)};
installGuard({ mode: 'block', report: 'none' });
const { Worker } = await import('node:worker_threads');
// The worker connects to the managed identity endpoint on loopback and says how that ended, with its execArgv.
const code = \`const { parentPort } = require('node:worker_threads');
require('node:net').connect(40342, '127.0.0.1')
  .on('connect', function () { this.destroy(); parentPort.postMessage({ code: 'connected' }); })
  .on('error', (e) => parentPort.postMessage({ code: e.code, execArgv: process.execArgv }));\`;
const run = (options) => new Promise((resolve) => {
  const w = new Worker(code, { eval: true, ...options });
  w.once('message', (m) => w.terminate().then(() => resolve(m)));
  w.once('error', (e) => resolve({ code: 'WORKER_ERROR ' + e.message }));
});
const refused = (options) => { try { new Worker(code, { eval: true, ...options }).terminate(); return 'started'; } catch (e) { return e.code; } };
console.log(JSON.stringify({
  parent: process.execArgv,
  inherited: await run({}),
  again: await run({}),
  own: await run({ execArgv: ['--conditions', 'imdsguard-own'] }),
  ownRefused: refused({ execArgv: ['--stack-trace-limit=3'] }),
}));
`,
    );
    const stdout = await new Promise<string>((resolve, reject) => {
      execFile(process.execPath, [...PARENT_FLAGS, app], { timeout: 60_000 }, (err, out, errOut) =>
        err ? reject(new Error(`${err.message}\n${errOut}`)) : resolve(out),
      );
    });
    type Seen = { code: string; execArgv?: string[] };
    const r = JSON.parse(stdout) as { parent: string[]; inherited: Seen; again: Seen; own: Seen; ownRefused: string };
    assert.deepEqual(r.parent, PARENT_FLAGS);
    // The guard refused the connection in the worker (unguarded, it would end in ECONNREFUSED on loopback).
    for (const k of ['inherited', 'again', 'own'] as const) assert.equal(r[k].code, 'ERR_IMDSGUARD_BLOCKED', k);
    // No execArgv given: the process's options less those Node refuses in a worker, after the guard's preload.
    for (const k of ['inherited', 'again'] as const) {
      assert.equal(r[k].execArgv?.[0], '--require', k);
      assert.deepEqual(r[k].execArgv?.slice(2), WORKER_FLAGS, k);
    }
    // Its own execArgv: kept as given; one Node refuses is refused as it would be without the guard.
    assert.deepEqual(r.own.execArgv?.slice(2), ['--conditions', 'imdsguard-own']);
    assert.equal(r.ownRefused, 'ERR_WORKER_INVALID_EXEC_ARGV');
  });
});
