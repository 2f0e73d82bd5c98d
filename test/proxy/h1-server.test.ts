/** The proxy's HTTP/1.1 front end over real loopback sockets, with an echoing handler in place of the proxy. */
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { type H1Connection, H1Server } from '../../src/adapters/net/h1-server.ts';
import type { HttpRequestError } from '../../src/core/http/request-head.ts';

interface Seen {
  errors: Array<{ status: number; code: string }>;
  connections: number;
}

function echoServer(seen: Seen, opts: { keepAliveTimeoutMs?: number; headersTimeoutMs?: number } = {}) {
  return new H1Server<number>(
    { host: '127.0.0.1', port: 0, maxBodyBytes: 1024, ...opts },
    {
      onConnection: (conn: H1Connection<number>) => {
        seen.connections++;
        conn.context = seen.connections;
      },
      onRequest: (conn, { head, body }) => {
        if (head.target === '/stream') {
          conn.beginResponse(200, 'OK', 'content-type: text/plain\r\n', -1);
          conn.sendBody(Buffer.from('first,'), false);
          setTimeout(() => conn.sendBody(Buffer.from('second'), true), 20);
          return;
        }
        const text = `${head.method} ${head.target} conn=${conn.context} body=${body?.toString('latin1') ?? '-'}`;
        // Answer later for /slow, so a pipelined request behind it must wait its turn.
        if (head.target === '/slow') setTimeout(() => conn.respond(200, 'content-type: text/plain\r\n', text), 30);
        else conn.respond(200, 'content-type: text/plain\r\n', text);
      },
      onClientError: (conn, err: HttpRequestError) => {
        seen.errors.push({ status: err.status, code: err.code });
        conn.reject(err);
      },
    },
  );
}

/** Write `parts` (with a pause between them), then collect everything until the server closes or `waitMs` passes. */
function raw(
  port: number,
  parts: string[],
  o: { waitMs?: number; halfClose?: boolean; gapMs?: number } = {},
): Promise<{ data: string; closed: boolean }> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    let data = '';
    let closed = false;
    s.on('data', (c: Buffer) => {
      data += c.toString('latin1');
    });
    s.on('error', () => undefined);
    const t = setTimeout(() => {
      s.destroy();
      resolve({ data, closed });
    }, o.waitMs ?? 1500);
    s.on('close', () => {
      closed = true;
      clearTimeout(t);
      resolve({ data, closed });
    });
    s.on('connect', async () => {
      for (const p of parts) {
        s.write(p, 'latin1');
        if (o.gapMs) await new Promise((r) => setTimeout(r, o.gapMs));
      }
      if (o.halfClose) s.end();
    });
  });
}

