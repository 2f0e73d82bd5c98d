import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer as createHttpServer } from 'node:http';
import { type AddressInfo, createServer } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { proxyEvent, proxyFinding } from '../../src/core/policy/records.ts';
import { FAKE_ACCESS_KEY_ID, FAKE_ROLE, FAKE_SECRET_ACCESS_KEY, FAKE_SESSION_TOKEN } from '../fake-imds/handlers.ts';
import { call, type Harness, raw, SELF_EXE, startHarness, token } from './harness.ts';

const CREDS = `/latest/meta-data/iam/security-credentials/${FAKE_ROLE}`;

describe('proxy on loopback: IMDSv1/v2 flows', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(() => h.close());

  test('attribution uses the fast sock_diag path here', () => {
    assert.equal(h.attributor?.backend, 'sock_diag');
  });

  test('token PUT then GET with the token reaches the service; the caller is this process', async () => {
    const t = await token(h.port);
    const r = await call(h.port, 'GET', CREDS, { 'X-aws-ec2-metadata-token': t });
    assert.equal(r.status, 200);
    assert.equal(JSON.parse(r.body).AccessKeyId, FAKE_ACCESS_KEY_ID);
    const o = h.outcomes.at(-1)!;
    assert.equal(o.caller.known, true);
    assert.equal(o.caller.pid, process.pid);
    assert.equal(o.caller.exe, SELF_EXE);
    assert.equal(o.caller.uid, process.getuid?.());
    assert.equal(o.decision.action, 'allow');
    assert.equal(o.decision.rule, 'this test process may read everything');
    const seen = h.fake.seen.at(-1)!;
    assert.equal(seen.target, CREDS);
    assert.equal(seen.headers.host, new URL(h.fake.url).host, 'Host is the endpoint, not the proxy');
    assert.equal(seen.headers['x-forwarded-for'], undefined, 'the proxy adds no X-Forwarded-For');
  });

  test('IMDSv1 GET gets 401 from the proxy itself (imdsv2_only) and never reaches the service', async () => {
    const before = h.fake.seen.length;
    const r = await call(h.port, 'GET', '/latest/meta-data/instance-id');
    assert.equal(r.status, 401);
    assert.equal(h.fake.seen.length, before);
    assert.equal(h.outcomes.at(-1)!.decision.rule, 'defaults.imdsv2_only');
  });

  test('a made-up token gets 401', async () => {
    const r = await call(h.port, 'GET', '/latest/meta-data/', { 'X-aws-ec2-metadata-token': 'AQAEAmadeup==' });
    assert.equal(r.status, 401);
  });

  test('TTL bounds: 0 and 21601 give 400, 1 and 21600 give a token', async () => {
    for (const ttl of ['0', '21601', 'abc']) {
      const r = await call(h.port, 'PUT', '/latest/api/token', { 'X-aws-ec2-metadata-token-ttl-seconds': ttl });
      assert.equal(r.status, 400, ttl);
    }
    assert.equal((await call(h.port, 'PUT', '/latest/api/token')).status, 400);
    assert.ok((await token(h.port, '1')).length > 10);
    assert.ok((await token(h.port, '21600')).length > 10);
  });

  test('GET on the token path is 405; PUT elsewhere is 405', async () => {
    const t = await token(h.port);
    const g = await call(h.port, 'GET', '/latest/api/token', { 'X-aws-ec2-metadata-token': t });
    assert.equal(g.status, 405);
    assert.match(String(g.headers.allow), /PUT/);
    const p = await call(h.port, 'PUT', '/latest/meta-data/', { 'X-aws-ec2-metadata-token': t });
    assert.equal(p.status, 405);
  });

  test('X-Forwarded-For, Forwarded, Via and the other relay marks (X-Real-IP, X_Forwarded_For): 403 naming the check', async () => {
    const t = await token(h.port);
    for (const hd of ['X-Forwarded-For', 'Forwarded', 'Via', 'X_Forwarded_For', 'X-Real-IP', 'X-Forwarded-Host']) {
      const r = await call(h.port, 'GET', '/latest/meta-data/', { 'X-aws-ec2-metadata-token': t, [hd]: '203.0.113.7' });
      assert.equal(r.status, 403, hd);
      assert.match(r.body, /defaults\.reject_forwarded/);
    }
    const put = await call(h.port, 'PUT', '/latest/api/token', {
      'X-aws-ec2-metadata-token-ttl-seconds': '60',
      'X-Forwarded-For': '203.0.113.7',
    });
    assert.equal(put.status, 403);
  });

  test('a denied caller gets 403 with the reason and the rule name', async () => {
    h.setPolicy('rules:\n  - name: nobody may\n    match: {}\n    action: deny\n');
    try {
      const r = await call(h.port, 'GET', '/latest/meta-data/');
      assert.equal(r.status, 403);
      assert.match(r.body, /denied by policy \(rule "nobody may"\)/);
    } finally {
      h.setPolicy((await import('./harness.ts')).LOOPBACK_POLICY);
    }
  });

  test('request-target sanity: absolute-form and encoded dot segments get 400', async () => {
    const t = await token(h.port);
    const abs = await raw(
      h.port,
      `GET http://169.254.169.254/latest/meta-data/ HTTP/1.1\r\nHost: x\r\nX-aws-ec2-metadata-token: ${t}\r\nConnection: close\r\n\r\n`,
    );
    assert.match(abs.data, /^HTTP\/1\.1 400/);
    const dots = await call(h.port, 'GET', '/latest/meta-data/%2e%2e/user-data', { 'X-aws-ec2-metadata-token': t });
    assert.equal(dots.status, 400);
  });

  test('a deny glob cannot be passed by writing the path another way; the service is sent the form judged (P3)', async () => {
    h.setPolicy(`defaults: { target_check: false }
rules:
  - name: no role credentials
    match: { path: /latest/meta-data/iam/security-credentials/* }
    action: deny
  - name: the rest of latest
    match: { exe: ${JSON.stringify(SELF_EXE)}, path: /latest/** }
    action: allow
`);
    try {
      const t = await token(h.port);
      for (const variant of [
        `/latest/meta-data/iam//security-credentials/${FAKE_ROLE}`,
        `/latest/meta-data/iam/security-credentials/${FAKE_ROLE}/`,
        `/latest/meta-data/IAM/security-credentials/${FAKE_ROLE}`,
        `/latest/meta-data/iam/security-credentials;x/${FAKE_ROLE}`,
        `/latest/meta-data/iam/security-credentials%3Bx/${FAKE_ROLE}`,
        `/2021-07-15/meta-data/iam/security-credentials/${FAKE_ROLE}`,
        // target_check is off here: a backslash is read as "/", as some services do, and judged in that form
        `/latest/meta-data/iam\\security-credentials\\${FAKE_ROLE}`,
        // a trailing dot, which a service may ignore
        `/latest/meta-data/iam/security-credentials./${FAKE_ROLE}`,
        `/latest/meta-data/iam./security-credentials/${FAKE_ROLE}`,
      ]) {
        const before = h.fake.seen.length;
        const r = await call(h.port, 'GET', variant, { 'X-aws-ec2-metadata-token': t });
        assert.equal(r.status, 403, variant);
        assert.equal(h.fake.seen.length, before, `${variant} never reaches the service`);
      }
      const ok = await call(h.port, 'GET', '/latest//meta-data/./instance-id;x', { 'X-aws-ec2-metadata-token': t });
      assert.equal(ok.status, 200);
      assert.equal(h.fake.seen.at(-1)!.target, '/latest/meta-data/instance-id');
    } finally {
      h.setPolicy((await import('./harness.ts')).LOOPBACK_POLICY);
    }
  });

  test('path_class credentials covers the paths that yield bearer credentials, however written: a GCE identity token too', async () => {
    h.setPolicy(`defaults: { imdsv2_only: false }
rules:
  - name: no credentials
    match: { path_class: credentials }
    action: deny
  - name: everything else
    match: { exe: ${JSON.stringify(SELF_EXE)} }
    action: allow
`);
    try {
      for (const variant of [
        '/computeMetadata/v1/instance/service-accounts/default/identity?audience=https://example.com',
        '/computeMetadata/v1/instance/service-accounts/default/token',
        `/latest/meta-data/iam/security-credentials./${FAKE_ROLE}`,
        '/latest/meta-data/identity-credentials./ec2/security-credentials/ec2-instance',
      ]) {
        const before = h.fake.seen.length;
        const r = await call(h.port, 'GET', variant, { 'Metadata-Flavor': 'Google' });
        assert.equal(r.status, 403, variant);
        assert.equal(h.outcomes.at(-1)!.request.pathClass, 'credentials', variant);
        assert.equal(h.fake.seen.length, before, `${variant} never reaches the service`);
      }
      assert.equal((await call(h.port, 'GET', '/latest/meta-data/instance-id')).status, 200);
    } finally {
      h.setPolicy((await import('./harness.ts')).LOOPBACK_POLICY);
    }
  });

  test('a Connection header naming the token header, and a GET with a body, are refused, not relayed (P4, P5)', async () => {
    const t = await token(h.port);
    const before = h.fake.seen.length;
    const hop = await call(h.port, 'GET', '/latest/meta-data/', {
      'X-aws-ec2-metadata-token': t,
      Connection: 'X-aws-ec2-metadata-token',
    });
    assert.equal(hop.status, 400);
    assert.match(hop.body, /Connection names "x-aws-ec2-metadata-token"/);
    const body = await raw(
      h.port,
      `GET /latest/meta-data/ HTTP/1.1\r\nHost: x\r\nX-aws-ec2-metadata-token: ${t}\r\nContent-Length: 4\r\nConnection: close\r\n\r\nabcd`,
    );
    assert.match(body.data, /^HTTP\/1\.1 400/);
    assert.match(body.data, /a GET request with a body/);
    assert.equal(h.fake.seen.length, before, 'neither reached the service');
    assert.equal(h.outcomes.at(-1)!.decision.rule, 'relay-check');
  });

  test('records: the event has the contract fields and never a body, a token or a secret', async () => {
    const t = await token(h.port);
    await call(h.port, 'GET', CREDS, { 'X-aws-ec2-metadata-token': t });
    const ev = proxyEvent(h.outcomes.at(-1)!);
    assert.equal(ev.type, 'event');
    assert.equal(ev.process.pid, process.pid);
    assert.equal(ev.process.exe, SELF_EXE);
    assert.equal(typeof ev.process.uid, 'number');
    assert.deepEqual(ev.http, { method: 'GET', path: CREDS, token: true });
    assert.equal(ev.imds_version, 2);
    assert.equal(ev.decision, 'allow');
    assert.equal(ev.policy_rule, 'this test process may read everything');
    assert.equal(ev.status, 200);
    assert.ok(ev.latency_ms > 0 && ev.latency_ms < 5000);
    const all = JSON.stringify(h.outcomes.map((o) => [proxyEvent(o), proxyFinding(o)]));
    for (const secret of [FAKE_SECRET_ACCESS_KEY, FAKE_SESSION_TOKEN, FAKE_ACCESS_KEY_ID, t]) {
      assert.ok(!all.includes(secret), `records must not contain ${secret.slice(0, 6)}…`);
    }
  });
});

