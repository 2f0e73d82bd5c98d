/**
 * The agent killed with SIGKILL (or by the OOM killer) runs no cleanup of its own. Its bpftrace must die with it
 * anyway, and not stay on with its probes attached after being re-parented to pid 1. Runs the built CLI, as installed.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import {
  CI,
  kernelRefusal,
  missingPrerequisite,
  REPO,
  type RunningAgent,
  recordingArgs,
  startAgent,
  stopChild,
} from './netns.ts';

const missing =
  missingPrerequisite(['bpftrace', 'setpriv']) ??
  (existsSync(join(REPO, 'dist/cli/main.js')) ? undefined : 'needs the built CLI (npm run build)');
if (missing && CI) throw new Error(`agent SIGKILL e2e cannot run under CI: ${missing}`);
// Where the kernel itself refuses the sensor, the test skips with its reason, under CI too.
const why = missing ?? kernelRefusal('bpftrace');

/** A process's state letter and start time (which tell a reused pid apart), or undefined once it is gone. */
function procStat(pid: number): { state: string; start: string } | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return { state: f[0] as string, start: f[19] as string };
}

describe('imdsguard agent killed with SIGKILL (real kernel)', { skip: why, timeout: 120_000 }, () => {
  let dir: string | undefined;
  let agent: RunningAgent | undefined;
  let bpftrace: { pid: number; start: string } | undefined;

  /** Still there: a zombie is dead, only waiting for pid 1 to reap it. */
  const alive = (p: { pid: number; start: string }) => {
    const s = procStat(p.pid);
    return s !== undefined && s.start === p.start && s.state !== 'Z';
  };

  after(async () => {
    // Only the bpftrace this test started (same pid and start time), only if the assertion below failed.
    if (bpftrace && alive(bpftrace)) process.kill(bpftrace.pid, 'SIGKILL');
    await stopChild(agent?.child, 'SIGKILL');
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('takes its bpftrace down with it, even a bpftrace that cannot write', async () => {
    dir = await mkdtemp(join(tmpdir(), 'imdsguard-agent-sigkill-'));
    agent = startAgent(['--sensor', 'bpftrace', ...recordingArgs(join(dir, 'out.jsonl'), dir)], { built: true });
    await agent.ready;
    assert.ok(!agent.logs.some((l) => l.includes('cannot be tied to the agent')), agent.logs.join('\n'));
    const attached = agent.logs.find((l) => l.includes('bpftrace probes attached'));
    const pid = Number(JSON.parse(attached ?? '{}').pid);
    assert.ok(pid > 0, 'bpftrace pid logged');
    const stat = procStat(pid);
    assert.ok(stat, `bpftrace ${pid} is running`);
    bpftrace = { pid, start: stat.start };
    assert.equal(readFileSync(`/proc/${pid}/comm`, 'utf8').trim(), 'bpftrace');

    // Stopped, bpftrace cannot write into the pipe the dead agent leaves, so SIGPIPE cannot end it (on a busy host
    // the next exec anywhere would, and hide a missing fix): only a SIGKILL from the kernel, which a stopped process
    // still takes, can.
    process.kill(pid, 'SIGSTOP');
    for (let i = 0; i < 50 && procStat(pid)?.state !== 'T'; i++) await new Promise((r) => setTimeout(r, 100));
    assert.equal(procStat(pid)?.state, 'T', 'bpftrace stopped');
    agent.child.kill('SIGKILL');

    const deadline = Date.now() + 5000;
    while (alive(bpftrace) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    assert.ok(!alive(bpftrace), `bpftrace ${pid} outlived the agent (state ${procStat(pid)?.state})`);
  });
});
