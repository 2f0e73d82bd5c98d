import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { test } from 'node:test';
import { readProcess, UserNames } from './identity.ts';

test('argv is masked before it is cut to its length limit: a secret across the cut leaves no piece behind', async () => {
  const id = 'ASIAQ3EGU7LR2WNPQX7Z';
  const secret = 'Fk9x/Zk2Lm9Np4Rs6Tu8Vw1Xy3Za5bC7dE9fG+h1';
  // The key id starts 8 characters before the 512-character cut, the secret right after it.
  const arg = `--data=${'x'.repeat(496)}=${id}:${secret}`;
  const child = spawn(process.execPath, [
    '-e',
    'setTimeout(() => {}, 20000)',
    '--',
    arg,
    '--password',
    'hunter2hunter2',
  ]);
  try {
    await once(child, 'spawn');
    // The new process's cmdline is readable once exec has replaced the forked image.
    let facts = readProcess(child.pid!, new UserNames(), Date.now());
    for (let i = 0; i < 50 && !facts?.argv?.includes('--password'); i++) {
      await new Promise((r) => setTimeout(r, 20));
      facts = readProcess(child.pid!, new UserNames(), Date.now());
    }
    const argv = facts?.argv ?? [];
    assert.ok(argv.includes('--password'), JSON.stringify(argv));
    const all = argv.join(' ');
    for (const v of [id, secret, 'hunter2hunter2'])
      for (let i = 0; i + 8 <= v.length; i++)
        assert.ok(!all.includes(v.slice(i, i + 8)), `${v.slice(i, i + 8)} in ${all}`);
    assert.ok(
      argv.some((a) => a.startsWith('--data=xxx')),
      'the rest of the argument is kept',
    );
  } finally {
    child.kill('SIGKILL');
  }
});
