import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { explain } from '../../src/app/explain.ts';
import { splitAfterScheme } from '../../src/core/decode/url.ts';
import { severityRank } from '../../src/core/model/severity.ts';
import { scanTargets } from './log-shapes.ts';

// Where a URL given as a parameter's value ends. A dotted address is found in any text, so these cases use the
// spellings that are only found once the URL's host is cut out right: numbers, IPv6, one-word names.

/** Every target is a metadata finding at or above the default --fail-on, in both log formats and in `explain`. */
async function assertAllFound(targets: string[]): Promise<void> {
  for (const { format, found } of await scanTargets(targets)) {
    for (const [i, t] of targets.entries()) {
      const f = found[i];
      assert.ok(f, `${format}: ${t} is not found`);
      assert.ok(severityRank(f.severity) >= severityRank('medium'), `${format}: ${t} → ${f.severity}`);
    }
  }
  for (const t of targets) assert.equal(explain(t).verdict, 'metadata', `explain ${t}`);
}

describe('a URL in a query parameter ends where the parameter does', () => {
  test("a host that is not dotted, followed by '&' and the next parameter, is found", async () => {
    await assertAllFound([
      '/fetch?url=http://0xa9fea9fe&format=json',
      '/fetch?url=http://2852039166&x=1',
      '/fetch?url=http://0251.0376.0251.0376&x=1',
      '/fetch?url=http://0251.254.169.254&x=1',
      '/fetch?url=http://[::ffff:a9fe:a9fe]&x=1',
      '/fetch?url=http://[fd00:ec2::254]&x=1',
      '/fetch?url=http://metadata&x=1',
      '/fetch?url=http://instance-data&x=1',
      '/fetch?url=HTTP://0xa9fea9fe&x=1',
      '/fetch?url=http://user@0xa9fea9fe&x=1',
      '/fetch?url=http://169.254.43518&lang=en',
      '/fetch?url=http://425.510.425.510&format=json',
      '/x?next=http%3A%2F%2F0xa9fea9fe&a=b',
      '/fetch?url=http://0xa9fea9fe;x=1',
      '/batch?urls=http://2852039166,http://example.com/',
    ]);
  });

  test('one host per reading: the parameter cut, and the URL read whole', () => {
    assert.deepEqual(
      splitAfterScheme('http', '0xa9fea9fe&format=json').map((r) => r.host),
      ['0xa9fea9fe&format=json', '0xa9fea9fe'],
    );
    assert.deepEqual(
      splitAfterScheme('http', 'user@2852039166&x=1').map((r) => [r.host, r.transforms]),
      [
        ['2852039166&x=1', ['userinfo']],
        ['2852039166', ['userinfo']],
      ],
    );
    // Within one parameter's value an '&' is userinfo, and the host after the '@' is read too.
    assert.deepEqual(
      splitAfterScheme('http', 'a&@0xa9fea9fe/latest/').map((r) => r.host),
      ['0xa9fea9fe', 'a'],
    );
  });

  test('an ordinary host before the next parameter is nothing', async () => {
    const targets = [
      '/fetch?url=http://example.com&format=json',
      '/login?next=https://shop.example.com&lang=en',
      '/fetch?url=http://2852039166.example.com&x=1',
    ];
    for (const { format, found } of await scanTargets(targets))
      assert.deepEqual(
        found.flatMap((f, i) => (f ? [targets[i]] : [])),
        [],
        format,
      );
  });
});

describe('several hosts in one URL (parser confusion): the host each parser connects to is read', () => {
  test('the WHATWG host after spaces and "&" in userinfo, and the last "@" before the first "/"', async () => {
    assert.deepEqual(
      splitAfterScheme('http', '1.1.1.1 &@2.2.2.2# @3.3.3.3/').map((r) => r.host),
      ['1.1.1.1', '2.2.2.2', '3.3.3.3'],
    );
    await assertAllFound([
      '/fetch?url=http://1.1.1.1%20%26@0xa9fea9fe%23%20@3.3.3.3/',
      '/fetch?url=http://1.1.1.1%20%26@2852039166%23%20@3.3.3.3/',
      '/fetch?url=http://1.1.1.1%20%26@metadata%23%20@3.3.3.3/',
      '/fetch?url=http://1.1.1.1%20%26@3.3.3.3%23%20@0xa9fea9fe/',
      '/fetch?url=http://127.1.1.1:80%5C@0xa9fea9fe:80/',
      '/fetch?url=http://127.1.1.1:80\\@2852039166:80/',
      '/fetch?url=http://127.1.1.1:80\\@[::ffff:a9fe:a9fe]:80/',
    ]);
  });
});

describe('userinfo that parsers disagree on, and a second port', () => {
  test('the host after the first "@", a host before "+&@", a host with two ports', async () => {
    assert.deepEqual(
      splitAfterScheme('http', 'a@0xa9fea9fe:80@example.com/').map((r) => r.host),
      ['example.com', '0xa9fea9fe'],
    );
    assert.deepEqual(
      splitAfterScheme('http', '2852039166:80:80/').map((r) => [r.host, r.port]),
      [['2852039166', 80]],
    );
    await assertAllFound([
      '/fetch?url=http://probe@0xa9fea9fe:80@example.com/&format=json',
      '/fetch?url=http%3A%2F%2Fprobe%402852039166%3A80%2B%40example.com%2F&format=json',
      '/fetch?url=http://x@[::ffff:a9fe:a9fe]:80@example.com/&format=json',
      '/fetch?url=http://0xa9fea9fe:80+&@example.com#+@example.com/',
      '/fetch?url=http://0251.0376.0251.0376:80:80/&format=json',
      '/fetch?url=http://[::ffff:a9fe:a9fe]:80:80/',
    ]);
  });
});
