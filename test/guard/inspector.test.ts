/**
 * An inspector session opened from inside the process can read the guard's closures (and so Node's original TCP
 * connect): in block mode the guard refuses to open one, in monitor mode it records it.
 */
import assert from 'node:assert/strict';
import * as inspector from 'node:inspector';
import * as inspectorPromises from 'node:inspector/promises';
import { after, before, describe, test } from 'node:test';
import type { Finding } from '../../src/core/model/finding.ts';
import { type GuardHandle, installGuard } from '../../src/guard/index.ts';

describe('in-process inspector sessions', () => {
  let guard: GuardHandle;
  const findings: Finding[] = [];
  before(() => {
    guard = installGuard({ mode: 'block', report: 'none', onFinding: (f) => findings.push(f) });
  });
  after(() => guard?.uninstall());

  const refused = (e: unknown) => (e as NodeJS.ErrnoException).code === 'ERR_IMDSGUARD_BLOCKED';

  test('Session.connect(), the promises Session and inspector.open() are refused in block mode, with a finding', () => {
    assert.throws(() => new inspector.Session().connect(), refused);
    assert.equal(findings.at(-1)?.rule.id, 'guard-inspector-session');
    assert.equal(findings.at(-1)?.decision, 'deny');
    assert.throws(() => new inspectorPromises.Session().connect(), refused);
    assert.throws(() => inspector.open(0, '127.0.0.1'), refused);
    assert.equal(inspector.url(), undefined, 'no debugging port was opened');
    // The refusing methods cannot be put back or redefined.
    assert.throws(() => {
      Object.defineProperty(inspector.Session.prototype, 'connect', { value: () => undefined });
    }, TypeError);
  });

  test("process.binding('inspector') (a Connection without Session.connect) is refused in block mode, with a finding", () => {
    const binding = (process as unknown as { binding(name: unknown): Record<string, unknown> }).binding;
    assert.throws(() => binding('inspector'), refused);
    assert.equal(findings.at(-1)?.rule.id, 'guard-inspector-session');
    assert.equal(findings.at(-1)?.decision, 'deny');
    // A name that answers one thing to the check and another to Node is read once.
    let reads = 0;
    const shifty = { toString: () => (++reads === 1 ? 'tcp_wrap' : 'inspector') };
    const got = binding.call(process, shifty);
    assert.equal(typeof got.TCP, 'function', 'the name was read once, as tcp_wrap');
    assert.equal(reads, 1);
    // Other bindings stay available, and the check cannot be taken off.
    assert.equal(typeof binding.call(process, 'tcp_wrap').TCP, 'function');
    assert.throws(() => {
      Object.defineProperty(process, 'binding', { value: () => ({}) });
    }, TypeError);
  });

  test('what the session would have read stays out of reach: no Runtime call can be posted', () => {
    const s = new inspector.Session();
    assert.throws(() => s.connect(), refused);
    assert.throws(
      () => s.post('Runtime.evaluate', { expression: '1' }),
      (e: NodeJS.ErrnoException) => e.code === 'ERR_INSPECTOR_NOT_CONNECTED',
    );
  });

  test('monitor mode lets the session open and records it', () => {
    guard.reconfigure({ mode: 'monitor', report: 'none', onFinding: (f) => findings.push(f) });
    try {
      const s = new inspector.Session();
      s.connect();
      s.disconnect();
      assert.equal(findings.at(-1)?.decision, 'audit');
      const binding = (process as unknown as { binding(name: string): { Connection?: unknown } }).binding;
      assert.equal(typeof binding('inspector').Connection, 'function');
      assert.equal(findings.at(-1)?.decision, 'audit');
    } finally {
      guard.reconfigure({ mode: 'block', report: 'none', onFinding: (f) => findings.push(f) });
    }
  });
});
