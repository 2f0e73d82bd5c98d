import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InputSyntaxError } from '../../../core/errors.ts';
import { parseAllowlist } from './allowlist.ts';

describe('parseAllowlist()', () => {
  it('turns entries into caller patterns in the shared caller language (globs, bare names, users, containers, path classes)', () => {
    const a = parseAllowlist(
      'callers:\n  - name: backup\n    exe: /usr/local/bin/backup\n    user: backup\n  - name: any fluent-bit\n    exe: fluent-bit\n    container: host\n    path_classes: [identity, index]\n  - name: opt agents\n    exe: /opt/**/agent\n  - name: cloud-init script\n    argv: cloud-init\n    uid: 0\n',
      'allow.yaml',
    );
    assert.equal(a.length, 4);
    const m = (i: number, facts: Parameters<NonNullable<(typeof a)[number]['caller']>>[0]) => a[i]!.caller!(facts);
    assert.ok(m(0, { exe: '/usr/local/bin/backup', user: 'backup' }));
    assert.ok(!m(0, { exe: '/usr/local/bin/backupX', user: 'backup' }));
    assert.ok(!m(0, { exe: '/usr/local/bin/backup', user: 'root' }));
    assert.ok(m(1, { exe: '/usr/bin/fluent-bit' }));
    assert.ok(!m(1, { exe: '/usr/bin/fluent-bit', container: 'c'.repeat(64) }));
    assert.deepEqual(a[1]?.pathClasses, ['identity', 'index']);
    assert.ok(m(2, { exe: '/opt/vendor/x/agent' }));
    assert.ok(m(3, { exe: '/usr/bin/python3', argv: ['python3', '/usr/bin/cloud-init', 'init'], uid: 0 }));
    assert.ok(!m(3, { exe: '/usr/bin/python3', argv: ['python3', '/usr/bin/cloud-init', 'init'], uid: 1000 }));
  });

  it('names the file and line of a bad entry', () => {
    assert.throws(
      () =>
        parseAllowlist(
          'callers:\n  - name: ok\n    exe: /bin/x\n  - name: bad\n    path_classes: [secrets]\n',
          'allow.yaml',
        ),
      (e: unknown) =>
        e instanceof InputSyntaxError && e.file === 'allow.yaml' && e.line === 5 && /path_classes/.test(e.message),
    );
    assert.throws(
      () => parseAllowlist('callers:\n  - name: x\n    exe: [unclosed\n', 'a.yaml'),
      (e: unknown) => e instanceof InputSyntaxError && e.file === 'a.yaml' && e.line !== undefined,
    );
    assert.throws(
      () => parseAllowlist('callers:\n  - name: nothing to match\n', 'a.yaml'),
      /at least one of exe, argv, user, uid, container, netns/,
    );
  });
});
