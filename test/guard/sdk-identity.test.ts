/**
 * An allowlisted package name counts only for the package installed where the application's imports resolve:
 * a copy of "the SDK" written to any other node_modules directory (`/tmp/x/node_modules/@azure/identity`) is
 * application code as far as the guard is concerned. The endpoint is the metadata service that lives on loopback
 * (Azure Arc, 127.0.0.1:40342), so nothing can leave this host: a request the guard let through ends in
 * ECONNREFUSED (or whatever listens there), a refused one in the guard's error.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Finding } from '../../src/core/model/finding.ts';
import { type GuardHandle, installGuard } from '../../src/guard/index.ts';

const ARC = 'http://127.0.0.1:40342/metadata/identity/oauth2/token?resource=https://management.azure.com';

type Get = (url: string) => Promise<string>;

/** A package that asks for the managed identity token the way @azure/identity does (with `Metadata: true`). */
const FAKE = `const http = require('node:http');
exports.get = (url) => new Promise((resolve) => {
  http.get(url, { headers: { Metadata: 'true' } }, (res) => { res.resume(); resolve('status ' + res.statusCode); })
    .on('error', (e) => resolve(e.code));
});
`;

describe('caller identity is tied to where the application installed its packages', () => {
  let guard: GuardHandle;
  let dir: string;
  const findings: Finding[] = [];
  const load = (pkg: string): { get: Get } => {
    const d = join(dir, 'node_modules', pkg);
    mkdirSync(d, { recursive: true });
    writeFileSync(join(d, 'index.cjs'), FAKE);
    return createRequire(import.meta.url)(join(d, 'index.cjs')) as { get: Get };
  };

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'imdsguard-identity-'));
    guard = installGuard({
      mode: 'block',
      report: 'none',
      onFinding: (f) => findings.push(f),
      allow: [{ package: 'axios', providers: ['azure'] }],
    });
  });
  after(() => {
    guard?.uninstall();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('a fake @azure/identity in a node_modules outside the application is refused', async () => {
    assert.equal(await load('@azure/identity').get(ARC), 'ERR_IMDSGUARD_BLOCKED');
    const f = findings.at(-1)!;
    assert.equal(f.decision, 'deny');
    // It is named on the stack (for the record), but did not count as the requester.
    assert.ok((f.evidence as { caller_packages: string[] }).caller_packages.includes('@azure/identity'));
  });

  test('an allowlisted name: the installed package passes, a copy of the same name elsewhere does not', async () => {
    const axios = createRequire(import.meta.url)('axios') as {
      get(url: string, o: object): Promise<unknown>;
    };
    const real = await axios.get(ARC, { headers: { Metadata: 'true' }, proxy: false }).then(
      () => 'ok',
      (e: NodeJS.ErrnoException) => e.code,
    );
    assert.notEqual(real, 'ERR_IMDSGUARD_BLOCKED');
    assert.equal(await load('axios').get(ARC), 'ERR_IMDSGUARD_BLOCKED');
  });
});
