/**
 * Request lines for a forward proxy written by hand on a plain socket, split and disguised the ways a lenient
 * proxy still reads them. The "proxy" is a recorder on loopback that keeps every byte it receives: a refused line
 * must fail the socket with the guard's error before the proxy has the end of it. Nothing connects anywhere but
 * 127.0.0.1; the metadata address is only text in the bytes.
 */
import assert from 'node:assert/strict';
import net, { type AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import type { Finding } from '../../src/core/model/finding.ts';

const LINE_BOUND = 8192;

import { type GuardHandle, installGuard } from '../../src/guard/index.ts';

const CREDS = '/latest/meta-data/iam/security-credentials/';

describe('request lines written on a plain socket', () => {
  let server: net.Server;
  let port = 0;
  const received: Promise<string>[] = [];
  let guard: GuardHandle;
  const findings: Finding[] = [];

  before(async () => {
    server = net.createServer((c) => {
      let data = '';
      c.setEncoding('latin1');
      received.push(
        new Promise((resolve) => {
          c.on('data', (d: string) => (data += d));
          c.on('error', () => {});
          c.on('close', () => resolve(data));
        }),
      );
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
    guard = installGuard({ mode: 'block', report: 'none', onFinding: (f) => findings.push(f) });
  });
  after(async () => {
    guard?.uninstall();
    await new Promise((r) => server.close(r));
  });

  /** Connect to the recorder, run the writes, end; the socket's first error and what the recorder got. */
  async function send(writes: (s: net.Socket) => void): Promise<{ code?: string; received: string; via: string[] }> {
    const before = findings.length;
    const count = received.length;
    const s = net.connect(port, '127.0.0.1');
    let first: NodeJS.ErrnoException | undefined;
    s.on('error', (e: NodeJS.ErrnoException) => {
      first ??= e;
    });
    await new Promise<void>((r) => s.once('connect', r));
    writes(s);
    if (!s.destroyed) s.end();
    await new Promise<void>((r) => (s.closed ? r() : s.once('close', () => r())));
    while (received.length <= count) await new Promise((r) => setImmediate(r));
    const got = await received[count]!;
    return {
      ...(first?.code ? { code: first.code } : {}),
      received: got,
      via: findings.slice(before).map((f) => `${f.decision}:${(f.evidence as { via?: string }).via}`),
    };
  }

  const parts =
    (...chunks: string[]) =>
    (s: net.Socket) => {
      for (const c of chunks) s.write(c);
    };
  /** Whether the recorder saw a line end after the start of a line: a proxy acts on nothing before one. */
  const lineEnded = (text: string) => /[\r\n]/.test(text.replace(/^[\r\n]+/, ''));

  const connectLine = 'CONNECT 169.254.169.254:80 HTTP/1.1\r\nHost: 169.254.169.254:80\r\n\r\n';
  const absoluteLine = `GET http://169.254.169.254${CREDS} HTTP/1.1\r\nHost: 169.254.169.254\r\n\r\n`;

  const REFUSED: Record<string, [(s: net.Socket) => void, string]> = {
    'method, then the rest': [parts('GET', absoluteLine.slice(3)), 'socket-proxy-line'],
    'CON + NECT …': [parts('CON', connectLine.slice(3)), 'socket-connect-line'],
    'one byte per write': [parts(...connectLine.split('')), 'socket-connect-line'],
    'cork, small writes, uncork (one writev)': [
      (s) => {
        s.cork();
        for (const c of ['CONNECT ', '169.254.', '169.254', ':80', ' HTTP/1.1\r\n\r\n']) s.write(c);
        s.uncork();
      },
      'socket-connect-line',
    ],
    'writev of buffers': [
      (s) => {
        s.cork();
        for (const c of ['GE', 'T http://169.2', `54.169.254${CREDS}`, ' HTTP/1.1\r\n\r\n']) s.write(Buffer.from(c));
        s.uncork();
      },
      'socket-proxy-line',
    ],
    'lowercase connect': [parts(connectLine.replace('CONNECT', 'connect')), 'socket-connect-line'],
    'mixed-case Connect, split': [
      parts('Conn', connectLine.replace('CONNECT', 'Connect').slice(4)),
      'socket-connect-line',
    ],
    'lowercase get, absolute form': [parts(absoluteLine.replace('GET', 'get')), 'socket-proxy-line'],
    'bare LF line ends': [parts(connectLine.replaceAll('\r\n', '\n')), 'socket-connect-line'],
    'an empty line before the request line': [parts(`\r\n${connectLine}`), 'socket-connect-line'],
    'hex-encoded string': [(s) => s.write(Buffer.from(connectLine).toString('hex'), 'hex'), 'socket-connect-line'],
    'base64, split': [
      (s) => {
        s.write(Buffer.from('CONNE').toString('base64'), 'base64');
        s.write(Buffer.from(connectLine.slice(5)).toString('base64'), 'base64');
      },
      'socket-connect-line',
    ],
    'a path longer than a few KiB': [
      parts(`GET http://169.254.169.254${CREDS}?${'a'.repeat(3000)} HTTP/1.1\r\n\r\n`),
      'socket-proxy-line',
    ],
  };

  for (const [name, [writes, via]] of Object.entries(REFUSED)) {
    test(`refused: ${name}`, async () => {
      const r = await send(writes);
      assert.equal(r.code, 'ERR_IMDSGUARD_BLOCKED', JSON.stringify(r));
      assert.deepEqual(r.via, [`deny:${via}`]);
      assert.equal(lineEnded(r.received), false, `the proxy got a whole line: ${JSON.stringify(r.received)}`);
    });
  }

  test(`refused: an absolute-form target with no end within ${LINE_BOUND} bytes (its destination is unknowable)`, async () => {
    const r = await send(parts('GET http://', 'a'.repeat(LINE_BOUND)));
    assert.equal(r.code, 'ERR_IMDSGUARD_BLOCKED', JSON.stringify(r.code));
    assert.ok(r.received.length < LINE_BOUND);
    const c = await send(parts('CONNECT ', '1'.repeat(LINE_BOUND + 10)));
    assert.equal(c.code, 'ERR_IMDSGUARD_BLOCKED');
  });

  const PASSED: Record<string, string[]> = {
    'a benign absolute-form line, split': ['GET', ' http://127.0.0.1:8080/latest/meta-data/ HTTP/1.1\r\n\r\n'],
    'a benign CONNECT, split': ['CON', 'NECT example.test:443 HTTP/1.1\r\n\r\n'],
    'origin-form requests': ['GET / HTTP/1.1\r\nHost: x\r\n\r\n', 'GET /a HTTP/1.1\r\n\r\n'],
    'a text protocol with a long value': ['SET key ', 'v'.repeat(LINE_BOUND * 2), '\r\n'],
    'words that are not a URL': ['hello', ' world, not a request\r\n'],
    'after a refused-looking prefix that turns benign': ['CONNECT 127.0.0.1', ':8080 HTTP/1.1\r\n\r\n'],
  };
  for (const [name, chunks] of Object.entries(PASSED)) {
    test(`passes: ${name}`, async () => {
      const r = await send(parts(...chunks));
      assert.equal(r.code, undefined, JSON.stringify(r.code));
      assert.equal(r.received, chunks.join(''));
      assert.deepEqual(r.via, []);
    });
  }
});
