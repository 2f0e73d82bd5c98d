import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { classify, verdictOf } from '../classify.ts';
import { findBase64Urls } from './base64.ts';
import { decodeEntities } from './entities.ts';
import { decodeBackslashEscapes } from './escapes.ts';
import { canonicalHostReadings, internalKindOf } from './host.ts';
import { parseIPv4Loose, parseIPv6 } from './ip.ts';
import { isUrlishParam } from './params.ts';
import { percentDecodeFixpoint, percentDecodeOnce } from './percent.ts';
import { decodeSlugHex, hasSlugHex } from './slug.ts';
import { foldUnicode } from './unicode.ts';
import { resolveDotSegments, smuggledRequestPath, splitAfterScheme } from './url.ts';
import { decodeViews } from './views.ts';

describe('percentDecodeFixpoint()', () => {
  test('undoes stacked encodings and counts the rounds', () => {
    const r = percentDecodeFixpoint('http%25253A%25252F%25252F169.254.169.254');
    assert.equal(r.text, 'http://169.254.169.254');
    assert.equal(r.rounds, 3);
  });
  test('decodes %uXXXX and multi-byte UTF-8', () => {
    assert.equal(percentDecodeOnce('%u0068ttp%3A%2F%2F'), 'http://');
    assert.equal(percentDecodeOnce('caf%C3%A9'), 'café');
  });
  test('leaves invalid sequences and plain text alone', () => {
    assert.equal(percentDecodeOnce('100% sure %zz %4'), '100% sure %zz %4');
    assert.equal(percentDecodeFixpoint('/search?q=shoes').rounds, 0);
  });
  test('stops a decoding bomb at the cap', () => {
    let s = ':';
    for (let i = 0; i < 20; i++) s = encodeURIComponent(s);
    assert.equal(percentDecodeFixpoint(s, 8).rounds, 8);
  });
});

describe('decodeEntities()', () => {
  test('decodes numeric, hex, semicolon-less and named references', () => {
    assert.equal(decodeEntities('http&#58;&#x2F;&#47;169&period;254&colon;'), 'http://169.254:');
    assert.equal(decodeEntities('http&#58//x'), 'http://x');
  });
  test('leaves unknown names and bare ampersands', () => {
    assert.equal(decodeEntities('a&b=1&unknown;&c'), 'a&b=1&unknown;&c');
  });
});

describe('decodeBackslashEscapes()', () => {
  test('decodes nginx \\xHH bytes as UTF-8 and JSON escapes', () => {
    assert.equal(decodeBackslashEscapes('\\xE2\\x91\\xA0\\x22'), '①"');
    assert.equal(decodeBackslashEscapes('http:\\/\\/x\\u002fy'), 'http://x/y');
  });
  test('leaves lone backslashes', () => assert.equal(decodeBackslashEscapes('C:\\Windows\\q'), 'C:\\Windows\\q'));
});

describe('foldUnicode()', () => {
  test('folds fullwidth, enclosed alphanumerics and ideographic dots', () => {
    assert.equal(foldUnicode('１６９。２５４｡①⑥⑨．②⑤④'), '169.254.169.254');
    assert.equal(foldUnicode('ⓜⓔⓣⓐⓓⓐⓣⓐ'), 'metadata');
  });
  test('leaves ASCII untouched and keeps other scripts', () => {
    assert.equal(foldUnicode('plain'), 'plain');
    assert.equal(foldUnicode('東京'), '東京');
  });
});

describe('hex slugs', () => {
  test('decode -3a-2f-2f forms', () =>
    assert.equal(decodeSlugHex('http-3a-2f-2f169.254.169.254-2flatest'), 'http://169.254.169.254/latest'));
  test('ignore ordinary hyphenated words', () => {
    assert.equal(hasSlugHex('/blog/top-3-tips-2024'), false);
    assert.equal(hasSlugHex('/item-3a'), true);
  });
});

