import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ChunkedDecoder } from './chunked-decoder.ts';
import { HttpRequestError, parseRequestHead } from './request-head.ts';

/** The status a head is refused with, or 0 when it parses. */
function refusal(head: string): number {
  try {
    parseRequestHead(head);
    return 0;
  } catch (e) {
    assert.ok(e instanceof HttpRequestError, String(e));
    return e.status;
  }
}

describe('parseRequestHead', () => {
  test('what SDKs, curl and python send parses, names lower-cased, duplicates kept in order', () => {
    const h = parseRequestHead(
      'PUT /latest/api/token HTTP/1.1\r\nHost: 169.254.169.254\r\nUser-Agent: aws-sdk-js/3\r\n' +
        'X-aws-ec2-metadata-token-ttl-seconds: 21600\r\nAccept: a\r\naccept:\t b \t\r\nContent-Length: 0',
    );
    assert.equal(h.method, 'PUT');
    assert.equal(h.target, '/latest/api/token');
    assert.equal(h.minor, 1);
    assert.equal(h.headers['x-aws-ec2-metadata-token-ttl-seconds'], '21600');
    assert.equal(h.headers.accept, 'a, b');
    assert.deepEqual(h.fields.slice(-6), ['accept', 'a', 'accept', 'b', 'content-length', '0']);
    assert.equal(h.contentLength, 0);
    assert.equal(h.keepAlive, true);
    assert.equal(h.chunked, false);
  });

  test('keep-alive follows the version and Connection', () => {
    assert.equal(parseRequestHead('GET / HTTP/1.1\r\nHost: x\r\nConnection: close').keepAlive, false);
    assert.equal(parseRequestHead('GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, CLOSE').keepAlive, false);
    assert.equal(parseRequestHead('GET / HTTP/1.0').keepAlive, false);
    assert.equal(parseRequestHead('GET / HTTP/1.0\r\nConnection: keep-alive').keepAlive, true);
    assert.equal(parseRequestHead('GET / HTTP/1.0\r\nConnection: keep-alive, close').keepAlive, false);
  });

  test('chunked and Expect: 100-continue are recognised', () => {
    const h = parseRequestHead('PUT / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: Chunked\r\nExpect: 100-Continue');
    assert.equal(h.chunked, true);
    assert.equal(h.expectContinue, true);
  });

  test('smuggling shapes are refused with 400', () => {
    for (const head of [
      // CL.TE and TE.CL
      'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked',
      'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 4',
      // two lengths, even equal ones; a list; signs; spaces inside
      'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nContent-Length: 4',
      'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4, 4',
      'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: +4',
      'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4 4',
      'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0x10',
      // whitespace before the colon, obs-fold, a header line without colon
      'GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding : chunked',
      'GET / HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n continued',
      'GET / HTTP/1.1\r\nHost: x\r\nnot a header',
      // bare LF and CR inside lines, NUL and other controls in values
      'GET / HTTP/1.1\nHost: x',
      'GET / HTTP/1.1\r\nHost: x\nX-Injected: 1',
      'GET / HTTP/1.1\r\nHost: x\r\nX-A: a\rb',
      'GET / HTTP/1.1\r\nHost: x\r\nX-A: a\u0000b',
      'GET / HTTP/1.1\r\nHost: x\r\nX-A: a\u007fb',
      // Transfer-Encoding in HTTP/1.0
      'POST / HTTP/1.0\r\nTransfer-Encoding: chunked',
      // no Host, two Hosts
      'GET / HTTP/1.1\r\nAccept: */*',
      'GET / HTTP/1.1\r\nHost: a\r\nHost: b',
      'GET / HTTP/1.0\r\nHost: a\r\nHost: b',
    ])
      assert.equal(refusal(head), 400, JSON.stringify(head));
  });

  test('malformed request lines are refused with 400; other versions with 505', () => {
    for (const head of [
      '',
      'GET',
      'GET /',
      'GET  / HTTP/1.1\r\nHost: x',
      'GET / HTTP/1.1 \r\nHost: x',
      'G(T / HTTP/1.1\r\nHost: x',
      'GET /a b HTTP/1.1\r\nHost: x',
      'GET /\u00e9 HTTP/1.1\r\nHost: x',
      'GET / http/1.1\r\nHost: x',
      'GET / HTTP/1.1x\r\nHost: x',
      'GET / HTTP/11\r\nHost: x',
    ])
      assert.equal(refusal(head), 400, JSON.stringify(head));
    assert.equal(refusal('GET / HTTP/2.0\r\nHost: x'), 505);
    assert.equal(refusal('PRI * HTTP/2.0'), 505);
    assert.equal(refusal('GET / HTTP/0.9'), 505);
  });

  test('unsupported codings get 501, unsupported expectations 417, too many fields 431', () => {
    assert.equal(refusal('POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked'), 501);
    assert.equal(refusal('POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: identity'), 501);
    assert.equal(refusal('PUT / HTTP/1.1\r\nHost: x\r\nExpect: 200-ok'), 417);
    const many = Array.from({ length: 101 }, (_, i) => `X-${i}: v`).join('\r\n');
    assert.equal(refusal(`GET / HTTP/1.1\r\nHost: x\r\n${many}`), 431);
    assert.equal(refusal(`GET / HTTP/1.1\r\n${many.split('\r\n').slice(2).join('\r\n')}\r\nHost: x`), 0);
  });

  test('obs-text in values is kept byte for byte; the target is kept as sent', () => {
    const h = parseRequestHead('GET /latest/meta-data/?a=%2e HTTP/1.1\r\nHost: x\r\nX-Name: caf\u00e9');
    assert.equal(h.headers['x-name'], 'caf\u00e9');
    assert.equal(h.target, '/latest/meta-data/?a=%2e');
    assert.equal(parseRequestHead('GET http://169.254.169.254/ HTTP/1.1\r\nHost: x').target, 'http://169.254.169.254/');
  });
});