describe('proxy on loopback: failures and abuse', () => {
  test('upstream down → 502 quickly', async () => {
    // A port that was free a moment ago and is closed now.
    const srv = createServer();
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
    const dead = (srv.address() as { port: number }).port;
    await new Promise<void>((r) => srv.close(() => r()));
    const h = await startHarness({
      upstream: `http://127.0.0.1:${dead}`,
      policy: 'rules:\n  - { name: all, match: {}, action: allow }\n',
    });
    try {
      const t0 = Date.now();
      const r = await call(h.port, 'GET', '/latest/meta-data/');
      assert.equal(r.status, 502);
      assert.ok(Date.now() - t0 < 1000, `took ${Date.now() - t0} ms`);
      assert.match(h.outcomes.at(-1)!.upstreamError ?? '', /ECONNREFUSED/);
    } finally {
      await h.close();
    }
  });

  test('a kept-alive upstream connection the service closed as it was reused: the request is sent again on a new one', async () => {
    // An upstream that answers the first request of every connection with keep-alive, then closes the connection
    // when a second request arrives on it, unanswered (a service whose idle timeout fired just then).
    let connections = 0;
    const upstream = createServer((sock) => {
      connections++;
      let requests = 0;
      let buf = '';
      sock.on('data', (c: Buffer) => {
        buf += c.toString('latin1');
        while (buf.includes('\r\n\r\n')) {
          buf = buf.slice(buf.indexOf('\r\n\r\n') + 4);
          requests++;
          if (requests === 1) sock.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: keep-alive\r\n\r\nok');
          else sock.end();
        }
      });
      sock.on('error', () => undefined);
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', () => r()));
    const h = await startHarness({
      upstream: `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`,
      policy: 'rules:\n  - { name: all, match: {}, action: allow }\n',
    });
    try {
      assert.equal((await call(h.port, 'GET', '/latest/meta-data/')).status, 200);
      const second = await call(h.port, 'GET', '/latest/meta-data/');
      assert.equal(second.status, 200, second.body);
      assert.equal(connections, 2, 'the second request went up on a new connection');
    } finally {
      await h.close();
      upstream.close();
    }
  });

  test('a hung upstream → 504 after the upstream timeout', async () => {
    const h = await startHarness({
      fake: { delayMs: 3000 },
      upstreamTimeoutMs: 300,
      policy: 'rules:\n  - { name: all, match: {}, action: allow }\n',
    });
    try {
      const t0 = Date.now();
      const r = await call(h.port, 'GET', '/latest/meta-data/');
      assert.equal(r.status, 504);
      assert.ok(Date.now() - t0 < 2000, `took ${Date.now() - t0} ms`);
    } finally {
      await h.close();
    }
  });

  test('a slow client that never finishes its headers is cut off, and others are still served', async () => {
    const h = await startHarness({ headersTimeoutMs: 500 });
    try {
      const hung = raw(h.port, 'GET /latest/meta-data/ HTTP/1.1\r\nHost: x\r\nX-Slow: ', 8000);
      const t = await token(h.port);
      assert.equal((await call(h.port, 'GET', '/latest/meta-data/', { 'X-aws-ec2-metadata-token': t })).status, 200);
      const r = await hung;
      assert.ok(r.closedAfterMs < 4000, `closed after ${r.closedAfterMs} ms`);
      assert.match(r.data, /^HTTP\/1\.1 408/);
    } finally {
      await h.close();
    }
  });

  test('oversized headers → 431, recorded as a refused request', async () => {
    const h = await startHarness();
    try {
      const r = await raw(h.port, `GET /latest/meta-data/ HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
      assert.match(r.data, /^HTTP\/1\.1 431/);
      await new Promise((res) => setTimeout(res, 50));
      const o = h.outcomes.at(-1)!;
      assert.deepEqual([o.status, o.decision.action, o.decision.rule], [431, 'deny', 'http-parser']);
      assert.equal(o.caller.pid, process.pid);
    } finally {
      await h.close();
    }
  });

  test('an unattributable caller is refused by unknown_caller: deny', async () => {
    const h = await startHarness({
      attribution: { attribute: async () => ({ known: false, reason: 'test: no socket', otherNamespace: false }) },
    });
    try {
      const r = await call(h.port, 'GET', '/latest/meta-data/');
      assert.equal(r.status, 403);
      assert.match(r.body, /defaults\.unknown_caller/);
      assert.equal(proxyEvent(h.outcomes.at(-1)!).process.identity, 'unknown');
    } finally {
      await h.close();
    }
  });

  test('a chunked request body goes up whole, with its decoded length and without Expect or Transfer-Encoding', async () => {
    const seen: string[] = [];
    const echo = createHttpServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => {
        body += c.toString();
      });
      req.on('end', () => {
        seen.push(
          JSON.stringify({
            cl: req.headers['content-length'],
            te: req.headers['transfer-encoding'],
            ex: req.headers.expect,
            body,
          }),
        );
        res.end(body.toUpperCase());
      });
    });
    await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r));
    const h = await startHarness({
      policy: 'defaults: { imdsv2_only: false }\nrules:\n  - { name: all, match: {}, action: allow }\n',
      upstream: `http://127.0.0.1:${(echo.address() as AddressInfo).port}`,
    });
    try {
      const r = await raw(
        h.port,
        'PUT /latest/api/token HTTP/1.1\r\nHost: x\r\nX-aws-ec2-metadata-token-ttl-seconds: 60\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n',
      );
      assert.match(r.data, /^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 200 OK\r\n/);
      assert.match(r.data, /\r\n\r\nABCDE$/);
      assert.deepEqual(
        seen.map((x) => JSON.parse(x)),
        [{ cl: '5', body: 'abcde' }],
      );
    } finally {
      await h.close();
      echo.close();
    }
  });

  test('large responses stream through intact', async () => {
    const userData = 'x'.repeat(4 * 1024 * 1024);
    const h = await startHarness({ fake: { userData } });
    try {
      const t = await token(h.port);
      const r = await call(h.port, 'GET', '/latest/user-data', { 'X-aws-ec2-metadata-token': t });
      assert.equal(r.status, 200);
      assert.equal(r.body.length, userData.length);
    } finally {
      await h.close();
    }
  });
});

describe('proxy on loopback: 1,000 concurrent keep-alive clients', () => {
  test('every request is answered and attributed to the client process, once per connection', async () => {
    // Generous timeouts: on a loaded 2-core machine a round of 1,000 can take seconds, and a server closing an idle
    // keep-alive socket while the client reuses it is a reset that says nothing about the proxy.
    const h = await startHarness({
      policy: 'defaults: { imdsv2_only: false }\nrules:\n  - { name: all, match: {}, action: allow }\n',
      keepAliveTimeoutMs: 60_000,
      upstreamTimeoutMs: 60_000,
    });
    const attribute = h.attributor!.attribute.bind(h.attributor!);
    let attributions = 0;
    h.attributor!.attribute = (c) => {
      attributions++;
      return attribute(c);
    };
    try {
      const child = spawn(
        process.execPath,
        ['--import', 'tsx', 'test/proxy/clients.ts', String(h.port), '/latest/meta-data/instance-id', '1000', '2'],
        {
          stdio: ['ignore', 'pipe', 'inherit'],
        },
      );
      let out = '';
      child.stdout.on('data', (c: Buffer) => {
        out += c.toString();
      });
      const [code] = await once(child, 'exit');
      assert.equal(code, 0);
      const { statuses, pid } = JSON.parse(out) as { statuses: Record<string, number>; pid: number };
      assert.deepEqual(statuses, { 200: 2000 });
      assert.equal(h.outcomes.length, 2000);
      const callers = new Set(h.outcomes.map((o) => o.caller.pid));
      assert.deepEqual([...callers], [pid]);
      assert.ok(h.outcomes.every((o) => o.caller.exe === SELF_EXE));
      // Keep-alive: the second round reuses the first round's connections and their cached identities.
      assert.ok(attributions <= 1000, `${attributions} attributions for 2000 requests over at most 1000 connections`);
    } finally {
      await h.close();
    }
  });
});