describe('findBase64Urls()', () => {
  test('opens base64 and base64url payloads that carry a URL', () => {
    const u = 'http://169.254.169.254/latest/';
    assert.deepEqual(findBase64Urls(`x=${Buffer.from(u).toString('base64')}`), [u]);
    assert.deepEqual(findBase64Urls(`x=${Buffer.from(u).toString('base64url')}`), [u]);
  });
  test('opens a URL encoded as a path segment, first, middle or last, with segments after it', () => {
    const u = 'http://169.254.170.23/v1/credentials';
    const b = Buffer.from(u).toString('base64').replace(/=+$/, '');
    for (const path of [`/media/${b}/thumb`, `/img/x1/${b}/w/300`, `/${b}/a/b/c`, `/r/${b}`]) {
      assert.deepEqual(findBase64Urls(path), [u], path);
    }
  });
  test('ignores tokens that decode to binary or to text without a marker', () => {
    assert.deepEqual(findBase64Urls('session=dGhpcyBpcyBhIHRlc3Qgb2YgYmFzZTY0'), []);
    assert.deepEqual(findBase64Urls('sha=3f786850e387550fdab836ed7e6dc881de23001b'), []);
  });
});

describe('parseIPv4Loose()', () => {
  const meta = '169.254.169.254';
  for (const [form, transform] of [
    ['2852039166', 'ipv4-decimal'],
    ['0xA9FEA9FE', 'ipv4-hex'],
    ['0xA9.0xFE.0xA9.0xFE', 'ipv4-hex'],
    ['0251.0376.0251.0376', 'ipv4-octal'],
    ['0251.00376.000251.0000376', 'ipv4-octal'],
    ['169.254.43518', 'ipv4-short'],
    ['169.16689662', 'ipv4-short'],
    ['7147006462', 'ipv4-overflow'],
    ['0x41414141A9FEA9FE', 'ipv4-overflow'],
    ['425.510.425.510', 'ipv4-overflow'],
    ['169.254.169.254.', 'trailing-dot'],
  ] as const) {
    test(`reads ${form} as ${meta} (${transform})`, () => {
      const r = parseIPv4Loose(form);
      assert.equal(r?.canonical, meta);
      assert.ok(r?.transforms.includes(transform), JSON.stringify(r?.transforms));
    });
  }
  test('agrees with WHATWG URL on every form WHATWG accepts', () => {
    for (const f of ['2852039166', '0xA9FEA9FE', '0251.0376.0251.0376', '169.254.43518', '127.1', '0', '0x7f.1']) {
      assert.equal(parseIPv4Loose(f)?.canonical, new URL(`http://${f}/`).hostname, f);
    }
  });
  test('rejects what is not an address', () => {
    for (const f of ['1.2.3.4.5', 'abc', '0x', '08.1.1.1', '1..2', '']) {
      const r = parseIPv4Loose(f);
      if (f === '0x') assert.equal(r?.canonical, '0.0.0.0');
      else assert.equal(r, null, f);
    }
  });
  test('does not call a plain dotted quad obfuscated', () =>
    assert.deepEqual(parseIPv4Loose('10.0.0.1')?.transforms, []));
});

describe('parseIPv6()', () => {
  for (const [form, how] of [
    ['[::ffff:a9fe:a9fe]', 'ipv6-mapped'],
    ['0:0:0:0:0:ffff:169.254.169.254', 'ipv6-mapped'],
    ['[::169.254.169.254]', 'ipv6-compatible'],
    ['64:ff9b::a9fe:a9fe', 'ipv6-nat64'],
    ['2002:a9fe:a9fe::1', 'ipv6-6to4'],
    ['::ffff:0:a9fe:a9fe', 'ipv6-siit'],
  ] as const) {
    test(`unwraps ${form} to IPv4 (${how})`, () => {
      const r = parseIPv6(form);
      assert.equal(r?.canonical, '169.254.169.254');
      assert.ok(r?.transforms.includes(how));
    });
  }
  test('canonicalises IPv6 endpoints and strips zone ids', () => {
    assert.equal(parseIPv6('[FD00:0EC2:0:0:0:0:0:0254]')?.canonical, 'fd00:ec2::254');
    assert.deepEqual(parseIPv6('[fe80::1%25eth0]')?.transforms, ['ipv6-zone-id']);
  });
  test('leaves ordinary IPv6 addresses as they are', () => {
    assert.equal(parseIPv6('2001:db8::1')?.canonical, '2001:db8::1');
    assert.equal(parseIPv6('12:30'), null);
  });
});

