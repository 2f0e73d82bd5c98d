import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { generateMixedLog } from '../../bench/redact-gen.ts';
import { cliAsync } from './helpers.ts';

const dir = mkdtempSync(join(tmpdir(), 'imdsguard-kill-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const sha = (p: string) => createHash('sha256').update(readFileSync(p)).digest('hex');
const temps = () => readdirSync(dir).filter((n) => n.includes('.imdsguard-'));

/** Start `redact --in-place`, wait until its temporary file has some content, then send `signal`. */
async function killMidway(
  file: string,
  signal: NodeJS.Signals,
): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  const child = cliAsync(['redact', '--in-place', file]);
  const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  const deadline = Date.now() + 60_000;
  let seen = false;
  while (Date.now() < deadline && child.exitCode === null) {
    const t = temps()[0];
    if (t && statSync(join(dir, t)).size > 1 << 20) {
      seen = true;
      break;
    }
    await sleep(10);
  }
  assert.ok(seen, 'the run was seen midway (temporary file growing) before it finished');
  child.kill(signal);
  const [code, sig] = await exited;
  return { code, signal: sig };
}

describe('redact --in-place killed midway', { timeout: 120_000 }, () => {
  it('SIGKILL leaves the original byte for byte intact', async () => {
    const file = join(dir, 'big.log');
    // Dense in secrets so the run takes long enough to be caught midway even on a fast machine.
    await generateMixedLog(file, 48 << 20, 3);
    const before = sha(file);
    const r = await killMidway(file, 'SIGKILL');
    assert.equal(r.signal, 'SIGKILL');
    assert.equal(sha(file), before);
    // SIGKILL cannot be caught: the partial temporary file stays behind, never in the original's place.
    for (const t of temps()) rmSync(join(dir, t));
  });

  it('SIGINT leaves the original intact, removes the temporary file and exits 130', async () => {
    const file = join(dir, 'big.log');
    const before = sha(file);
    const r = await killMidway(file, 'SIGINT');
    assert.equal(r.code, 130);
    assert.equal(sha(file), before);
    assert.deepEqual(temps(), []);
  });

  for (const [signal, code] of [
    ['SIGTERM', 143],
    ['SIGHUP', 129],
  ] as const) {
    it(`${signal} does as SIGINT does: original intact, temporary file removed, exit ${code}`, async () => {
      const file = join(dir, 'big.log');
      const before = sha(file);
      const r = await killMidway(file, signal);
      assert.equal(r.code, code);
      assert.equal(sha(file), before);
      assert.deepEqual(temps(), []);
    });
  }
});
