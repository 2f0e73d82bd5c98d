/**
 * V8 checks a code cache only against its source's length: code compiled with an allowlisted package's exact source
 * and path, and a cache made from other code of the same length, runs the other code while its frames report the
 * package file, its hash and its request line. The package (installed in the application's node_modules) asks the
 * managed identity endpoint on loopback (Azure Arc, 127.0.0.1:40342, where the fake metadata service of this test
 * listens); the application swaps in a cache of its own code, which asks for a token of its choosing, through each
 * way vm compiles (`new vm.Script`, Node's native script class that `vm.Script` extends, `vm.runInThisContext`,
 * `vm.compileFunction`). A fresh process runs the built guard as users do: the package's source must run as itself
 * (it has no `require` there: a ReferenceError), and the service must never see the application's request.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { RunningFakeImds } from '../fake-imds/server.ts';
import { type ArcSdkApp, arcSdkApp } from './_arc-sdk-app.ts';

const REGISTER = new URL('../../dist/guard/register.js', import.meta.url);
const why = existsSync(REGISTER) ? null : 'dist/ is not built (npm run build)';
if (why && process.env.CI === 'true') throw new Error(`code cache tests cannot run under CI: ${why}`);

const SDK = `const http = require('node:http');
exports.token = () => new Promise((r) => http.get('http://127.0.0.1:40342/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https://management.azure.com/', { headers: { Metadata: 'true' } }, (res) => { res.resume(); res.on('end', () => r('status ' + res.statusCode)); }).on('error', (e) => r(e.code)));
`;

const APP = `const vm = require('node:vm');
const fs = require('node:fs');
const P = require.resolve('arc-client');
const SRC = fs.readFileSync(P, 'utf8');
const how = process.argv[2];
let resolve;
const done = new Promise((r) => { resolve = r; });
globalThis.__http = require('node:http');
globalThis.__cb = (res) => { res.resume(); res.on('end', () => resolve('status ' + res.statusCode)); };
globalThis.__err = (e) => resolve(e.code);
// The application's request at the offset of the package's own (its catalogued line and column), no function of
// its own (V8 compiles inner functions lazily, from the source the script was given), padded to the same length.
const at = SRC.indexOf('http.get(');
let M = 'var http = globalThis.__http;';
M += ' '.repeat(at - M.length);
M += "http.get('http://127.0.0.1:40342/metadata/identity/oauth2/token?resource=app-chosen', { headers: { Metadata: 'true' } }, globalThis.__cb).on('error', globalThis.__err);";
M += ' '.repeat(SRC.length - M.length);
try {
  if (how === 'compileFunction') {
    const cachedData = vm.compileFunction(M, [], { filename: P, produceCachedData: true }).cachedData;
    vm.compileFunction(SRC, [], { filename: P, cachedData })();
  } else {
    const cachedData = new vm.Script(M, { filename: P }).createCachedData();
    if (how === 'Script') new vm.Script(SRC, { filename: P, cachedData }).runInThisContext();
    else if (how === 'runInThisContext') vm.runInThisContext(SRC, { filename: P, cachedData });
    else {
      const Native = Object.getPrototypeOf(vm.Script);
      new Native(SRC, P, 0, 0, cachedData, false, undefined, Symbol('imdsguard-test')).runInContext(null, -1, true, false, false);
    }
  }
} catch (e) {
  resolve(e.name);
}
setTimeout(() => resolve('nothing ran'), 3000).unref();
done.then((r) => { console.log(JSON.stringify({ how, result: r })); process.exit(0); });
`;

describe("a V8 code cache of other code, compiled with an allowlisted package's source and path", {
  skip: why ?? false,
}, () => {
  let home: string;
  let imds: RunningFakeImds;
  let fixture: ArcSdkApp | undefined;
  before(async () => {
    fixture = await arcSdkApp('code-cache-', SDK, { file: 'app.cjs', source: APP });
    ({ home, imds } = fixture);
  });
  after(async () => {
    await fixture?.close();
  });

  for (const how of ['Script', 'native class', 'runInThisContext', 'compileFunction']) {
    test(`is compiled from the package's source (${how})`, async () => {
      imds.seen.length = 0;
      const stdout = await new Promise<string>((resolve, reject) => {
        execFile(
          process.execPath,
          ['--import', REGISTER.href, join(home, 'app.cjs'), how],
          {
            cwd: home,
            timeout: 60_000,
            env: { ...process.env, IMDSGUARD_GUARD_ALLOW: 'arc-client:azure', IMDSGUARD_GUARD_REPORT: 'none' },
          },
          (err, o, e) => (err ? reject(new Error(`${err.message}\n${e}`)) : resolve(o)),
        );
      });
      const r = JSON.parse(stdout) as { result: string };
      assert.equal(r.result, 'ReferenceError', stdout);
      assert.deepEqual(
        imds.seen.map((s) => s.target),
        [],
        stdout,
      );
    });
  }
});