describe('canonicalHostReadings()', () => {
  const embedded = (h: string) => canonicalHostReadings(h).map((r) => r.canonical);
  test('wildcard DNS names in dotted, dashed, hex and IPv6 forms', () => {
    for (const h of [
      '169.254.169.254.nip.io',
      '169-254-169-254.nip.io',
      'app-a9fea9fe.nip.io',
      'x.169.254.169.254.sslip.io',
    ]) {
      assert.ok(embedded(h).includes('169.254.169.254'), h);
    }
    assert.ok(embedded('fd00-ec2--254.sslip.io').includes('fd00:ec2::254'));
  });
  test('rebinding names yield both addresses', () => {
    assert.deepEqual(embedded('a9fea9fe.7f000001.rbndr.us').slice(1).sort(), ['127.0.0.1', '169.254.169.254']);
    // Fields separated by underscores, on a domain no list names.
    assert.ok(embedded('1337_d83ad02e_a9fea9fe.dnsrebinder.net').includes('169.254.169.254'));
    assert.deepEqual(embedded('build_2024_release.example.net'), ['build_2024_release.example.net']);
  });
  test('case, trailing dots, backslashes and Unicode fold to the canonical name', () => {
    assert.equal(embedded('METADATA.Google.Internal.')[0], 'metadata.google.internal');
    assert.equal(embedded('\\l\\o\\c\\a\\l\\h\\o\\s\\t')[0], 'localhost');
    assert.equal(embedded('ⓛⓞⓒⓐⓛⓗⓞⓢⓣ')[0], 'localhost');
  });
  test('ordinary names embed nothing', () => {
    assert.deepEqual(embedded('cdn.example.com'), ['cdn.example.com']);
    assert.deepEqual(embedded('nip.io'), ['nip.io']);
    assert.deepEqual(embedded('v169.254.example'), ['v169.254.example']);
  });
});

describe('internalKindOf()', () => {
  const k = (kind: 'ipv4' | 'ipv6' | 'hostname', canonical: string) => internalKindOf({ kind, canonical });
  test('classifies internal ranges and names', () => {
    assert.equal(k('ipv4', '127.0.0.1'), 'loopback');
    assert.equal(k('ipv4', '10.1.2.3'), 'private');
    assert.equal(k('ipv4', '169.254.169.123'), 'link-local');
    assert.equal(k('ipv4', '0.0.0.0'), 'unspecified');
    assert.equal(k('ipv6', 'fe80::1'), 'link-local');
    assert.equal(k('hostname', 'host.docker.internal'), 'container-host');
    assert.equal(k('hostname', 'kubernetes.default.svc'), 'kubernetes');
  });
  test('public addresses and names are not internal', () => {
    assert.equal(k('ipv4', '8.8.8.8'), null);
    assert.equal(k('ipv4', '0.171.205.239'), null);
    assert.equal(k('hostname', 'example.com'), null);
  });
});

describe('URL structure', () => {
  test('userinfo: WHATWG reading and the loose last-@ reading', () => {
    const r = splitAfterScheme('http', 'google.com:80 &@google.com:80# @127.88.23.245:22/');
    assert.deepEqual(
      r.map((x) => x.host),
      ['google.com', '127.88.23.245'],
    );
    assert.equal(splitAfterScheme('http', 'evil.com@169.254.169.254/x')[0]?.host, '169.254.169.254');
  });
  test('a fragment after the host ends the authority', () => {
    assert.equal(splitAfterScheme('http', '169.254.169.254#@evil.com/')[0]?.host, '169.254.169.254');
  });
  test('dot segments resolve like a URL parser', () => {
    assert.equal(resolveDotSegments('/a/../latest/./meta-data/').path, '/latest/meta-data/');
    assert.equal(resolveDotSegments('/plain/path').changed, false);
  });
  test('requests smuggled in gopher paths are found', () => {
    assert.equal(smuggledRequestPath('/_GET /latest/api/token HTTP/1.1'), '/latest/api/token');
    assert.equal(smuggledRequestPath('/images/getter'), null);
  });
});

