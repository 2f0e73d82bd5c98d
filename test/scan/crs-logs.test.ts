import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { classify, verdictOf } from '../../src/core/classify.ts';
import { CLOUDFRONT_FIELDS } from '../../src/core/parse/cloudfront.ts';
import type { LogFormatName } from '../../src/core/parse/types.ts';
import { CRS_METADATA, HARNESS_HEADERS, loadCrsFiles } from '../corpora/crs-cases.ts';
import { corporaSkip } from '../corpora/shared.ts';
import { scanFiles } from './helpers.ts';

const skip = corporaSkip('crs');

interface Req {
  method: string;
  uri: string;
  data?: string;
  headers: Record<string, string>;
}

/** nginx/Apache escaping of `"`, `\` and bytes outside printable ASCII. */
function clfEscape(s: string): string {
  return [...Buffer.from(s, 'utf8')]
    .map((b) =>
      b === 0x22 || b === 0x5c || b < 0x20 || b >= 0x7f
        ? `\\x${b.toString(16).padStart(2, '0')}`
        : String.fromCharCode(b),
    )
    .join('');
}

/** CloudFront's own layer: `%`, spaces, controls and non-ASCII are percent-encoded again. */
function cfEscape(s: string): string {
  return [...Buffer.from(s, 'utf8')]
    .map((b) =>
      b === 0x25 || b <= 0x20 || b >= 0x7f || b === 0x22 || b === 0x5c
        ? `%${b.toString(16).toUpperCase().padStart(2, '0')}`
        : String.fromCharCode(b),
    )
    .join('');
}

/** IIS writes spaces as `+` and non-ASCII as UTF-8 (percent-encoded here so the line stays space-separated). */
function iisEscape(s: string): string {
  return s.replace(/ /g, '%20');
}

function split(uri: string): { stem: string; query: string } {
  const q = uri.indexOf('?');
  return q < 0 ? { stem: uri, query: '-' } : { stem: uri.slice(0, q), query: uri.slice(q + 1) || '-' };
}

/** One request as a log line of each format that records the request target. */
const WRITERS: Partial<Record<LogFormatName, (r: Req) => string>> = {
  combined: (r) =>
    `192.0.2.200 - - [21/Nov/2026:09:00:00 +0000] "${r.method} ${clfEscape(r.uri)} HTTP/1.1" 404 153 "-" "curl/8.5.0"`,
  alb: (r) =>
    `https 2026-11-21T11:00:01.000001Z app/web/5 192.0.2.200:2817 10.0.0.1:443 0.000 0.002 0.000 404 404 120 153 "${r.method} https://www.example.com:443${clfEscape(r.uri)} HTTP/1.1" "curl/8.5.0" - - arn:aws:elasticloadbalancing:us-east-2:1:targetgroup/t/7 "Root=1-5" "www.example.com" "-" 1 2026-11-21T11:00:01.000000Z "forward" "-" "-" "10.0.0.1:443" "404" "-" "-" TID_1`,
  cloudfront: (r) => {
    const { stem, query } = split(r.uri);
    const rec: Record<string, string> = {
      date: '2026-11-21',
      time: '13:00:01',
      'x-edge-location': 'SEA19-C1',
      'sc-bytes': '153',
      'c-ip': '192.0.2.200',
      'cs-method': r.method,
      'cs(Host)': 'd1.cloudfront.net',
      'cs-uri-stem': cfEscape(stem),
      'sc-status': '404',
      'cs-uri-query': query === '-' ? '-' : cfEscape(query),
      'x-host-header': 'www.example.com',
    };
    return CLOUDFRONT_FIELDS.map((f) => rec[f] ?? '-').join('\t');
  },
  awswaf: (r) => {
    const { stem, query } = split(r.uri);
    return JSON.stringify({
      timestamp: 1763730001000,
      formatVersion: 1,
      webaclId: 'arn:aws:wafv2:us-east-1:1:regional/webacl/web/1',
      action: 'BLOCK',
      httpRequest: {
        clientIp: '192.0.2.200',
        headers: [
          { name: 'Host', value: 'www.example.com' },
          ...Object.entries(r.headers).map(([name, value]) => ({ name, value })),
        ],
        uri: stem,
        args: query === '-' ? '' : query,
        httpMethod: r.method,
      },
    });
  },
  haproxy: (r) =>
    `Nov 21 14:00:01 lb1 haproxy[1]: 192.0.2.200:33318 [21/Nov/2026:14:00:01.120] http-in app/srv2 10/0/30/69/109 404 153 - - ---- 1/1/1/1/0 0/0 {www.example.com} {} "${r.method} ${clfEscape(r.uri)} HTTP/1.1"`,
  envoy: (r) =>
    `[2026-11-21T15:00:01.310Z] "${r.method} ${clfEscape(r.uri)} HTTP/1.1" 404 - 0 153 22 20 "192.0.2.200" "curl/8.5.0" "dd21" "api.example.com" "tcp://10.0.2.1:80"`,
  traefik: (r) =>
    JSON.stringify({
      ClientHost: '192.0.2.200',
      DownstreamStatus: 404,
      DownstreamContentSize: 153,
      RequestHost: 'www.example.com',
      RequestMethod: r.method,
      RequestPath: r.uri,
      StartUTC: '2026-11-21T16:00:01Z',
    }),
  iis: (r) => {
    const { stem, query } = split(r.uri);
    return `2026-11-21 17:00:02 10.0.0.10 ${r.method} ${iisEscape(stem)} ${iisEscape(query)} 443 - 192.0.2.200 curl/8.5.0 - 404 0 2 31`;
  },
  zeek: (r) =>
    JSON.stringify({
      ts: 1763751601.2,
      uid: 'C1',
      'id.orig_h': '192.0.2.200',
      'id.orig_p': 1,
      'id.resp_h': '10.0.0.20',
      'id.resp_p': 80,
      method: r.method,
      host: 'www.example.com',
      uri: r.uri,
      status_code: 404,
      response_body_len: 153,
    }),
  eve: (r) =>
    JSON.stringify({
      timestamp: '2026-11-21T20:00:03.000001+0000',
      flow_id: 1,
      event_type: 'http',
      src_ip: '192.0.2.200',
      http: {
        hostname: 'www.example.com',
        url: r.uri,
        http_method: r.method,
        status: 404,
        length: 153,
        request_headers: Object.entries(r.headers).map(([name, value]) => ({ name, value })),
        ...(r.data ? { http_request_body_printable: r.data } : {}),
      },
    }),
  json: (r) =>
    JSON.stringify({
      time: '2026-11-21T09:00:00Z',
      remote_addr: '192.0.2.200',
      request: `${r.method} ${r.uri} HTTP/1.1`,
      status: 404,
      body_bytes_sent: 153,
    }),
  squid: (r) =>
    `1763731201.456      3 192.0.2.200 TCP_MISS/404 153 ${r.method} http://www.example.com${r.uri.replace(/ /g, '%20')} - HIER_DIRECT/203.0.113.1 text/html`,
};

