import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { runCli, skipUnbuilt } from './helpers.ts';

const base = mkdtempSync(join(tmpdir(), 'imdsguard-failsafe-edges-'));
after(() => rmSync(base, { recursive: true, force: true }));
let n = 0;
/** A fresh temporary directory per test. */
const fresh = () => {
  const d = join(base, String(n++));
  mkdirSync(d);
  return d;
};

const SSRF = (ip: number) =>
  `192.0.2.${ip} - - [21/Nov/2026:09:14:04 +0000] "GET /fetch?url=http://169.254.169.254/latest/meta-data/iam/security-credentials/ HTTP/1.1" 200 512 "-" "curl/8"\n`;
/** Long enough for a test to fail rather than hang; a correct run takes a second or two. */
const BOUND = 20_000;

describe('outputs that cannot be created', { skip: skipUnbuilt }, () => {
  test('-o under /proc or /sys fails at once with exit 3 and one line naming it, for every command', async () => {
    const d = fresh();
    writeFileSync(join(d, 'a.log'), SSRF(1));
    const name = `/proc/imdsguard-${process.pid}`;
    const runs: Array<[string[], RegExp]> = [
      [['export', '--to', 'sigma', '-o', name], /the sigma export to "\/proc\/imdsguard-\d+"/],
      [['export', '--to', 'suricata', '-o', `${name}/deeper/`], /\/proc\/imdsguard-\d+\/deeper\//],
      [['export', '--to', 'sigma', '-o', '/sys/imdsguard-test'], /\/sys\/imdsguard-test/],
      [['redact', 'a.log', '-o', `${name}/`], /\/proc\/imdsguard-\d+\//],
      [['redact', 'a.log', '-o', name], /\/proc\/imdsguard-\d+/],
      [['scan', 'a.log', '-o', `${name}/x`], /\/proc\/imdsguard-\d+\/x/],
      [['explain', '-o', name], /\/proc\/imdsguard-\d+/],
    ];
    for (const [args, where] of runs) {
      const r = await runCli(args, { cwd: d, timeoutMs: BOUND, input: SSRF(2) });
      assert.equal(r.signal, null, `${args.join(' ')} did not end by itself`);
      assert.equal(r.status, 3, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, /^imdsguard: cannot write /);
      assert.match(r.stderr, where);
      assert.doesNotMatch(r.stderr, /^\s+at /m);
    }
    assert.deepEqual(readdirSync(d), ['a.log']);
  });
});
