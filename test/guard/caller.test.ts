import assert from 'node:assert/strict';
import { test } from 'node:test';
import { callerFiles, captureCaller, packageOf, summarise } from '../../src/guard/caller.ts';

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
    '/app/node_modules/gaxios/build/index.js',
    '/app/node_modules/gcp-metadata/build/index.js',
    '/app/src/x.js',
  ]);
  assert.deepEqual(s.packages, ['gaxios', 'gcp-metadata']);
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
