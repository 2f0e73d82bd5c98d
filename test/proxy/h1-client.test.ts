/** The proxy's lean upstream client against scripted raw responses: framing, reuse, errors and timeouts. */
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { H1Pool, type UpstreamError } from '../../src/adapters/net/h1-client.ts';

interface Got {
  status?: number;
  headers?: Record<string, string | string[]>;
  body: string;
  error?: string;
  lastSeen: boolean;
}

/** A server that answers each request head with the next scripted reply (bytes written as given, in pieces). */
function scripted(reply: (n: number, head: string, sock: Socket) => void): Promise<{ server: Server; port: number }> {
  let n = 0;
  const server = createServer((sock) => {
    let buf = '';
    sock.on('data', (d) => {
      buf += d.toString('latin1');
      let end = buf.indexOf('\r\n\r\n');
      while (end >= 0) {
        const head = buf.slice(0, end);
        buf = buf.slice(end + 4);
        reply(n++, head, sock);
        end = buf.indexOf('\r\n\r\n');
      }
    });
    sock.on('error', () => undefined);
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve({ server, port: (server.address() as { port: number }).port })),
  );
}

function get(pool: H1Pool, method = 'GET', path = '/'): Promise<Got> {
  return new Promise((resolve) => {
    const got: Got = { body: '', lastSeen: false };
    pool.request(method, `${method} ${path} HTTP/1.1\r\nhost: x\r\n\r\n`, {
      onHead(status, headers) {
        got.status = status;
        got.headers = headers;
      },
      onData(chunk, last) {
        got.body += chunk.toString('latin1');
        if (last) got.lastSeen = true;
        return true;
      },
      onEnd: () => resolve(got),
      onError(err: UpstreamError) {
        got.error = err.code;
        resolve(got);
      },
    });
  });
}

