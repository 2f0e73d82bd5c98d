import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Finding } from '../../src/core/model/finding.ts';
import { severityRank } from '../../src/core/model/severity.ts';
import { bytesOf, scanFiles } from '../scan/helpers.ts';

/** A Combined Log Format line as nginx writes it. */
const clf = (request: string, referer = '-', status = 200) =>
  `198.51.100.23 - - [02/Mar/2026:10:14:07 +0000] "${request}" ${status} 5120 "${referer}" "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"\n`;

async function scanLines(lines: string[], opts: { logFormat?: 'json'; fieldMap?: Record<string, string> } = {}) {
  const run = await scanFiles(['-'], { stdin: bytesOf(...lines), ...opts });
  const byLine = new Map<number, Finding[]>();
  for (const f of run.findings) byLine.set(f.origin.line ?? 0, [...(byLine.get(f.origin.line ?? 0) ?? []), f]);
  return { run, byLine };
}

/** At or above the default --fail-on (medium). */
const failsDefault = (f: Finding) => severityRank(f.severity) >= severityRank('medium');

describe('scan: a metadata address as content of a page, not a destination', () => {
  test('path segments that name a page, a file or a lookup key give no finding', async () => {
    const lines = [
      clf('GET /wiki/169.254.169.254 HTTP/1.1', 'https://www.google.com/'),
      clf('GET /static/img/169.254.169.254.png HTTP/1.1', 'https://blog.example.org/imds'),
      clf('GET /tools/ip/169.254.169.254/whois HTTP/1.1'),
      clf('GET /orders/2852039166/reviews HTTP/1.1'),
      clf('GET /blog/post-12 HTTP/1.1', 'https://en.wikipedia.org/wiki/169.254.169.254'),
    ];
    const { run } = await scanLines(lines);
    assert.deepEqual(
      run.findings.map((f) => `${f.origin.line}: ${f.title}`),
      [],
    );
  });

  test('a URL searched for or written in a question is kept, at confidence 0.5 and below the default --fail-on', async () => {
    const lines = [
      clf('GET /search?q=http%3A%2F%2F169.254.169.254%2Flatest%2Fmeta-data%2Fiam%2Fsecurity-credentials%2F HTTP/1.1'),
      clf('GET /ask?title=Why+does+curl+http%3A%2F%2F169.254.169.254%2Flatest%2Fmeta-data+hang%3F HTTP/1.1'),
    ];
    const { run } = await scanLines(lines);
    assert.equal(run.findings.length, 2);
    for (const f of run.findings) {
      assert.equal(f.verdict, 'metadata');
      assert.equal(f.confidence, 0.5, f.title);
      assert.equal(f.severity, 'low', f.title);
      assert.ok(!failsDefault(f));
    }
  });

  test('the same address after a fetching route, or before a metadata path, is an attack at medium or above', async () => {
    const lines = [
      clf('GET /proxy/169.254.169.254 HTTP/1.1'),
      clf('GET /cdn/169.254.169.254/latest/meta-data/iam/security-credentials/ HTTP/1.1'),
      clf('GET /fetch?q=http%3A%2F%2F169.254.169.254%2Flatest%2Fmeta-data%2F HTTP/1.1'),
      clf('GET /preview?url=http%3A%2F%2F169.254.169.254%2Flatest%2Fmeta-data%2F HTTP/1.1'),
      clf(
        'GET /hooks/test?cfg=%7B%22hook%22%3A%20%7B%22url%22%3A%20%22http%3A%2F%2F169.254.169.254%2Flatest%2Fuser-data%22%7D%7D HTTP/1.1',
      ),
      clf('GET /render?load=jar:http://169.254.169.254/latest/meta-data/!/ HTTP/1.1'),
      clf('GET /r/0xa9fea9fe/latest/meta-data/ HTTP/1.1'),
      clf('GET /proxy/2852039166/latest/meta-data/iam/security-credentials/ HTTP/1.1'),
    ];
    const { byLine } = await scanLines(lines);
    for (let n = 1; n <= lines.length; n++) {
      const f = byLine.get(n)?.find((x) => x.verdict === 'metadata');
      assert.ok(f && failsDefault(f), `line ${n}: ${lines[n - 1]} → ${JSON.stringify(f?.severity)}`);
    }
  });
});

