// Two hosts' logs of one name, collected side by side, may hold the same line (one scanner sends one request to
// both): two files, so two steps. Every spelling of one file's path is still that one file.
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

describe('investigate: two files of one name are two files', { skip: skipUnbuilt }, () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'imdsguard-inv-names-'));
    const web = compose(attackers(1), 200).web;
    for (const h of ['hA', 'hB']) {
      mkdirSync(join(dir, h));
      writeFileSync(join(dir, h, 'access.log'), web);
    }
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const steps = async (args: string[], cwd = dir) => {
    const r = await runCli(['investigate', '--no-summary', '--format', 'jsonl', ...args], { cwd });
    assert.ok(r.status === 0 || r.status === 1, r.stderr);
    const incidents: Rec[] = jsonLines(r.stdout).filter((x) => x.type === 'incident');
    return incidents.flatMap((i) => i.steps.map((s: Rec) => `${s.origin.file}:${s.origin.line}`)).sort();
  };

  test('the same lines in hA/access.log and hB/access.log are steps of each; spellings of one path are one file', async () => {
    const one = await steps([join(dir, 'hA', 'access.log')]);
    assert.ok(one.length >= 3, one.join(' '));
    const both = await steps([join(dir, 'hA', 'access.log'), join(dir, 'hB', 'access.log')]);
    assert.equal(both.length, 2 * one.length, both.join(' '));
    assert.equal(both.filter((s) => s.includes('/hB/')).length, one.length);
    // hA's log named twice, relative and absolute: still one file, and hB's the other.
    const spelt = await steps(['hA/access.log', join(dir, 'hA', 'access.log'), './hB/access.log']);
    assert.equal(spelt.length, 2 * one.length, spelt.join(' '));
    // The findings scan writes of each, read where their relative paths lead nowhere (another directory).
    for (const h of ['hA', 'hB']) {
      const r = await runCli(['scan', '--no-summary', '--format', 'jsonl', '-o', `${h}.jsonl`, `${h}/access.log`], {
        cwd: dir,
      });
      assert.ok(r.status === 0 || r.status === 1, r.stderr);
    }
    const elsewhere = await steps([join(dir, 'hA.jsonl'), join(dir, 'hB.jsonl')], tmpdir());
    assert.equal(elsewhere.length, 2 * one.length, elsewhere.join(' '));
  });
});
