/**
 * The request middleware through each real framework on loopback: payloads in the query, the path, headers and
 * JSON/form bodies are refused with 403 and a request id (block) or passed and reported (monitor); ordinary
 * requests reach the handler untouched.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import express from 'express';
import Fastify from 'fastify';
import Koa from 'koa';
import type { Finding } from '../../src/core/model/finding.ts';
import { imdsguardExpress, imdsguardFastify, imdsguardHttp, imdsguardKoa } from '../../src/guard/middleware/index.ts';
import type { MiddlewareOptions } from '../../src/guard/middleware/inspect.ts';

interface Reply {
  status: number;
  body: string;
  requestId: string | undefined;
}

function send(
  port: number,
  r: { method?: string; path: string; headers?: Record<string, string>; body?: string },
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port, method: r.method ?? 'GET', path: r.path, headers: r.headers ?? {} },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d) => (body += d));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, body, requestId: res.headers['x-request-id'] as string | undefined }),
        );
      },
    );
    req.on('error', reject);
    req.end(r.body);
  });
}

const ATTACKS: Array<{
  name: string;
  method?: string;
  path: string;
  headers?: Record<string, string>;
  body?: string;
  field: RegExp;
}> = [
  {
    name: 'query, percent-encoded',
    path: '/fetch?url=http%3A%2F%2F169.254.169.254%2Flatest%2Fmeta-data%2Fiam%2Fsecurity-credentials%2F',
    field: /target/,
  },
  { name: 'query, decimal IP', path: '/fetch?url=http://2852039166/latest/user-data', field: /target/ },
  {
    name: 'path',
    path: '/proxy/http://metadata.google.internal/computeMetadata/v1/instance/service-accounts/default/token',
    field: /target/,
  },
  { name: 'Host header', path: '/latest/meta-data/', headers: { host: '169.254.169.254' }, field: /host/ },
  {
    name: 'X-Forwarded-Host',
    path: '/',
    headers: { 'x-forwarded-host': 'metadata.google.internal' },
    field: /x-forwarded-host/,
  },
  { name: 'Referer', path: '/', headers: { referer: 'http://[::ffff:a9fe:a9fe]/latest/meta-data/' }, field: /referer/ },
  {
    name: 'Forwarded host=',
    path: '/latest/meta-data/',
    headers: { forwarded: 'for=192.0.2.60;proto=http;host=0xa9fea9fe' },
    field: /^forwarded$/,
  },
  {
    name: 'JSON body',
    method: 'POST',
    path: '/hooks',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ webhook: { endpoint: 'http://0xA9FEA9FE/latest/meta-data/iam/security-credentials/' } }),
    field: /body\.endpoint/,
  },
  {
    name: 'form body',
    method: 'POST',
    path: '/import',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: `src=${encodeURIComponent('http://169.254.169.254/metadata/identity/oauth2/token?resource=x')}`,
    field: /body\.src/,
  },
];

const BENIGN: Array<{ name: string; method?: string; path: string; headers?: Record<string, string>; body?: string }> =
  [
    { name: 'plain page', path: '/products?id=42&sort=price' },
    { name: 'external URL param', path: '/fetch?url=https%3A%2F%2Fexample.com%2Fimage.png' },
    { name: 'localhost Host', path: '/', headers: { host: 'localhost:3000', referer: 'http://localhost:3000/login' } },
    // The client a proxy names in for= is not a destination.
    {
      name: 'Forwarded for=',
      path: '/',
      headers: { forwarded: 'for=169.254.169.254;proto=https;host=shop.example.com' },
    },
    {
      name: 'JSON body',
      method: 'POST',
      path: '/hooks',
      headers: { 'content-type': 'application/json' },
      body: '{"name":"metadata report","count":169}',
    },
    {
      name: 'form body',
      method: 'POST',
      path: '/import',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'q=169.254+is+link-local',
    },
  ];

type Start = (o: MiddlewareOptions) => Promise<{ port: number; close: () => Promise<void> }>;

function listen(server: http.Server): Promise<{ port: number; close: () => Promise<void> }> {
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({
        port: (server.address() as AddressInfo).port,
        close: () => new Promise<void>((r) => server.close(() => r())),
      }),
    ),
  );
}

const FRAMEWORKS: Record<string, Start> = {
  'node:http': (o) =>
    listen(http.createServer(imdsguardHttp((_req, res) => res.end('handled'), { ...o, readBody: 65_536 }))),
  express: (o) => {
    const app = express();
    app.use(express.json());
    app.use(express.urlencoded({ extended: false }));
    app.use(imdsguardExpress(o));
    app.use((_req, res) => {
      res.send('handled');
    });
    return listen(http.createServer(app));
  },
  fastify: async (o) => {
    const app = Fastify();
    app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_req, body, done) =>
      done(null, Object.fromEntries(new URLSearchParams(body as string))),
    );
    await app.register(imdsguardFastify, o);
    app.all('/*', async () => 'handled');
    await app.listen({ port: 0, host: '127.0.0.1' });
    return { port: (app.server.address() as AddressInfo).port, close: () => app.close() };
  },
  koa: (o) => {
    const app = new Koa();
    // A minimal body parser, standing in for @koa/bodyparser.
    app.use(async (ctx, next) => {
      if (ctx.method === 'POST') {
        let text = '';
        for await (const c of ctx.req) text += c;
        const ct = ctx.get('content-type');
        (ctx.request as { body?: unknown }).body = ct.includes('json')
          ? JSON.parse(text)
          : Object.fromEntries(new URLSearchParams(text));
      }
      await next();
    });
    app.use(imdsguardKoa(o));
    app.use((ctx) => {
      ctx.body = 'handled';
    });
    return listen(http.createServer(app.callback()));
  },
};

for (const [name, start] of Object.entries(FRAMEWORKS)) {
  describe(`middleware through ${name}`, () => {
    const findings: Finding[] = [];
    let blockSrv: { port: number; close: () => Promise<void> };
    let monitorSrv: { port: number; close: () => Promise<void> };
    before(async () => {
      blockSrv = await start({ mode: 'block', onFinding: (f) => findings.push(f) });
      monitorSrv = await start({ mode: 'monitor', onFinding: (f) => findings.push(f) });
    });
    after(async () => {
      await blockSrv.close();
      await monitorSrv.close();
    });

    test('block: every payload is refused with 403 and a request id that names its finding', async () => {
      for (const a of ATTACKS) {
        findings.length = 0;
        const r = await send(blockSrv.port, a);
        assert.equal(r.status, 403, `${name} / ${a.name}: ${r.body}`);
        assert.ok(r.requestId, a.name);
        assert.equal(JSON.parse(r.body).request_id, r.requestId);
        assert.equal(findings.length, 1, a.name);
        const f = findings[0]!;
        assert.equal(f.decision, 'deny');
        assert.equal(f.verdict, 'metadata');
        assert.equal((f.evidence as { request_id: string }).request_id, r.requestId);
        assert.match(f.http?.field ?? '', a.field, `${a.name}: field ${f.http?.field}`);
      }
    });

    test('block: ordinary requests reach the handler', async () => {
      for (const b of BENIGN) {
        findings.length = 0;
        const r = await send(blockSrv.port, b);
        assert.equal(r.status, 200, `${name} / ${b.name}: ${r.body}`);
        assert.equal(r.body, 'handled');
        assert.equal(findings.length, 0, `${b.name}: ${JSON.stringify(findings[0]?.target)}`);
      }
    });

    test('monitor: payloads pass and are reported', async () => {
      findings.length = 0;
      const r = await send(monitorSrv.port, ATTACKS[0]!);
      assert.equal(r.status, 200);
      assert.equal(r.body, 'handled');
      assert.equal(findings.length, 1);
      assert.equal(findings[0]!.decision, 'audit');
      assert.equal(findings[0]!.provider, 'aws');
      assert.equal(findings[0]!.target?.path_class, 'credentials');
    });
  });
}
