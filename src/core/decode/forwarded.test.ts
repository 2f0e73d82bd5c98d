import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { forwardedHosts } from './forwarded.ts';

describe('Forwarded header values (RFC 7239)', () => {
  test('host= values, as tokens or quoted strings, in every element', () => {
    assert.deepEqual(forwardedHosts('host=169.254.169.254'), ['169.254.169.254']);
    assert.deepEqual(forwardedHosts('for=192.0.2.60;proto=http;host=0xa9fea9fe'), ['0xa9fea9fe']);
    assert.deepEqual(forwardedHosts('for="[2001:db8:cafe::17]:4711"; host="[fd00:ec2::254]"'), ['[fd00:ec2::254]']);
    assert.deepEqual(forwardedHosts('for=192.0.2.43, for=198.51.100.17;Host=metadata.google.internal'), [
      'metadata.google.internal',
    ]);
    assert.deepEqual(forwardedHosts('host="a\\"b";;for=x'), ['a"b']);
  });
  test('for= and by= name machines, not destinations: parsed, no host', () => {
    assert.deepEqual(forwardedHosts('for=169.254.169.254;by=203.0.113.43'), []);
    assert.deepEqual(forwardedHosts('for=unknown, for=_hidden'), []);
  });
  test('text that is not a Forwarded value is left to be read as text', () => {
    assert.equal(forwardedHosts('http://169.254.169.254/latest/meta-data/'), null);
    assert.equal(forwardedHosts('host="169.254.169.254'), null);
    assert.equal(forwardedHosts('url=http://169.254.169.254/'), null);
    assert.equal(forwardedHosts('for=a b;host=c'), null);
    assert.equal(forwardedHosts(''), null);
  });
});
