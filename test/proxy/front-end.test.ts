/**
 * The proxy's front end (node:http, llhttp in strict mode, plus head-check.ts) over real loopback sockets, in front
 * of an echoing upstream: framing, keep-alive, timeouts, the per-peer connection cap, and every parser and smuggling
 * case the project refuses — each answered once, recorded, never relayed, and nothing behind it read.
 */
import assert from 'node:assert/strict';
import { createServer, request as httpRequest, type Server } from 'node:http';
import { type AddressInfo, connect, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import type { CallerIdentity } from '../../src/core/policy/types.ts';
import { type Harness, startHarness } from './harness.ts';

const ALLOW_ALL = 'defaults: { imdsv2_only: false }\nrules:\n  - { name: all, match: {}, action: allow }\n';
const CALLER: CallerIdentity = { known: true, pid: 1, exe: '/usr/bin/curl', uid: 0, otherNamespace: false };

interface Echo {
  server: Server;
  url: string;
  seen: string[];
}

/** An upstream that answers with what it was sent; /slow answers late, /stream in two parts of unknown length. */
async function echoUpstream(): Promise<Echo> {
  const seen: string[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.setEncoding('latin1');
    req.on('data', (c: string) => {
      body += c;
    });
    req.on('end', () => {
      seen.push(`${req.method} ${req.url}`);
      if (req.url === '/stream') {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.write('first,');
        setTimeout(() => res.end('second'), 20);
        return;
      }
      const text = `${req.method} ${req.url} body=${body || '-'}`;
      const send = () => res.end(text);
      if (req.url === '/slow') setTimeout(send, 30);
      else send();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
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

describe('front end: node:http in strict mode, with the project head checks', () => {
  let echo: Echo;
  let h: Harness;
  let port = 0;
  before(async () => {
    echo = await echoUpstream();
    h = await startHarness({
      policy: ALLOW_ALL,
      upstream: echo.url,
      attribution: { attribute: async () => CALLER },
      headersTimeoutMs: 300,
      keepAliveTimeoutMs: 400,
      server: { maxBodyBytes: 1024 },
    });
    port = h.port;
  });
  after(async () => {
    await h.close();
    echo.server.close();
  });

  test('pipelined requests are answered in order, one after another, on one connection', async () => {
    const r = await raw(port, [
      'GET /slow HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\nGET /c HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
    ]);
    assert.deepEqual(
      [...r.data.matchAll(/GET (\/\w+) body/g)].map((m) => m[1]),
      ['/slow', '/b', '/c'],
    );
    assert.equal(r.closed, true);
    assert.match(r.data, /Connection: close\r\n/i);
  });

  test('a Content-Length body split over writes, and a chunked body, arrive whole', async () => {
    const cl = await raw(
      port,
      ['PUT /a HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\nConnection: close\r\n\r\nhello', ' wrld'],
      {
        gapMs: 20,
      },
    );
    assert.match(cl.data, /PUT \/a body=hello wrld/);
    const ch = await raw(
      port,
      [
        'PUT /b HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n',
        '5\r\nhello\r\n',
        '0\r\n\r\n',
      ],
      { gapMs: 20 },
    );
    assert.match(ch.data, /PUT \/b body=hello/);
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
    assert.match(plain.data, /^HTTP\/1\.1 200 OK\r\n/);
    const kept = await raw(port, ['GET /x HTTP/1.0\r\nConnection: keep-alive\r\n\r\n'], { waitMs: 200 });
    assert.equal(kept.closed, false);
    assert.match(kept.data, /Connection: keep-alive\r\n/i);
    const streamed = await raw(port, ['GET /stream HTTP/1.0\r\nConnection: keep-alive\r\n\r\n']);
    assert.equal(streamed.closed, true);
    assert.doesNotMatch(streamed.data, /transfer-encoding/i);
    assert.match(streamed.data, /\r\n\r\nfirst,second$/);
  });

  test('a streamed body of unknown length is chunked to HTTP/1.1 clients and reads back intact with node:http', async () => {
    const body = await new Promise<string>((resolve, reject) => {
      httpRequest({ host: '127.0.0.1', port, path: '/stream', agent: false }, (res) => {
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
    assert.match(r.data, /^HTTP\/1\.1 200 OK\r\n/);
    assert.ok(r.data.endsWith('\r\n\r\n'), JSON.stringify(r.data));
  });

  test('parser and smuggling cases: each answered once with its status, recorded, never relayed, and closed', async () => {
    const many = Array.from({ length: 101 }, (_, i) => `X-${i}: v`).join('\r\n');
    const cases: Array<[string, number]> = [
      // CL.TE and TE.CL
      ['POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked', 400],
      ['POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 4', 400],
      // two lengths, even equal ones; a list; signs; spaces inside; hex
      ['POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nContent-Length: 4', 400],
      ['POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4, 4', 400],
      ['POST / HTTP/1.1\r\nHost: x\r\nContent-Length: +4', 400],
      ['POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4 4', 400],
      ['POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0x10', 400],
      // whitespace before the colon, obs-fold, a header line without colon, an empty name
      ['GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding : chunked', 400],
      ['GET / HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n continued', 400],
      ['GET / HTTP/1.1\r\nHost: x\r\nnot a header', 400],
      ['GET / HTTP/1.1\r\nHost: x\r\n: empty', 400],
      // bare LF and CR inside lines, NUL and DEL in values
      ['GET / HTTP/1.1\nHost: x', 400],
      ['GET / HTTP/1.1\r\nHost: x\nX-Injected: 1', 400],
      ['GET / HTTP/1.1\r\nHost: x\r\nX-A: a\rb', 400],
      ['GET / HTTP/1.1\r\nHost: x\r\nX-A: a\u0000b', 400],
      ['GET / HTTP/1.1\r\nHost: x\r\nX-A: a\u007fb', 400],
      // Transfer-Encoding in HTTP/1.0 (llhttp reads it as chunked: head-check.ts refuses it)
      ['POST / HTTP/1.0\r\nTransfer-Encoding: chunked', 400],
      // no Host, two Hosts (llhttp keeps both: head-check.ts refuses)
      ['GET / HTTP/1.1\r\nAccept: */*', 400],
      ['GET / HTTP/1.1\r\nHost: a\r\nHost: b', 400],
      ['GET / HTTP/1.0\r\nHost: a\r\nHost: b', 400],
      // malformed request lines
      ['GET', 400],
      ['GET / HTTP/1.1 \r\nHost: x', 400],
      ['G(T / HTTP/1.1\r\nHost: x', 400],
      ['FOO / HTTP/1.1\r\nHost: x', 400],
      ['GET /a b HTTP/1.1\r\nHost: x', 400],
      ['GET /\u00e9 HTTP/1.1\r\nHost: x', 400],
      ['GET / http/1.1\r\nHost: x', 400],
      ['GET / HTTP/1.1x\r\nHost: x', 400],
      ['GET / HTTP/11\r\nHost: x', 400],
      // other versions (llhttp accepts 0.9 and 2.0 heads: head-check.ts answers 505)
      ['GET / HTTP/2.0\r\nHost: x', 505],
      ['GET / HTTP/0.9', 505],
      ['GET /', 505],
      // codings other than chunked, expectations other than 100-continue, too many fields
      ['POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked', 501],
      ['POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: identity', 501],
      ['POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked', 400],
      ['PUT / HTTP/1.1\r\nHost: x\r\nExpect: 200-ok', 417],
      [`GET / HTTP/1.1\r\nHost: x\r\n${many}`, 431],
      [`GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(9000)}`, 431],
      // bodies the proxy will not hold
      [`PUT / HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n${'a'.repeat(5000)}`, 413],
      [`PUT / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n800\r\n${'a'.repeat(2048)}`, 413],
    ];
    for (const [wire, status] of cases) {
      const records = h.outcomes.length;
      const relayed = echo.seen.length;
      const head = wire.includes('\r\n\r\n') ? wire : `${wire}\r\n\r\n`;
      // A request after the bad one must not be read: the connection is answered once and closed.
      const r = await raw(port, [`${head}GET /after HTTP/1.1\r\nHost: x\r\n\r\n`]);
      assert.deepEqual(statuses(r.data), [status], JSON.stringify(wire));
      assert.equal(r.closed, true, JSON.stringify(wire));
      assert.doesNotMatch(r.data, /\/after/);
      assert.equal(echo.seen.length, relayed, `${JSON.stringify(wire)} was relayed`);
      assert.equal(h.outcomes.length, records + 1, `${JSON.stringify(wire)} recorded once`);
      const o = h.outcomes.at(-1)!;
      assert.equal(o.decision.rule, 'http-parser');
      assert.equal(o.status, status);
      assert.equal(o.caller.pid, 1, 'the record names the caller');
    }
  });

  test('an HTTP/0.9 request line gets 505 as soon as it arrives, not 408 at the headers timeout, and is recorded', async () => {
    for (const line of ['GET /latest/meta-data/instance-id\r\n', 'GET /\n']) {
      const records = h.outcomes.length;
      const relayed = echo.seen.length;
      // Nothing follows the line: an HTTP/0.9 client waits for the answer.
      const r = await raw(port, [line], { waitMs: 3000 });
      assert.deepEqual(statuses(r.data), [505], JSON.stringify(line));
      assert.match(r.data, /HPE_INVALID_VERSION: HTTP\/0\.9 request line/);
      assert.equal(r.closed, true);
      assert.equal(echo.seen.length, relayed);
      assert.equal(h.outcomes.length, records + 1);
      const o = h.outcomes.at(-1)!;
      assert.deepEqual([o.decision.rule, o.status, o.request.method], ['http-parser', 505, 'GET']);
      assert.equal(o.caller.pid, 1);
    }
  });

  test('a request line split over reads is judged whole: HTTP/0.9 gets 505, HTTP/1.1 is relayed, an unended line 408', async () => {
    let records = h.outcomes.length;
    let relayed = echo.seen.length;
    const r09 = await raw(port, ['GET /latest/me', 'ta-data/instance-id', '\r\n'], { waitMs: 3000, gapMs: 80 });
    assert.deepEqual(statuses(r09.data), [505], r09.data);
    assert.equal(echo.seen.length, relayed);
    assert.equal(h.outcomes.length, records + 1);
    assert.deepEqual(
      [h.outcomes.at(-1)!.status, h.outcomes.at(-1)!.request.target],
      [505, '/latest/meta-data/instance-id'],
    );

    const r11 = await raw(port, ['GET /o', 'k HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'], { gapMs: 80 });
    assert.deepEqual(statuses(r11.data), [200], r11.data);
    assert.equal(echo.seen.at(-1), 'GET /ok');

    records = h.outcomes.length;
    relayed = echo.seen.length;
    // Begun and never ended: the headers timeout (300 ms here) answers it, with a record, as node:http would.
    const stalled = await raw(port, ['GET /latest/meta-data/iam'], { waitMs: 3000 });
    assert.deepEqual(statuses(stalled.data), [408], stalled.data);
    assert.equal(stalled.closed, true);
    assert.equal(echo.seen.length, relayed);
    assert.equal(h.outcomes.length, records + 1);
    assert.equal(h.outcomes.at(-1)!.status, 408);
  });

  test('CONNECT gets 405 with Allow, is recorded like any refusal, never relayed, and the connection is closed', async () => {
    for (const target of ['169.254.169.254:80', '127.0.0.1:22']) {
      const records = h.outcomes.length;
      const relayed = echo.seen.length;
      const r = await raw(port, [
        `CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\n\r\nGET /after HTTP/1.1\r\nHost: x\r\n\r\n`,
      ]);
      assert.deepEqual(statuses(r.data), [405], r.data);
      assert.match(r.data, /\r\nallow: GET, HEAD, PUT\r\n/i);
      assert.equal(r.closed, true);
      assert.equal(echo.seen.length, relayed);
      assert.equal(h.outcomes.length, records + 1, 'recorded once');
      const o = h.outcomes.at(-1)!;
      assert.equal(o.status, 405);
      assert.equal(o.decision.rule, 'connect');
      assert.equal(o.decision.report, true, 'a tunnel asked of the metadata proxy is a finding');
      assert.deepEqual([o.request.method, o.request.target], ['CONNECT', target]);
      assert.equal(o.caller.pid, 1, 'the record names the caller');
    }
  });

  test('what llhttp accepts that metadata clients send is relayed (tabs around values, obs-text)', async () => {
    const r = await raw(port, [
      'GET /ok HTTP/1.1\r\nHost: x\r\nX-A:\tb\t\r\nX-Name: caf\u00e9\r\nConnection: close\r\n\r\n',
    ]);
    assert.deepEqual(statuses(r.data), [200]);
    assert.equal(echo.seen.at(-1), 'GET /ok');
  });

  test('a head that never ends gets 408, recorded; a connection that sends nothing is closed without an answer or a record', async () => {
    const before = h.outcomes.length;
    const slow = await raw(port, ['GET / HTTP/1.1\r\nHost: x\r\nX-Slow: '], { waitMs: 3000 });
    assert.deepEqual(statuses(slow.data), [408]);
    assert.equal(h.outcomes.length, before + 1);
    const silent = await raw(port, [], { waitMs: 3000 });
    assert.equal(silent.closed, true);
    assert.equal(silent.data, '');
    assert.equal(h.outcomes.length, before + 1);
  });

  test('an idle keep-alive connection is closed after the keep-alive timeout, without a record', async () => {
    const t0 = Date.now();
    const before = h.outcomes.length;
    const r = await raw(port, ['GET /idle HTTP/1.1\r\nHost: x\r\n\r\n'], { waitMs: 3000 });
    assert.deepEqual(statuses(r.data), [200]);
    assert.equal(r.closed, true);
    assert.ok(Date.now() - t0 >= 350, `closed after ${Date.now() - t0} ms`);
    assert.equal(h.outcomes.length, before + 1, 'the request only');
  });
});

describe('front end: the per-peer connection cap (P5)', () => {
  test('connections past the cap from one address get 503 at once and a record; the others are served', async () => {
    const echo = await echoUpstream();
    const h = await startHarness({
      policy: ALLOW_ALL,
      upstream: echo.url,
      attribution: { attribute: async () => CALLER },
      server: { maxConnectionsPerPeer: 3 },
    });
    const held: Socket[] = [];
    try {
      for (let i = 0; i < 3; i++) {
        const s = connect(h.port, '127.0.0.1');
        await new Promise((r) => s.once('connect', r));
        held.push(s);
      }
      const over = await raw(h.port, ['GET /over HTTP/1.1\r\nHost: x\r\n\r\n']);
      assert.deepEqual(statuses(over.data), [503]);
      assert.match(over.data, /more than 3 open connections from 127\.0\.0\.1/);
      assert.equal(over.closed, true);
      assert.ok(!echo.seen.includes('GET /over'));
      const o = h.outcomes.at(-1)!;
      assert.equal(o.decision.rule, 'connection-cap');
      assert.equal(o.caller.known, false);
      // One held connection is still served, and once one closes a new one is accepted.
      const first = held[0]!;
      const reply = new Promise<string>((r) => first.once('data', (c) => r(c.toString())));
      first.write('GET /held HTTP/1.1\r\nHost: x\r\n\r\n');
      assert.match(await reply, /^HTTP\/1\.1 200/);
      held.pop()!.destroy();
      await new Promise((r) => setTimeout(r, 50));
      const again = await raw(h.port, ['GET /again HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n']);
      assert.deepEqual(statuses(again.data), [200]);
    } finally {
      for (const s of held) s.destroy();
      await h.close();
      echo.server.close();
    }
  });
});
