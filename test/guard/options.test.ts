import assert from 'node:assert/strict';
import { test } from 'node:test';
import { GuardBlockedError, isGuardBlocked } from '../../src/guard/blocked-error.ts';
import { metadataAtAddress, metadataAtHostname } from '../../src/guard/destination.ts';
import { DEFAULT_ALLOW, resolveOptions } from '../../src/guard/options.ts';

test('resolveOptions() takes code over IMDSGUARD_GUARD_* over defaults', () => {
  assert.equal(resolveOptions({}, {}).mode, 'block');
  assert.equal(resolveOptions({}, { IMDSGUARD_GUARD_MODE: 'monitor' }).mode, 'monitor');
  assert.equal(resolveOptions({ mode: 'block' }, { IMDSGUARD_GUARD_MODE: 'monitor' }).mode, 'block');
  assert.throws(() => resolveOptions({}, { IMDSGUARD_GUARD_MODE: 'audit' }), /IMDSGUARD_GUARD_MODE "audit"/);
  assert.deepEqual(resolveOptions({}, { IMDSGUARD_GUARD_REPORT: '/tmp/f.jsonl' }).report, { file: '/tmp/f.jsonl' });
  assert.equal(resolveOptions({}, { IMDSGUARD_GUARD_REPORT: 'none' }).report, 'none');
  const allow = resolveOptions({ allowDefaults: false }, { IMDSGUARD_GUARD_ALLOW: '@acme/creds:aws+gcp, plain' }).allow;
  assert.deepEqual(
    allow.map((a) => [a.package, a.providers]),
    [
      ['@acme/creds', ['aws', 'gcp']],
      ['plain', undefined],
    ],
  );
  assert.equal(resolveOptions({}, {}).allow.length, DEFAULT_ALLOW.length);
});

test('metadataAtAddress() reads what sockets carry, metadataAtHostname() the catalogue names', () => {
  assert.equal(
    metadataAtAddress('169.254.169.254', 80, '/latest/meta-data/iam/security-credentials/')?.pathClass,
    'credentials',
  );
  assert.equal(metadataAtAddress('::ffff:169.254.169.254', 80)?.canonical, '169.254.169.254');
  assert.equal(metadataAtAddress('FD00:EC2:0:0:0:0:0:254', 80)?.provider, 'aws');
  assert.equal(metadataAtAddress('169.254.169.254', 80)?.provider, 'multi');
  assert.ok(metadataAtAddress('169.254.169.254', 80)?.providers.includes('gcp'));
  assert.equal(metadataAtAddress('127.0.0.1', 8080), null);
  assert.equal(metadataAtAddress('127.0.0.1', 40342)?.provider, 'azure');
  assert.equal(metadataAtAddress('10.0.0.1', 80), null);
  assert.equal(metadataAtHostname('Metadata.Google.Internal.', 80)?.provider, 'gcp');
  assert.equal(metadataAtHostname('localhost', 3000), null);
  assert.equal(metadataAtHostname('example.com', 80), null);
});

test('GuardBlockedError says what was refused and why; isGuardBlocked() sees through wrappers', () => {
  const d = metadataAtAddress('169.254.169.254', 80, '/latest/user-data')!;
  const e = new GuardBlockedError(
    d,
    { host: 'evil.example', address: '169.254.169.254', port: 80 },
    'no allowlisted caller',
    'f1',
  );
  assert.equal(e.code, 'ERR_IMDSGUARD_BLOCKED');
  assert.match(
    e.message,
    /169\.254\.169\.254:80 \(resolved from "evil\.example"\).*aws ec2-imds.*no allowlisted caller/,
  );
  assert.ok(isGuardBlocked(new TypeError('fetch failed', { cause: e })));
  assert.ok(!isGuardBlocked(new Error('ECONNREFUSED')));
});
