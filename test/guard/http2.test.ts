/**
 * HTTP/2 to a forward proxy: a CONNECT stream's `:authority`, and `:authority` routing, name the destination. The
 * "proxy" is an h2c server this test starts on loopback that answers every stream itself (it connects nowhere), so
 * a stream the guard let through only reaches it.
 */
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import type { Finding } from '../../src/core/model/finding.ts';
import { type GuardHandle, installGuard } from '../../src/guard/index.ts';

describe('http2 streams through a forward proxy', () => {
  let guard: GuardHandle;
  let server: http2.Http2Server;
  let session: http2.ClientHttp2Session;
  const findings: Finding[] = [];
  const seen: string[] = [];

  before(async () => {
    guard = installGuard({ mode: 'block', report: 'none', onFinding: (f) => findings.push(f) });
    server = http2.createServer();
    server.on('stream', (stream, headers) => {
      seen.push(`${headers[':method']} ${headers[':authority']}`);
      stream.respond({ ':status': 200 });
      stream.end('from the test server');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    session = http2.connect(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    await new Promise<void>((resolve, reject) => session.once('connect', () => resolve()).once('error', reject));
  });
  after(async () => {
    session?.close();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    guard?.uninstall();
  });

  const status = (headers: http2.OutgoingHttpHeaders): Promise<string> =>
    new Promise((resolve) => {
      let st: http2.ClientHttp2Stream;
      try {
        st = session.request(headers);
      } catch (e) {
        resolve((e as NodeJS.ErrnoException).code ?? String(e));
        return;
      }
      st.on('response', (h) => {
        st.resume();
        st.on('end', () => resolve(String(h[':status'])));
      });
      st.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
      if (headers[':method'] !== 'CONNECT') st.end();
    });

  test('a CONNECT stream to a metadata address is refused before it is opened, with a finding', async () => {
    assert.equal(await status({ ':method': 'CONNECT', ':authority': '169.254.169.254:80' }), 'ERR_IMDSGUARD_BLOCKED');
    assert.equal(findings.at(-1)?.decision, 'deny');
    assert.equal((findings.at(-1)?.evidence as { via?: string } | undefined)?.via, 'http2-connect');
    // The URL parser a proxy uses: the decimal form is the same address.
    assert.equal(await status({ ':method': 'connect', ':authority': '2852039166:80' }), 'ERR_IMDSGUARD_BLOCKED');
    assert.ok(!seen.some((s) => /169\.254|2852039166/.test(s)), seen.join(', '));
  });

  test('a stream routed by its :authority to a metadata service is refused', async () => {
    const h = { ':method': 'GET', ':authority': '169.254.169.254', ':path': '/latest/meta-data/' };
    assert.equal(await status(h), 'ERR_IMDSGUARD_BLOCKED');
    assert.equal((findings.at(-1)?.evidence as { via?: string } | undefined)?.via, 'http2-authority');
  });

  test('headers are read once: a getter cannot answer the check one thing and the session another', async () => {
    let reads = 0;
    const h: http2.OutgoingHttpHeaders = { ':method': 'CONNECT' };
    Object.defineProperty(h, ':authority', {
      enumerable: true,
      get: () => (reads++ === 0 ? '127.0.0.1:9' : '169.254.169.254:80'),
    });
    await status(h);
    assert.ok(!seen.some((s) => s.includes('169.254')), seen.join(', '));
  });

  test('a session whose connection is refused reports the error, never a connect first', async () => {
    // The managed identity endpoint that lives on loopback (Azure Arc): nothing can leave this host.
    const s = http2.connect('http://127.0.0.1:40342');
    const events: string[] = [];
    await new Promise<void>((resolve) => {
      s.on('connect', () => events.push('connect'));
      s.on('error', (e: NodeJS.ErrnoException) => events.push(`error ${e.code}`));
      s.on('close', () => resolve());
    });
    assert.deepEqual(events, ['error ERR_IMDSGUARD_BLOCKED']);
  });

  test('other authorities pass', async () => {
    assert.equal(await status({ ':method': 'GET', ':authority': 'example.test', ':path': '/' }), '200');
    assert.equal(await status({ ':method': 'GET', ':path': '/' }), '200');
  });
});
