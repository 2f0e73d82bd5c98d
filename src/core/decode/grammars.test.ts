import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { classify, verdictOf } from '../classify.ts';
import { DNS_ALIASES, DNS_SERVICES, REDIRECT_ALIASES } from '../endpoints/aliases.ts';
import { mayAddressMetadata } from '../prefilter.ts';
import { findBase64Urls } from './base64.ts';
import { decodeCharCodeCalls } from './charcodes.ts';
import { decodeBackslashEscapes } from './escapes.ts';
import { findHexUrls } from './hex-url.ts';
import { canonicalHostReadings } from './host.ts';
import { readMakeRecords } from './rebinding.ts';

const META = 'http://169.254.169.254/latest/meta-data/iam/security-credentials/';
const hex = (s: string) => Buffer.from(s).toString('hex');
const b64url = (s: string) => Buffer.from(s).toString('base64url');
/** Found by the classifier, and admitted by the prefilter (which must hold for whatever the classifier finds). */
const metadata = (t: string) => {
  assert.equal(verdictOf(classify(t)), 'metadata', t);
  assert.ok(mayAddressMetadata(t), `prefilter admits ${t}`);
};
const notMetadata = (t: string) => assert.notEqual(verdictOf(classify(t)), 'metadata', t);

describe('1u.ms record grammar', () => {
  const values = (label: string) => readMakeRecords(label).map((r) => r.value);
  test('addresses with dots, dashes, both, -and- lists and the rebound answer', () => {
    assert.deepEqual(values('make-169.254.169.254-rr'), ['169.254.169.254']);
    assert.deepEqual(values('make-169-254-169-254-rr'), ['169.254.169.254']);
    assert.deepEqual(values('make-1.2.3.4-rebind-169.254-169.254-rr'), ['1.2.3.4', '169.254.169.254']);
    assert.deepEqual(values('a.prefix-make-1-2-3-4-and-169-254-169-254-rr-and.x'), ['1.2.3.4', '169.254.169.254']);
  });
  test('ip- forms with letter separators, IPv6 with dashes and doubled dashes, hex records, CNAMEs', () => {
    assert.deepEqual(values('make-ip-169o254o169o254-rr'), ['169.254.169.254']);
    assert.deepEqual(values('make-ip-v6-ccffffca9feca9fe-rr'), ['169.254.169.254']);
    assert.deepEqual(values('make-fd00-ec2--254-rr'), ['fd00:ec2::254']);
    assert.deepEqual(values(`make-hex-${hex('169.254.169.254')}-rr`), ['169.254.169.254']);
    assert.deepEqual(values('make-cname-metadata.google.internal-rr'), ['metadata.google.internal']);
    assert.deepEqual(values('make-metadata.google.internal-rr'), ['metadata.google.internal']);
  });
  test('names without the grammar, and CNAMEs without a dot, answer nothing of interest', () => {
    assert.deepEqual(values('makers-guild'), []);
    assert.deepEqual(values('make-localhost-rr'), []);
    assert.deepEqual(values(`make-hex-${hex('not an address')}-rr`), []);
  });
  test('every form classifies as metadata in a URL parameter; benign 1u.ms names do not', () => {
    for (const name of [
      'make-1.2.3.4-rebind-169.254-169.254-rr.1u.ms',
      'x-make-ip-169o254o169o254-rr-y.1u.ms',
      'make-ip-v6-ccffffca9feca9fe-rr.1u.ms',
      'make-fd00-ec2--254-rr.1u.ms',
      `make-hex-${hex('169.254.169.254')}-rr.1u.ms`,
      'make-1.1.1.1-rebind-cname-metadata.google.internal-rr.1u.ms',
    ])
      metadata(`/fetch?url=http://${name}/latest/meta-data/`);
    notMetadata('/fetch?url=http://make-93.184.216.34-rr.1u.ms/latest/meta-data/');
    notMetadata('/fetch?url=http://make-cname-example.com-rr.1u.ms/latest/meta-data/');
  });
});

describe('public aliases (data with a source per entry)', () => {
  test('every entry names its source', () => {
    for (const e of [...DNS_SERVICES, ...DNS_ALIASES, ...REDIRECT_ALIASES]) assert.ok(e.source.length > 8);
  });
  test('fixed names read as their address; redirectors as their target', () => {
    assert.ok(canonicalHostReadings('meta.sub.sh.je').some((r) => r.canonical === '169.254.169.254'));
    metadata('/fetch?url=http://meta.sub.sh.je/latest/meta-data/');
    metadata('/fetch?url=http://nicob.net/redir6a');
    notMetadata('/fetch?url=http://sub.sh.je/');
    notMetadata('/fetch?url=http://nicob.net/blog/');
  });
  test('names published in payload lists as metadata aliases, with their subdomains where the service reads only one label', () => {
    metadata('/fetch?url=http://metadata.nicob.net/');
    metadata('/fetch?url=http://metadata.nicob.net/latest/meta-data/iam/security-credentials/');
    notMetadata('/fetch?url=http://www.nicob.net/');
    notMetadata('/fetch?url=http://nicob.net/about');
  });
  test("xip.io's base-36 label, as xip-pdns reads it: low byte first, so 1ynrnhl (0xfea9fea9) is 169.254.169.254", () => {
    const b36 = (n: string) => canonicalHostReadings(n).find((r) => r.transforms.includes('ip-base36'))?.canonical;
    assert.equal(b36('1ynrnhl.xip.io'), '169.254.169.254');
    assert.equal(b36('www.owasp.org.1ynrnhl.xip.io'), '169.254.169.254');
    metadata('/fetch?url=http://1ynrnhl.xip.io/');
    metadata('/fetch?url=http://www.owasp.org.1ynrnhl.xip.io/latest/meta-data/');
    // 0xa9fea9fe in base 36: xip.io answered 254.169.254.169 for it, not a metadata address.
    assert.equal(b36('1b613i6.xip.io'), '254.169.254.169');
    notMetadata('/fetch?url=http://1b613i6.xip.io/latest/meta-data/');
    notMetadata('/fetch?url=http://blog.xip.io/');
    notMetadata('/fetch?url=http://10.0.0.1.xip.io/');
    // Only xip.io read base 36; the same label under another zone is a name.
    notMetadata('/fetch?url=http://1ynrnhl.nip.io/');
  });
});

