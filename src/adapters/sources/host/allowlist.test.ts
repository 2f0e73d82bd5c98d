import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InputSyntaxError } from '../../../core/errors.ts';
import { parseAllowlist } from './allowlist.ts';

describe('parseAllowlist()', () => {
  it('turns entries into caller patterns (globs, bare names, users, containers, path classes)', () => {
    const a = parseAllowlist(
      'callers:\n  - name: backup\n    exe: /usr/local/bin/backup\n    user: backup\n  - name: any fluent-bit\n    exe: fluent-bit\n    container: host\n    path_classes: [identity, index]\n  - name: opt agents\n    exe: /opt/**/agent\n',
      'allow.yaml',
    );
    assert.equal(a.length, 3);
    assert.ok(a[0]?.exe?.test('/usr/local/bin/backup'));
    assert.ok(!a[0]?.exe?.test('/usr/local/bin/backupX'));
    assert.ok(a[1]?.exe?.test('/usr/bin/fluent-bit'));
    assert.deepEqual(a[1]?.pathClasses, ['identity', 'index']);
    assert.ok(a[2]?.exe?.test('/opt/vendor/x/agent'));
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
      /at least one of exe, user, container/,
    );
  });
});