describe('lean upstream client', () => {
  const replies: Array<(head: string, sock: Socket) => void> = [];
  let server: Server;
  let port: number;
  let connections = 0;
  before(async () => {
    ({ server, port } = await scripted((n, head, sock) => replies[n]?.(head, sock)));
    server.on('connection', () => connections++);
  });
  after(() => new Promise<void>((r) => server.close(() => r())));

  test('Content-Length body split over several writes; the socket is reused; hop-by-hop headers dropped', async () => {
    const pool = new H1Pool({ host: '127.0.0.1', port });
    replies[0] = (_h, s) => {
      s.write('HTTP/1.1 200 OK\r\nContent-Length: 10\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\nX-A: 1\r\n');
      setTimeout(() => s.write('X-A: 2\r\n\r\nhello'), 5);
      setTimeout(() => s.write('world'), 10);
    };
    replies[1] = (_h, s) => s.write('HTTP/1.1 204 No Content\r\n\r\n');
    const before = connections;
    const a = await get(pool);
    assert.deepEqual([a.status, a.body, a.lastSeen, a.error], [200, 'helloworld', true, undefined]);
    assert.deepEqual(a.headers, { 'content-length': '10', 'x-a': ['1', '2'] });
    const b = await get(pool);
    assert.deepEqual([b.status, b.body, b.lastSeen], [204, '', true]);
    assert.equal(connections - before, 1, 'one connection for both requests');
    await pool.close();
  });

  test('chunked body with extensions and trailers, delivered one byte at a time', async () => {
    const wire =
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n1\r\n \r\nA\r\n0123456789\r\n0\r\nX-T: y\r\n\r\n';
    const own = await scripted((_n, _h, s) => {
      // One byte at a time: every state must carry its partial input over.
      let j = 0;
      const step = () => {
        if (j < wire.length) {
          s.write(wire[j++]!);
          setTimeout(step, 0);
        }
      };
      step();
    });
    const pool = new H1Pool({ host: '127.0.0.1', port: own.port });
    for (let i = 0; i < 2; i++) {
      const r = await get(pool);
      assert.deepEqual([r.status, r.body, r.error], [200, 'hello 0123456789', undefined]);
      assert.equal(r.headers?.['transfer-encoding'], undefined);
    }
    await pool.close();
    await new Promise<void>((res) => own.server.close(() => res()));
  });

  test('1xx is skipped, HEAD has no body, close-delimited body ends at EOF', async () => {
    const own = await scripted((n, head, s) => {
      if (n === 0) s.write('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
      else if (n === 1) {
        assert.match(head, /^HEAD /);
        s.write('HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n');
      } else s.end('HTTP/1.1 200 OK\r\n\r\nuntil close');
    });
    const pool = new H1Pool({ host: '127.0.0.1', port: own.port });
    assert.deepEqual(
      [await get(pool), await get(pool, 'HEAD'), await get(pool)].map((g) => [g.status, g.body, g.error]),
      [
        [200, 'ok', undefined],
        [200, '', undefined],
        [200, 'until close', undefined],
      ],
    );
    await pool.close();
    await new Promise<void>((res) => own.server.close(() => res()));
  });

  test('malformed responses fail the request and never reuse the socket', async () => {
    const bad = [
      'HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab',
      'HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n',
      'HTTP/1.1 200 OK\r\n folded: no\r\n\r\n',
      'HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n',
      'HTTP/1.1 2000 OK\r\n\r\n',
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n',
      'HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nab',
    ];
    const own = await scripted((n, _h, s) => s.write(bad[n] ?? ''));
    const pool = new H1Pool({ host: '127.0.0.1', port: own.port });
    for (const wire of bad) {
      const r = await get(pool);
      if (wire.endsWith('\r\n\r\nab') && wire.includes('Length: 1\r\n\r\n')) {
        // Extra bytes after a complete response: the response stands, the socket is dropped.
        assert.equal(r.body, 'a');
      } else assert.equal(r.error, 'UPSTREAM_BAD_RESPONSE', JSON.stringify(wire));
    }
    await pool.close();
    await new Promise<void>((res) => own.server.close(() => res()));
  });

  test('a kept-alive socket the server closed is retried once on a new connection', async () => {
    let conns = 0;
    const own = await scripted((n, _h, s) => {
      if (n === 0) s.write('HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\na');
      else if (n === 1) s.destroy();
      else s.write('HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nb');
    });
    own.server.on('connection', () => conns++);
    const pool = new H1Pool({ host: '127.0.0.1', port: own.port });
    assert.equal((await get(pool)).body, 'a');
    assert.equal((await get(pool)).body, 'b');
    assert.equal(conns, 2);
    // A POST is not retried.
    const own2 = await scripted((n, _h, s) => {
      if (n === 0) s.write('HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\na');
      else s.destroy();
    });
    const p2 = new H1Pool({ host: '127.0.0.1', port: own2.port });
    await get(p2);
    assert.equal((await get(p2, 'POST')).error, 'UPSTREAM_CLOSED');
    await pool.close();
    await p2.close();
    await new Promise<void>((res) => own.server.close(() => res()));
    await new Promise<void>((res) => own2.server.close(() => res()));
  });

  test('timeouts: no head in time, a body that stalls, a refused connection', async () => {
    const own = await scripted((n, _h, s) => {
      if (n === 1) s.write('HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab');
    });
    const pool = new H1Pool({ host: '127.0.0.1', port: own.port, headersTimeoutMs: 100, bodyTimeoutMs: 100 });
    const t0 = Date.now();
    assert.equal((await get(pool)).error, 'UPSTREAM_HEADERS_TIMEOUT');
    assert.ok(Date.now() - t0 < 1000);
    const r = await get(pool);
    assert.deepEqual([r.status, r.body, r.error], [200, 'ab', 'UPSTREAM_BODY_TIMEOUT']);
    await pool.close();
    await new Promise<void>((res) => own.server.close(() => res()));
    const dead = new H1Pool({ host: '127.0.0.1', port: own.port });
    assert.equal((await get(dead)).error, 'ECONNREFUSED');
    await dead.close();
  });

  test('more requests than connections wait their turn', async () => {
    const own = await scripted((n, _h, s) =>
      setTimeout(() => s.write(`HTTP/1.1 200 OK\r\nContent-Length: ${String(n).length}\r\n\r\n${n}`), 5),
    );
    const pool = new H1Pool({ host: '127.0.0.1', port: own.port, connections: 2 });
    const all = await Promise.all(Array.from({ length: 20 }, () => get(pool)));
    assert.deepEqual(
      all.map((g) => g.body).sort((a, b) => Number(a) - Number(b)),
      [...Array.from({ length: 20 }, (_, i) => String(i))],
    );
    await pool.close();
    await new Promise<void>((res) => own.server.close(() => res()));
  });
});
