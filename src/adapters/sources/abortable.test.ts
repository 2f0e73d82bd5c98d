import assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
import { describe, it } from 'node:test';
import { sleepUnlessAborted } from './abortable.ts';

describe('sleepUnlessAborted', () => {
  it('leaves no listener on a long-lived signal after its waits end', async () => {
    const ctl = new AbortController();
    for (let i = 0; i < 50; i++) await sleepUnlessAborted(1, ctl.signal);
    assert.equal(getEventListeners(ctl.signal, 'abort').length, 0);
  });

  it('ends early when the signal aborts, and at once when it already has', async () => {
    const ctl = new AbortController();
    const started = Date.now();
    const waiting = sleepUnlessAborted(60_000, ctl.signal);
    setTimeout(() => ctl.abort(), 10);
    await waiting;
    assert.ok(Date.now() - started < 30_000);
    await sleepUnlessAborted(60_000, ctl.signal);
    assert.equal(getEventListeners(ctl.signal, 'abort').length, 0);
  });
});