/** Formats that record request headers and bodies, besides the target. */
const CARRIES_HEADERS = new Set(['awswaf', 'eve']);
const CARRIES_BODY = new Set(['eve']);

describe('scan finds the CRS metadata cases written as log lines of every format', { skip }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'imdsguard-crs-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const cases: Array<{ id: string; req: Req; metadata: boolean; where: 'uri' | 'headers' | 'data' }> = [];
  if (!skip) {
    for (const doc of loadCrsFiles()) {
      for (const t of doc.tests) {
        for (const [si, s] of t.stages.entries()) {
          const headers: Record<string, string> = {};
          for (const [k, v] of Object.entries(s.input.headers ?? {}))
            if (!HARNESS_HEADERS.has(k.toLowerCase())) headers[k] = String(v);
          const req: Req = {
            method: s.input.method ?? 'GET',
            uri: s.input.uri ?? '/',
            headers,
            ...(s.input.data ? { data: String(s.input.data) } : {}),
          };
          const metadata = CRS_METADATA[doc.rule_id]?.has(t.test_id) ?? false;
          // Where the attack sits decides which formats can carry it.
          const where =
            verdictOf(classify(req.uri, { kind: 'target' })) === 'metadata'
              ? 'uri'
              : Object.keys(headers).length > 0 && !req.data
                ? 'headers'
                : 'data';
          cases.push({ id: `${doc.rule_id}-${t.test_id}.${si + 1}`, req, metadata, where });
        }
      }
    }
  }

  for (const [format, write] of Object.entries(WRITERS) as Array<[LogFormatName, (r: Req) => string]>) {
    it(`${format}`, async () => {
      const carried = cases.filter(
        (c) =>
          c.where === 'uri' ||
          (c.where === 'headers' && CARRIES_HEADERS.has(format)) ||
          (c.where === 'data' && CARRIES_BODY.has(format)),
      );
      assert.ok(carried.filter((c) => c.metadata).length >= 30, 'expected at least 30 metadata cases');
      const file = join(dir, `${format}.log`);
      writeFileSync(file, `${carried.map((c) => write(c.req)).join('\n')}\n`);
      const { findings, stats } = await scanFiles([file], { logFormat: format });
      assert.equal(stats.skippedTotal, 0, JSON.stringify([...stats.skipped]));
      const flagged = new Set(findings.filter((f) => f.verdict === 'metadata').map((f) => f.origin.line));
      const missed = carried.filter((c, i) => c.metadata && !flagged.has(i + 1)).map((c) => `${c.id} ${c.req.uri}`);
      const wrong = carried.filter((c, i) => !c.metadata && flagged.has(i + 1)).map((c) => `${c.id} ${c.req.uri}`);
      assert.deepEqual(missed, [], 'metadata cases not found');
      assert.deepEqual(wrong, [], 'non-metadata cases reported as metadata');
    });
  }
});