describe('isUrlishParam()', () => {
  test('knows URL-carrying names and suffixes', () => {
    for (const n of ['url', 'redirect_uri', 'imageUrl', 'callback_url', 'data[target]', 'webhookEndpoint'])
      assert.ok(isUrlishParam(n), n);
  });
  test('ordinary names are not URL-ish; strict mode is narrower', () => {
    for (const n of ['id', 'sort', 'amount', 'server', 'count']) assert.equal(isUrlishParam(n), false, n);
    assert.equal(isUrlishParam('q', true), false);
    assert.equal(isUrlishParam('url', true), true);
  });
});

describe('decodeViews()', () => {
  test('keeps the input first and records transforms in order', () => {
    const v = decodeViews('u=aHR0cDovLzE2OS4yNTQuMTY5LjI1NC8%3D');
    assert.equal(v[0]?.transforms.length, 0);
    assert.ok(v.some((x) => x.transforms.at(-1) === 'base64' && x.text === 'http://169.254.169.254/'));
    const stacked = decodeViews(`u=${encodeURIComponent(encodeURIComponent('http://169.254.169.254/'))}`);
    assert.ok(stacked.some((x) => x.transforms.join(',') === 'percent×2' && x.text === 'u=http://169.254.169.254/'));
  });
  test('plain text has one view', () => assert.equal(decodeViews('/index.html').length, 1));
});

describe('parseIPv6(): an IPv4 part in another notation', () => {
  test('octal, hex or mixed after ::ffff: is read as its sender meant it, with a disagreement saying parsers refuse it', () => {
    for (const s of [
      '[::ffff:0251.0376.0251.0376]',
      '[::ffff:169.254.0251.0376]',
      '::ffff:0xa9.0xfe.0xa9.0xfe',
      '[0:0:0:0:0:ffff:0251.254.169.254]',
    ]) {
      const p = parseIPv6(s);
      assert.equal(p?.canonical, '169.254.169.254', s);
      assert.ok(p?.transforms.includes('ipv6-mapped'), s);
      assert.ok(
        p?.disagreements.some((d) => /getaddrinfo refuse this form, so it reaches nothing/.test(d)),
        s,
      );
    }
  });
  test('a single number after ::ffff: is read as nothing: no parser takes it', () => {
    assert.equal(parseIPv6('[::ffff:0xa9fea9fe]'), null);
    assert.equal(parseIPv6('[::ffff:2852039166]'), null);
  });
  test('plain dotted decimal parses as before; other prefixes and malformed parts read nothing', () => {
    assert.deepEqual(parseIPv6('[::ffff:169.254.169.254]')?.disagreements, []);
    assert.equal(parseIPv6('[2001:db8::0251.0376.0251.0376]'), null);
    assert.equal(parseIPv6('[::ffff:0999.1.1.1]'), null);
  });
});

describe('script strings joined by +', () => {
  test('are read joined, escapes inside them decoded after', () => {
    for (const t of [
      "fetch('http://'+'\\x31\\x36\\x39\\x2e\\x32\\x35\\x34\\x2e\\x31\\x36\\x39\\x2e\\x32\\x35\\x34'+'/latest/user-data')",
      "var u = 'http://169.' + '254.169.254/latest/';",
    ]) {
      const hits = classify(t);
      assert.equal(verdictOf(hits), 'metadata', t);
      assert.ok(hits[0]?.transforms.includes('js-concat'), JSON.stringify(hits[0]?.transforms));
    }
  });
  test('leave text that only holds a + alone', () => {
    assert.equal(verdictOf(classify("q='169.'+and+'254'")), 'none');
  });
});
