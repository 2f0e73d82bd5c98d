/**
 * An allowlisted package (installed in the application's node_modules) asks the managed identity endpoint on
 * loopback (Azure Arc, 127.0.0.1:40342, where the fake metadata service of this test listens) for a token with
 * fetch. undici calls the application's diagnostics-channel subscribers (`undici:request:create`,
 * `undici:client:beforeConnect`) inside that fetch, where the SDK's fetch context is current; a node:http request,
 * or a fetch of a name that resolves to the endpoint, that the subscriber makes there for a token of its own
 * choosing must be judged as the application's: refused, and never seen by the service. A fresh process runs the built guard as users do.
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
if (why && process.env.CI === 'true') throw new Error(`fetch context tests cannot run under CI: ${why}`);

const TOKEN = '/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https://management.azure.com/';

const SDK = `exports.token = () => fetch('http://127.0.0.1:40342${TOKEN}', { headers: { Metadata: 'true' } })
  .then((r) => r.text().then(() => 'status ' + r.status), (e) => e.cause?.code ?? String(e));
`;

const APP = `import dc from 'node:diagnostics_channel';
import http from 'node:http';
import { createRequire } from 'node:module';
const { Agent } = createRequire(${JSON.stringify(import.meta.url)})('undici');
const [channel, how] = process.argv.slice(2);
// A name that is no metadata name, answered with the endpoint's address.
const lookup = (h, o, cb) => (o && o.all ? cb(null, [{ address: '127.0.0.1', family: 4 }]) : cb(null, '127.0.0.1', 4));
const out = {};
let app;
let armed = true;
dc.subscribe(channel, () => {
  if (!armed) return;
  armed = false;
  app = how === 'fetch'
    ? fetch('http://arc.invalid:40342/metadata/identity/oauth2/token?resource=app-chosen', { headers: { Metadata: 'true' }, dispatcher: new Agent({ connect: { lookup } }) })
      .then((r) => 'status ' + r.status, (e) => e.code ?? e.cause?.code ?? String(e))
    : new Promise((resolve) => {
    http.get('http://127.0.0.1:40342/metadata/identity/oauth2/token?resource=app-chosen', { headers: { Metadata: 'true' } }, (res) => { res.resume(); res.on('end', () => resolve('status ' + res.statusCode)); })
      .on('error', (e) => resolve(e.code));
  });
});
out.sdk = await createRequire(import.meta.url)('arc-client').token();
out.app = app ? await app : 'subscriber not called';
console.log(JSON.stringify(out));
process.exit(0);
`;

describe("requests from a diagnostics-channel subscriber called inside an SDK's fetch", { skip: why ?? false }, () => {
  let home: string;
  let imds: RunningFakeImds;
  let fixture: ArcSdkApp | undefined;
  before(async () => {
    fixture = await arcSdkApp('fetch-context-', SDK, { file: 'app.mjs', source: APP });
    ({ home, imds } = fixture);
  });
  after(async () => {
    await fixture?.close();
  });

  const cases = [
    ['undici:request:create', 'http'],
    ['undici:client:beforeConnect', 'http'],
    // A fetch of a name that resolves to the endpoint (through a dispatcher with its own lookup).
    ['undici:request:create', 'fetch'],
  ];
  for (const [channel, how] of cases) {
    test(`is the application's request, not the SDK's (${how} from ${channel})`, async () => {
      imds.seen.length = 0;
      const stdout = await new Promise<string>((resolve, reject) => {
        execFile(
          process.execPath,
          ['--import', REGISTER.href, join(home, 'app.mjs'), channel as string, how as string],
          {
            cwd: home,
            timeout: 60_000,
            env: { ...process.env, IMDSGUARD_GUARD_ALLOW: 'arc-client:azure', IMDSGUARD_GUARD_REPORT: 'none' },
          },
          (err, o, e) => (err ? reject(new Error(`${err.message}\n${e}`)) : resolve(o)),
        );
      });
      const r = JSON.parse(stdout) as { sdk: string; app: string };
      assert.equal(r.sdk, 'status 200', stdout);
      assert.equal(r.app, 'ERR_IMDSGUARD_BLOCKED', stdout);
      const targets = imds.seen.map((s) => s.target);
      assert.ok(!targets.some((t) => t.includes('app-chosen')), JSON.stringify(targets));
    });
  }
});