describe('ChunkedDecoder', () => {
  const body = (parts: string[], max = 1024) => {
    const d = new ChunkedDecoder(max);
    let used = 0;
    for (const p of parts) used += d.write(Buffer.from(p, 'latin1'));
    return { done: d.done, body: d.done ? d.body().toString('latin1') : '', used };
  };

  test('decodes sizes, extensions and trailers, one byte at a time as well as whole', () => {
    const wire = '4;ext=1\r\nWiki\r\nA\r\npedia in c\r\n0\r\nX-Trailer: t\r\n\r\n';
    assert.deepEqual(body([wire]), { done: true, body: 'Wikipedia in c', used: wire.length });
    assert.deepEqual(body([...wire]), { done: true, body: 'Wikipedia in c', used: wire.length });
  });

  test('stops at the end of the body: what follows is not consumed', () => {
    const d = new ChunkedDecoder(100);
    const wire = Buffer.from('1\r\na\r\n0\r\n\r\nGET / HTTP/1.1\r\n');
    assert.equal(d.write(wire), '1\r\na\r\n0\r\n\r\n'.length);
    assert.equal(d.done, true);
    assert.equal(d.body().toString(), 'a');
  });

  test('malformed framing is refused with 400; a body over the cap with 413', () => {
    for (const wire of [
      'x\r\n',
      '-1\r\n',
      ' 1\r\na\r\n',
      '1 \r\na\r\n',
      '1\na\r\n',
      '1\r\nab\r\n',
      '123456789\r\n',
      '0\r\nbad trailer\r\n\r\n',
    ]) {
      assert.throws(
        () => body([wire]),
        (e: unknown) => e instanceof HttpRequestError && e.status === 400,
        JSON.stringify(wire),
      );
    }
    assert.throws(
      () => body(['400\r\n'], 1023),
      (e: unknown) => e instanceof HttpRequestError && e.status === 413,
    );
  });
});
