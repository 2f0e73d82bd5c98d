/**
 * On Linux a connection to the unspecified address (`0.0.0.0`, `::`) goes to this host, so it reaches a metadata
 * service that lives on loopback: Azure Arc's managed identity endpoint on 127.0.0.1:40342 and [::1]:40342, where
 * the fake metadata service of this test listens. Every spelling that ends there (`0`, `0x0`, `0.0`, the mapped
 * `::ffff:0.0.0.0`, a lookup answering `0.0.0.0`, another address of 127.0.0.0/8), through http, fetch and net, must
 * be refused, and no request may reach the service. A fresh process runs the built guard as users do
 * (`--import …/guard/register`); a loopback service on another port is still reached through `0.0.0.0`.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type RunningFakeImds, startFakeImds } from '../fake-imds/server.ts';
import { privateTempDir } from './_private-dir.ts';

const REGISTER = new URL('../../dist/guard/register.js', import.meta.url);
const why = existsSync(REGISTER) ? null : 'dist/ is not built (npm run build)';
if (why && process.env.CI === 'true') throw new Error(`unspecified address tests cannot run under CI: ${why}`);

const TOKEN = '/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https://management.azure.com/';

const APP = `import http from 'node:http';
import net from 'node:net';
const TOKEN = ${JSON.stringify(TOKEN)};
const viaHttp = (url, options = {}) => new Promise((resolve) => {
  http.get(url, { headers: { Metadata: 'true' }, ...options }, (res) => { res.resume(); res.on('end', () => resolve('status ' + res.statusCode)); })
    .on('error', (e) => resolve(e.code));
});
const viaFetch = (url) => fetch(url, { headers: { Metadata: 'true' } })
  .then((r) => 'status ' + r.status, (e) => e.cause?.code ?? e.code ?? String(e));
const viaNet = (options) => new Promise((resolve) => {
  const s = net.connect(options);
  s.on('connect', () => { s.destroy(); resolve('connected'); });
  s.on('error', (e) => resolve(e.code));
});
const answer = (address, family) => (host, o, cb) => o && o.all ? cb(null, [{ address, family }]) : cb(null, address, family);
const out = {};
for (const host of ['0.0.0.0', '0', '0x0', '0.0', '[::ffff:0.0.0.0]', '[::]', '127.0.0.2']) {
  out['http ' + host] = await viaHttp('http://' + host + ':40342' + TOKEN);
  out['fetch ' + host] = await viaFetch('http://' + host + ':40342' + TOKEN);
}
for (const host of ['0.0.0.0', '0', '::', '::ffff:0.0.0.0', '127.1.2.3']) out['net ' + host] = await viaNet({ host, port: 40342 });
out['http lookup 0.0.0.0'] = await viaHttp('http://arc.invalid:40342' + TOKEN, { lookup: answer('0.0.0.0', 4) });
out['http lookup ::'] = await viaHttp('http://arc.invalid:40342' + TOKEN, { lookup: answer('::', 6) });
out['net lookup 0.0.0.0'] = await viaNet({ host: 'arc.invalid', port: 40342, lookup: answer('0.0.0.0', 4) });
out.control = await viaNet({ host: '0.0.0.0', port: Number(process.env.CONTROL_PORT) });
console.log(JSON.stringify(out));
process.exit(0);
`;

describe('the unspecified address and all of loopback, to a service on loopback', { skip: why ?? false }, () => {
  let home: string;
  const services: RunningFakeImds[] = [];
  let control: Server;
  before(async () => {
    home = privateTempDir('unspecified-');
    writeFileSync(join(home, 'app.mjs'), APP);
    for (const host of ['127.0.0.1', '::1']) {
      try {
        services.push(await startFakeImds({ host, port: 40342 }));
      } catch (e) {
        throw new Error(`the fake metadata service cannot listen on ${host} port 40342: ${(e as Error).message}`);
      }
    }
    control = createServer((s) => s.destroy());
    await new Promise<void>((resolve) => control.listen(0, '127.0.0.1', resolve));
  });
  after(async () => {
    for (const s of services) await s.close();
    await new Promise((resolve) => control?.close(resolve));
    if (home) rmSync(home, { recursive: true, force: true });
  });

  test('is refused by http, fetch and net, and no request reaches the service', async () => {
    const port = (control.address() as { port: number }).port;
    const stdout = await new Promise<string>((resolve, reject) => {
      execFile(
        process.execPath,
        ['--import', REGISTER.href, join(home, 'app.mjs')],
        {
          cwd: home,
          timeout: 60_000,
          env: { ...process.env, IMDSGUARD_GUARD_REPORT: 'none', CONTROL_PORT: String(port), NODE_OPTIONS: '' },
        },
        (err, o, e) => (err ? reject(new Error(`${err.message}\n${e}`)) : resolve(o)),
      );
    });
    const r = JSON.parse(stdout) as Record<string, string>;
    const { control: reached, ...attempts } = r;
    assert.equal(reached, 'connected', 'a loopback service on another port is reached through 0.0.0.0');
    assert.equal(Object.keys(attempts).length, 22, stdout);
    for (const [how, outcome] of Object.entries(attempts)) assert.equal(outcome, 'ERR_IMDSGUARD_BLOCKED', how);
    for (const s of services) assert.deepEqual(s.seen, [], `${s.host}: ${stdout}`);
  });
});