const statuses = (data: string) => [...data.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((m) => Number(m[1]));

describe('h1-server: the proxy front end', () => {
  const seen: Seen = { errors: [], connections: 0 };
  let server: H1Server<number>;
  let port = 0;
  before(async () => {
    server = echoServer(seen, { keepAliveTimeoutMs: 400, headersTimeoutMs: 300 });
    port = (await server.listen()).port;
  });
  after(() => server.close());

  test('pipelined requests are answered in order, one after another, on one connection', async () => {
    const r = await raw(port, [
      'GET /slow HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\nGET /c HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
    ]);
    const bodies = [...r.data.matchAll(/GET (\/\w+) conn=(\d+)/g)].map((m) => `${m[1]}@${m[2]}`);
    assert.equal(new Set(bodies.map((b) => b.split('@')[1])).size, 1);
    assert.deepEqual(
      bodies.map((b) => b.split('@')[0]),
      ['/slow', '/b', '/c'],
    );
    assert.equal(r.closed, true);
    assert.match(r.data, /connection: close\r\n/);
  });

  test('a Content-Length body split over writes, and a chunked body, arrive whole', async () => {
    const cl = await raw(
      port,
      ['PUT /a HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\nConnection: close\r\n\r\nhello', ' wrld'],
      {
        gapMs: 20,
      },
    );
    assert.match(cl.data, /PUT \/a conn=\d+ body=hello wrld/);
    const ch = await raw(
      port,
      [
        'PUT /b HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n',
        '5\r\nhello\r\n',
        '0\r\n\r\n',
      ],
      { gapMs: 20 },
    );
    assert.match(ch.data, /PUT \/b conn=\d+ body=hello/);
  });

  test('Expect: 100-continue gets an interim 100 before the final answer', async () => {
    const r = await raw(
      port,
      ['PUT /e HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n', 'ok'],
      { gapMs: 50 },
    );
    assert.deepEqual(statuses(r.data), [100, 200]);
    assert.match(r.data, /body=ok/);
  });

  test('HTTP/1.0: closed after the answer unless it asked for keep-alive; a streamed body ends with the connection', async () => {
    const plain = await raw(port, ['GET /x HTTP/1.0\r\n\r\n']);
    assert.equal(plain.closed, true);
    assert.match(plain.data, /^HTTP\/1\.1 200 OK\r\n[\s\S]*connection: close\r\n/);
    const kept = await raw(port, ['GET /x HTTP/1.0\r\nConnection: keep-alive\r\n\r\n'], { waitMs: 200 });
    assert.equal(kept.closed, false);
    assert.match(kept.data, /connection: keep-alive\r\n/);
    const streamed = await raw(port, ['GET /stream HTTP/1.0\r\nConnection: keep-alive\r\n\r\n']);
    assert.equal(streamed.closed, true);
    assert.doesNotMatch(streamed.data, /transfer-encoding/);
    assert.match(streamed.data, /\r\n\r\nfirst,second$/);
  });

  test('a streamed body of unknown length is chunked to HTTP/1.1 clients and reads back intact with node:http', async () => {
    const body = await new Promise<string>((resolve, reject) => {
      httpRequest({ host: '127.0.0.1', port, path: '/stream' }, (res) => {
        assert.equal(res.headers['transfer-encoding'], 'chunked');
        let b = '';
        res.on('data', (c: Buffer) => {
          b += c.toString();
        });
        res.on('end', () => resolve(b));
      })
        .on('error', reject)
        .end();
    });
    assert.equal(body, 'first,second');
  });

  test('HEAD gets the head without the body', async () => {
    const r = await raw(port, ['HEAD /h HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n']);
    assert.match(r.data, /content-length: \d+\r\n/);
    assert.ok(r.data.endsWith('\r\n\r\n'), JSON.stringify(r.data));
  });

  test('a client that half-closes after its request still gets the answer', async () => {
    const r = await raw(port, ['GET /half HTTP/1.1\r\nHost: x\r\n\r\n'], { halfClose: true });
    assert.match(r.data, /GET \/half/);
    assert.equal(r.closed, true);
  });

  test('refusals: smuggling, a missing Host, an oversized body, a bad version; each answered once and closed', async () => {
    const cases: Array<[string, number]> = [
      ['POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n', 400],
      ['GET / HTTP/1.1\r\nAccept: */*\r\n\r\n', 400],
      ['PUT / HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n', 413],
      ['PUT / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n800\r\n', 413],
      ['GET / HTTP/2.0\r\nHost: x\r\n\r\n', 505],
      ['GET / HTTP/1.1\r\nHost: x\r\nX: a\r\n b\r\n\r\n', 400],
    ];
    for (const [wire, status] of cases) {
      const before = seen.errors.length;
      // A request after the bad one must not be read: the connection is answered once and closed.
      const r = await raw(port, [`${wire}GET /after HTTP/1.1\r\nHost: x\r\n\r\n`]);
      assert.deepEqual(statuses(r.data), [status], JSON.stringify(wire));
      assert.equal(r.closed, true);
      assert.doesNotMatch(r.data, /\/after/);
      assert.equal(seen.errors.length, before + 1);
      assert.equal(seen.errors.at(-1)!.status, status);
    }
  });

  test('a head that never ends gets 408; a connection that sends nothing is closed without an answer or a report', async () => {
    const before = seen.errors.length;
    const slow = await raw(port, ['GET / HTTP/1.1\r\nHost: x\r\nX-Slow: '], { waitMs: 3000 });
    assert.deepEqual(statuses(slow.data), [408]);
    assert.equal(seen.errors.length, before + 1);
    const silent = await raw(port, [], { waitMs: 3000 });
    assert.equal(silent.closed, true);
    assert.equal(silent.data, '');
    assert.equal(seen.errors.length, before + 1);
  });

  test('an idle keep-alive connection is closed after the keep-alive timeout', async () => {
    const t0 = Date.now();
    const r = await raw(port, ['GET /idle HTTP/1.1\r\nHost: x\r\n\r\n'], { waitMs: 3000 });
    assert.deepEqual(statuses(r.data), [200]);
    assert.equal(r.closed, true);
    assert.ok(Date.now() - t0 >= 350, `closed after ${Date.now() - t0} ms`);
    assert.match(r.data, /keep-alive: timeout=1\r\n/);
  });
});
