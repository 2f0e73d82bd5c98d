import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import vm from 'node:vm';
import {
  type CallerStack,
  callerFiles,
  callerFrames,
  captureCaller,
  packageOf,
  summarise,
} from '../../src/guard/caller.ts';
import { applicationPackageRoots } from '../../src/guard/package-roots.ts';
import { privateTempDir } from './_private-dir.ts';

test('packageOf() names scoped and plain packages from their last node_modules segment', () => {
  assert.equal(
    packageOf('/app/node_modules/@smithy/credential-provider-imds/dist-cjs/index.js'),
    '@smithy/credential-provider-imds',
  );
  assert.equal(packageOf('file:///app/node_modules/axios/node_modules/follow-redirects/index.js'), 'follow-redirects');
  assert.equal(packageOf('/app/src/server.js'), null);
});

test('captureCaller() sees the calling file and summarise() keeps the first app frame', () => {
  const files = callerFiles(captureCaller());
  assert.ok(
    files.some((f) => f.endsWith('caller.test.ts')),
    files.join('\n'),
  );
  const s = summarise([
    { file: '/app/node_modules/gaxios/build/index.js', genuine: true },
    { file: '/app/node_modules/gcp-metadata/build/index.js', genuine: true },
    { file: '/app/src/x.js', genuine: false },
    { file: '/app/node_modules/google-auth-library/build/index.js', genuine: true },
  ]);
  assert.deepEqual(s.packages, ['gaxios', 'gcp-metadata', 'google-auth-library']);
  // Only the packages inside the application's frame made the request.
  assert.deepEqual(s.requesters, ['gaxios', 'gcp-metadata']);
  assert.equal(s.appFrame, '/app/src/x.js');
});

test('captureCaller() keeps async callers that awaited the request', async () => {
  async function sdkLike() {
    await Promise.resolve();
    return captureCaller();
  }
  async function outerCaller() {
    return await sdkLike();
  }
  const c = await outerCaller();
  const prev = Error.prepareStackTrace;
  Error.prepareStackTrace = (_e, sites) => sites.map((s) => s.getFunctionName());
  const names = (c.holder.stack as unknown as string[]) ?? [];
  Error.prepareStackTrace = prev;
  assert.ok(names.includes('outerCaller'), names.join(','));
});

describe('caller identity cannot be claimed by naming a file', () => {
  const dir = privateTempDir('imdsguard-caller-');
  const sdkFile = join(dir, 'node_modules', 'fake-sdk', 'index.cjs');
  mkdirSync(join(dir, 'node_modules', 'fake-sdk'), { recursive: true });
  writeFileSync(sdkFile, 'exports.call = function call(f) { return f(); };\n');
  const sdk = createRequire(import.meta.url)(sdkFile) as { call<T>(f: () => T): T };
  const g = globalThis as { __imdsguardCapture?: () => CallerStack };
  g.__imdsguardCapture = () => captureCaller();
  after(() => {
    rmSync(dir, { recursive: true, force: true });
    delete g.__imdsguardCapture;
  });
  // The application's packages, for these tests: the temporary node_modules.
  const roots = [realpathSync(join(dir, 'node_modules'))];
  const requesters = (c: CallerStack) => summarise(callerFrames(c, roots)).requesters;

  test('a module the loader loaded from node_modules counts as its package', () => {
    assert.deepEqual(requesters(sdk.call(captureCaller)), ['fake-sdk']);
  });

  test('the same package under a world-writable directory (os.tmpdir(), like /tmp/node_modules) does not', () => {
    const open = mkdtempSync(join(tmpdir(), 'imdsguard-caller-open-'));
    try {
      const file = join(open, 'node_modules', 'fake-sdk', 'index.cjs');
      mkdirSync(dirname(file), { recursive: true });
      writeFileSync(file, 'exports.call = function call(f) { return f(); };\n');
      const copy = createRequire(import.meta.url)(file) as { call<T>(f: () => T): T };
      // Even when that node_modules is one the application's imports would search.
      const c = copy.call(captureCaller);
      assert.deepEqual(summarise(callerFrames(c, [...roots, realpathSync(join(open, 'node_modules'))])).requesters, []);
    } finally {
      rmSync(open, { recursive: true, force: true });
    }
  });

  test('the same module does not count outside the node_modules the application resolves from', () => {
    // Where this test file's own imports resolve: the repository's node_modules, not the temporary one.
    const appRoots = applicationPackageRoots(fileURLToPath(import.meta.url), dirname(fileURLToPath(import.meta.url)));
    assert.ok(appRoots.includes(realpathSync(join(dirname(fileURLToPath(import.meta.url)), '../../node_modules'))));
    assert.ok(!appRoots.some((r) => r.startsWith(realpathSync(dir))), appRoots.join('\n'));
    const c = sdk.call(captureCaller);
    assert.deepEqual(summarise(callerFrames(c, appRoots)).requesters, []);
    assert.deepEqual(summarise(callerFrames(c, appRoots)).packages, ['fake-sdk'], 'still reported on the stack');
  });

  test('vm.runInThisContext with that file name does not', () => {
    const c = vm.runInThisContext('__imdsguardCapture()', { filename: sdkFile }) as CallerStack;
    assert.ok(callerFiles(c).includes(sdkFile), 'the frame is there, under the claimed name');
    assert.deepEqual(requesters(c), []);
  });

  test('//# sourceURL in eval and new Function does not', () => {
    // biome-ignore lint/security/noGlobalEval: what code run through eval can claim about itself is the subject
    const indirectEval = globalThis.eval;
    const viaEval = indirectEval(`__imdsguardCapture()\n//# sourceURL=${sdkFile}`) as CallerStack;
    assert.deepEqual(requesters(viaEval), []);
    const viaFunction = new Function(`return __imdsguardCapture()\n//# sourceURL=${sdkFile}`)() as CallerStack;
    assert.deepEqual(requesters(viaFunction), []);
  });

  test('a vm script the SDK calls cannot borrow the SDK frame behind it', () => {
    const forged = vm.runInThisContext('(function () { return __imdsguardCapture(); })', {
      filename: sdkFile,
    }) as () => CallerStack;
    assert.deepEqual(requesters(sdk.call(forged)), []);
  });

  test('application code the SDK calls back (a logger, a hook) does not borrow its name', () => {
    const appCallback = () => captureCaller();
    const s = summarise(callerFrames(sdk.call(appCallback), roots));
    assert.ok(s.packages.includes('fake-sdk'));
    assert.deepEqual(s.requesters, []);
  });

  test('a prepareStackTrace that cannot be replaced makes the stack unreadable, not forged', () => {
    const c = captureCaller();
    const desc = Object.getOwnPropertyDescriptor(Error, 'prepareStackTrace');
    Object.defineProperty(Error, 'prepareStackTrace', {
      value: () => [{ file: sdkFile, hash: '', isEval: false }],
      writable: false,
      configurable: true,
    });
    try {
      assert.deepEqual(callerFrames(c, roots), []);
    } finally {
      if (desc) Object.defineProperty(Error, 'prepareStackTrace', desc);
      else delete (Error as { prepareStackTrace?: unknown }).prepareStackTrace;
    }
  });
});