describe('scan: X-Forwarded-Host and its kin, recorded by the log, are read as hosts', () => {
  const rec = (key: string, value: string) =>
    `${JSON.stringify({ ts: '2026-03-02T10:14:07Z', client: '198.51.100.40', method: 'GET', url: '/latest/meta-data/', host: 'shop.example.com', [key]: value, status: 200 })}\n`;
  test('numeric forms of a metadata address in them are metadata findings; an ordinary host is nothing', async () => {
    const values = ['0xa9fea9fe', '2852039166', '0251.0376.0251.0376', '169.254.169.254', 'shop.example.com'];
    for (const key of ['xfh', 'x_forwarded_server']) {
      const { byLine } = await scanLines(
        values.map((v) => rec(key, v)),
        { logFormat: 'json', fieldMap: { [key]: key } },
      );
      for (const [i, v] of values.entries()) {
        const f = byLine.get(i + 1)?.find((x) => x.verdict === 'metadata');
        if (v === 'shop.example.com') assert.equal(f, undefined, v);
        else assert.ok(f && failsDefault(f) && f.http?.field === key, `${key}: ${v}: ${JSON.stringify(f?.http)}`);
      }
    }
  });
});

describe('scan: JSON lines name X-Forwarded-Host and Forwarded in many spellings, all read without a --field map', () => {
  const rec = (extra: Record<string, unknown>) =>
    `${JSON.stringify({ time_iso8601: '2026-03-02T10:14:07+00:00', remote_addr: '198.51.100.40', request: 'GET /latest/meta-data/ HTTP/1.1', http_host: 'shop.example.com', status: 200, body_bytes_sent: 412, ...extra })}\n`;
  test('a metadata host in any form there is a finding; a client address (for=, X-Forwarded-For) is not', async () => {
    const attacks: Array<[Record<string, unknown>, string]> = [
      [{ x_forwarded_host: '169.254.169.254' }, 'x_forwarded_host'],
      [{ x_forwarded_host: '0xa9fea9fe' }, 'x_forwarded_host'],
      [{ http_x_forwarded_host: '2852039166' }, 'http_x_forwarded_host'],
      [{ headers: { 'x-forwarded-host': '0251.0376.0251.0376' } }, 'headers.x-forwarded-host'],
      [{ req: { headers: { 'X-Forwarded-Host': ['[fd00:ec2::254]'] } } }, 'req.headers.X-Forwarded-Host[0]'],
      [{ forwarded: 'host=0xa9fea9fe;proto=http' }, 'forwarded'],
      [{ http_forwarded: 'for=192.0.2.60;host=169.254.169.254' }, 'http_forwarded'],
      [{ headers: { forwarded: 'for=192.0.2.60;host="metadata.google.internal"' } }, 'headers.forwarded'],
    ];
    const benign = [
      { x_forwarded_host: 'shop.example.com' },
      { forwarded: 'for=169.254.169.254;proto=https' },
      { headers: { 'x-forwarded-for': '169.254.169.254' } },
      { http_x_forwarded_for: '2852039166' },
    ];
    const { byLine } = await scanLines([...attacks.map(([e]) => rec(e)), ...benign.map(rec)], { logFormat: 'json' });
    for (const [i, [e, field]] of attacks.entries()) {
      const f = byLine.get(i + 1)?.find((x) => x.verdict === 'metadata');
      assert.ok(f && failsDefault(f), JSON.stringify(e));
      assert.equal(f.http?.field, field);
    }
    for (const [i, e] of benign.entries())
      assert.equal(byLine.get(attacks.length + i + 1), undefined, JSON.stringify(e));
  });
});

