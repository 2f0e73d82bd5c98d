// investigate's output is a function of its inputs alone: the logs are scanned side by side, and which of them got
// ahead must not decide which request a leak is tied to, nor any link, nor the order of anything written.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runCli, skipUnbuilt } from '../e2e/helpers.ts';
import { attackers, compose } from '../fixtures/investigate/compose.ts';
import { jsonLines } from './pipeline.ts';

// biome-ignore lint/suspicious/noExplicitAny: incident records, read as parsed JSON
type Rec = Record<string, any>;

describe('investigate: the same inputs give the same incidents', { skip: skipUnbuilt }, () => {
  let dir: string;
  const files: string[] = [];
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'imdsguard-inv-det-'));
    // Two hosts, each with a long access log (its SSRF requests late in it) and a short app log that logged the
    // client with the credentials: a scan reading them side by side meets the leak before the access log's request.
    const all = attackers(4);
    const halves = [all.slice(0, 2), all.slice(2)];
    halves.forEach((group, i) => {
      const c = compose(group, 3000, { appClient: true });
      const host = join(dir, `h${i}`);
      mkdirSync(host);
      writeFileSync(join(host, 'access.log'), c.web);
      writeFileSync(join(host, 'app.log'), c.app);
      files.push(join(host, 'access.log'), join(host, 'app.log'));
      if (i === 0) {
        writeFileSync(join(dir, 'trail.ndjson'), c.trail);
        writeFileSync(join(dir, 'instances.json'), c.instances);
      }
    });
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const run = async (inputs: string[]) => {
    const r = await runCli(['investigate', '--no-summary', '--format', 'jsonl', ...inputs], { timeoutMs: 120_000 });
    assert.ok(r.status === 0 || r.status === 1, r.stderr);
    return r.stdout;
  };

  test('runs with the inputs in any order write the same bytes, and each leak is tied to the successful request', async () => {
    const trail = join(dir, 'trail.ndjson');
    const inv = join(dir, 'instances.json');
    const orders = [
      [...files, trail, inv],
      [inv, ...files.slice().reverse(), trail],
      [files[1]!, files[3]!, files[0]!, files[2]!, trail, inv],
      [files[3]!, files[2]!, trail, files[1]!, files[0]!, inv],
      [join(dir, 'h1'), join(dir, 'h0'), trail, inv],
    ];
    const outs: string[] = [];
    for (const o of orders) outs.push(await run(o));
    for (let i = 1; i < outs.length; i++) {
      // The first line that differs, cut short: a whole incident is too long to read in a failure.
      const a = outs[0]!.split('\n');
      const b = outs[i]!.split('\n');
      const at = a.findIndex((l, j) => l !== b[j]);
      assert.ok(a.length === b.length && at === -1, `order ${i}: line ${at + 1} differs: ${b[at]?.slice(0, 300)}`);
    }

    const incidents: Rec[] = jsonLines(outs[0]!).filter((r) => r.type === 'incident');
    const leaks = incidents.flatMap((inc) => inc.steps.filter((s: Rec) => s.kind === 'credential-leak'));
    assert.equal(leaks.length, 4);
    for (const inc of incidents)
      for (const leak of inc.steps.filter((s: Rec) => s.kind === 'credential-leak')) {
        const causes = inc.links.filter((l: Rec) => l.to === leak.finding_id && l.reason === 'leak-cause');
        assert.equal(causes.length, 1, `one leak-cause link to ${leak.finding_id}`);
        const from = inc.steps.find((s: Rec) => s.finding_id === causes[0].from);
        // The access log's request that got the credentials, not the app's own line it logged them on.
        assert.equal(from.kind, 'ssrf-success');
        assert.match(from.origin.file, /access\.log$/);
      }
  });
});