describe('wildcard and rebinding zones read only the notations their servers read', () => {
  test('nip.io and sslip.io: dotted, dashed and 8 hex digits; sslip.io also IPv6 with dashes; rbndr.us: hex labels', () => {
    for (const n of [
      'app.169.254.169.254.nip.io',
      'app-169-254-169-254.nip.io',
      'app-a9fea9fe.nip.io',
      'x.169.254.169.254.sslip.io',
      'www-169-254-169-254.sslip.io',
      'a9fea9fe.sslip.io',
      'fd00-ec2--254.sslip.io',
      'a9fea9fe.7f000001.rbndr.us',
      '169.254.169.254.xip.io',
    ])
      metadata(`/fetch?url=http://${n}/latest/meta-data/`);
  });
  test('a notation the zone does not read (0x prefixes, hex or dashes under xip.io, dotted under rbndr.us) is a name', () => {
    for (const n of [
      '0xa9fea9fe.nip.io',
      '0xa9fea9fe.sslip.io',
      'a9fea9fe.xip.io',
      '169-254-169-254.xip.io',
      '169.254.169.254.7f000001.rbndr.us',
    ])
      notMetadata(`/fetch?url=http://${n}/latest/meta-data/`);
  });
});

describe('hex-written URLs', () => {
  test('open in a parameter and in a camo-style path segment', () => {
    assert.deepEqual(findHexUrls(`/camo/3f4c2a1b9d0e/${hex(META)}`), [META]);
    assert.deepEqual(findHexUrls(`/proxy?url=${hex(META).toUpperCase()}`), [META]);
    metadata(`/camo/0d1c2b3a4f5e6d7c8b9a/${hex(META)}`);
    metadata(`/r?u=${hex(META)}`);
  });
  test('digests, ids and hex URLs of other hosts stay what they are', () => {
    assert.deepEqual(findHexUrls('/commit/3f786850e387550fdab836ed7e6dc881de23001b'), []);
    assert.deepEqual(findHexUrls('/assets/app.a9fea9fea9fea9fe.js'), []);
    notMetadata(`/camo/3f4c2a1b/${hex('https://images.example.com/cat.jpg')}`);
  });
});

describe('base64 URLs in path segments', () => {
  test('after other segments, with an extension, and split across slashes', () => {
    const e = b64url(META);
    metadata(`/imgproxy/sig/rs:fit:300:300/${e}.jpg`);
    metadata(`/insecure/300/${e}`);
    metadata(`/sig/rs:fill:64/${e.slice(0, 10)}/${e.slice(10, 31)}/${e.slice(31)}.png`);
    assert.deepEqual(findBase64Urls(`/x/${e.slice(0, 2)}/${e.slice(2)}.webp`), [META]);
  });
  test('ordinary path segments and images of other hosts do not open to metadata', () => {
    assert.deepEqual(findBase64Urls('/static/js/vendors/chunk-2b4f/main.bundle'), []);
    notMetadata(`/imgproxy/sig/rs:fit:300/${b64url('https://cdn.example.com/a/b.jpg')}.jpg`);
  });
});

describe('script escapes and character codes', () => {
  const octal = (s: string) => [...s].map((c) => `\\${c.charCodeAt(0).toString(8).padStart(3, '0')}`).join('');
  test('octal and \\u{…} escapes decode', () => {
    assert.equal(decodeBackslashEscapes(octal('http://')), 'http://');
    assert.equal(decodeBackslashEscapes('\\u{68}ttp'), 'http');
    assert.equal(decodeBackslashEscapes('a\\0b'), 'a\\0b');
  });
  test('String.fromCharCode calls decode; other calls stay', () => {
    assert.equal(decodeCharCodeCalls('f(String.fromCharCode(104,0x74,116,112))'), 'f("http")');
    assert.equal(decodeCharCodeCalls('String.fromCharCode(x)'), 'String.fromCharCode(x)');
  });
  test('payloads in a parameter classify as metadata', () => {
    metadata(`/render?js=${encodeURIComponent(`<script>fetch("${octal(META)}")</script>`)}`);
    metadata(
      `/render?js=<script>fetch("\\x68\\x74\\x74\\x70\\x3a\\x2f\\x2f169.254.169.254/latest/user-data")</script>`,
    );
    metadata(
      `/render?js=${encodeURIComponent(`<script>fetch(String.fromCharCode(${[...META].map((c) => c.charCodeAt(0)).join(',')}))</script>`)}`,
    );
    notMetadata(
      `/render?js=${encodeURIComponent(`<script>alert(String.fromCharCode(${[...'hello'].map((c) => c.charCodeAt(0)).join(',')}))</script>`)}`,
    );
  });
});