describe('scan: a recorded Forwarded header (RFC 7239) is read by its grammar', () => {
  const rec = (forwarded: string) =>
    `${JSON.stringify({ ts: '2026-03-02T10:14:07Z', client: '198.51.100.40', method: 'GET', url: '/latest/meta-data/', host: 'shop.example.com', headers: { forwarded }, status: 200 })}\n`;
  test('a metadata host= is a finding in any host form; a metadata for= (the client) is not', async () => {
    const attacks = [
      'host=169.254.169.254',
      'for=192.0.2.60;proto=http;host=0xa9fea9fe',
      'for="[2001:db8:cafe::17]:4711";host="[fd00:ec2::254]"',
      'for=192.0.2.43, for=198.51.100.17;host=metadata.google.internal',
    ];
    const benign = ['for=169.254.169.254;host=shop.example.com', 'for=192.0.2.60;by=169.254.169.254;proto=https'];
    const { byLine } = await scanLines(
      [...attacks, ...benign].map((v) => rec(v)),
      { logFormat: 'json', fieldMap: { forwarded: 'headers.forwarded' } },
    );
    for (const [i, v] of attacks.entries()) {
      const f = byLine.get(i + 1)?.find((x) => x.verdict === 'metadata');
      assert.ok(f && failsDefault(f) && f.http?.field === 'forwarded', `${v}: ${JSON.stringify(f?.http)}`);
    }
    for (const [i, v] of benign.entries()) assert.equal(byLine.get(attacks.length + i + 1), undefined, v);
  });
  test('Traefik keeps it as request_Forwarded: read the same way', async () => {
    const line = (forwarded: string) =>
      `${JSON.stringify({ ClientHost: '198.51.100.40', RequestMethod: 'GET', RequestPath: '/latest/meta-data/', RequestHost: 'shop.example.com', DownstreamStatus: 200, DownstreamContentSize: 512, StartUTC: '2026-03-02T10:14:07Z', request_Forwarded: forwarded })}\n`;
    const { byLine } = await scanLines([line('for=192.0.2.60;host=2852039166'), line('for=169.254.169.254')]);
    assert.ok(byLine.get(1)?.some((f) => f.verdict === 'metadata'));
    assert.equal(byLine.get(2), undefined);
  });
});

describe('scan: public names that payload lists give for the metadata address', () => {
  test('metadata.nicob.net and xip.io names (published and base-36) are metadata findings', async () => {
    const lines = [
      clf('GET /api/v1/preview?url=http://metadata.nicob.net/latest/meta-data/ HTTP/1.1'),
      clf('GET /api/v1/preview?url=http://1ynrnhl.xip.io/ HTTP/1.1'),
      clf('GET /api/v1/preview?url=http://cdn.example.com.1ynrnhl.xip.io/ HTTP/1.1'),
      clf('GET /api/v1/preview?url=http%3A%2F%2Fwww.owasp.org.1ynrnhl.xip.io%2Flatest%2Fuser-data HTTP/1.1'),
    ];
    const { byLine } = await scanLines(lines);
    for (let n = 1; n <= lines.length; n++) {
      const f = byLine.get(n)?.find((x) => x.verdict === 'metadata');
      assert.ok(f && failsDefault(f), `line ${n}: ${lines[n - 1]}`);
    }
  });
  test('a base-36 label that xip.io answered with another address is no finding', async () => {
    // 1b613i6 is 0xa9fea9fe; xip-pdns wrote it low byte first, 254.169.254.169.
    const { run } = await scanLines([
      clf('GET /api/v1/preview?url=http%3A%2F%2F1b613i6.xip.io%2Flatest%2Fuser-data HTTP/1.1'),
    ]);
    assert.deepEqual(
      run.findings.map((f) => f.title),
      [],
    );
  });
});

describe('scan: Kubernetes API servers, kubelets and etcd are internal targets, reported above the default --fail-on', () => {
  test('attempts on them (here answered 502) are ssrf-internal at medium; a dev server on localhost stays low', async () => {
    const k8s = [
      clf(
        'GET /api/v1/preview?url=https://kubernetes.default.svc/api/v1/namespaces/kube-system/secrets HTTP/1.1',
        '-',
        502,
      ),
      clf('GET /oembed?uri=http://127.0.0.1:10255/pods HTTP/1.1', '-', 502),
      clf('GET /share?data=https%3A%2F%2F10.0.0.1%3A10250%2Frun%2Fdefault%2Fpod%2Fc HTTP/1.1', '-', 502),
      clf('GET /hooks/test?avatar_url=http://localhost:2379/v2/keys/%3Frecursive%3Dtrue HTTP/1.1', '-', 502),
    ];
    const dev = [clf('GET /login?next=http://localhost:3000/dashboard HTTP/1.1', '-', 502)];
    const { byLine } = await scanLines([...k8s, ...dev]);
    for (let n = 1; n <= k8s.length; n++) {
      const f = byLine.get(n)?.[0];
      assert.equal(f?.verdict, 'internal', k8s[n - 1]);
      assert.equal(f?.rule.id, 'ssrf-internal');
      assert.equal(f?.severity, 'medium', k8s[n - 1]);
    }
    const d = byLine.get(k8s.length + 1)?.[0];
    assert.ok(!d || (d.verdict === 'internal' && d.severity === 'low'), JSON.stringify(d?.severity));
  });
});
