import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { explain } from '../../src/app/explain.ts';
import { severityRank } from '../../src/core/model/severity.ts';
import { LOG_SHAPES, metadataFindings, scanTargets } from './log-shapes.ts';

// Benign requests that mention a metadata address without fetching it: searches, filters, settings, source
// addresses and records. Each is written as a combined access-log line and as a JSON line, and `explain` on the
// request target must agree with `scan` on both.

const jsonLine = LOG_SHAPES[1].line;

/** No metadata finding for any target, in either log format, and `explain` agrees. */
async function assertQuiet(targets: string[]): Promise<void> {
  for (const { format, found } of await scanTargets(targets)) {
    assert.deepEqual(
      found.flatMap((f, i) => (f ? [`${targets[i]} → ${f.severity}/${f.confidence}`] : [])),
      [],
      format,
    );
  }
  for (const t of targets) assert.equal(explain(t).verdict, 'none', `explain ${t}`);
  for (const t of targets) assert.equal(explain(`GET ${t} HTTP/1.1`).verdict, 'none', `explain GET ${t} HTTP/1.1`);
}

describe('a search for an address is prose, not a fetch', () => {
  test('the address with punctuation as the whole search text', () =>
    assertQuiet([
      '/search?q=169.254.169.254?',
      '/search?q=169.254.169.254%3F',
      '/search?q=what+is+169.254.169.254%3F',
      '/search?q=what%20is%20169.254.169.254%3F',
      '/search?q=169.254.169.254!',
      '/search?q=fd00:ec2::254?',
      '/search?q=169.254.169.254/',
      '/search?q=%C2%BF169.254.169.254%3F',
      '/search?q=169.254.169.254%2C%20fd00%3Aec2%3A%3A254',
      '/api/search?searchTerm=169.254.169.254%3F',
      '/results?search_query=169.254.169.254',
      '/s?wd=169.254.169.254',
    ]));

  test('filter and assignment syntax in a search or query field', () =>
    assertQuiet([
      '/search?q=host:169.254.169.254',
      '/search?q=host%3A169.254.169.254',
      '/en-US/app/search/search?q=search+dest%3D169.254.169.254',
      '/splunk/search?search=search%20dest=169.254.169.254%20|%20stats%20count',
      '/logs?query=dst:169.254.169.254',
      '/search?q=dest%3D169.254.169.254',
      '/logs?filter=host:169.254.169.254',
      '/logs?where=host%3D169.254.169.254',
      '/x?filterQuery=host%3D169.254.169.254',
      '/api/search?searchTerm=host:169.254.169.254',
    ]));

  test('an address with a path as the whole search text is kept below the default --fail-on, as a full URL is', async () => {
    const targets = [
      '/search?q=169.254.169.254/latest/meta-data/',
      '/search?q=metadata.google.internal/computeMetadata/v1/',
      '/search?q=http://169.254.169.254/latest/meta-data/',
    ];
    for (const { format, found } of await scanTargets(targets)) {
      for (const [i, t] of targets.entries()) {
        const f = found[i];
        assert.ok(f, `${format}: ${t} is kept`);
        assert.equal(f.severity, 'low', `${format}: ${t}`);
        assert.equal(f.confidence, 0.5, `${format}: ${t}`);
      }
    }
    for (const t of targets) assert.equal(explain(t).context[0]?.outcome, 'kept-lower-confidence', t);
  });
});

describe('settings and lists that name the address so as not to fetch it', () => {
  test('no_proxy and *_hosts / hosts parameters, alone or among others', () =>
    assertQuiet([
      '/config?no_proxy=169.254.169.254',
      '/settings?NO_PROXY=169.254.169.254',
      '/x?allowed_hosts=a.example,169.254.169.254',
      '/x?trusted_hosts=169.254.169.254',
      '/admin?blocked_hosts=169.254.169.254;10.0.0.1',
      '/cfg?env[NO_PROXY]=localhost,169.254.169.254',
      '/x?allowedHosts=metadata.google.internal',
      '/settings?proxy_bypass_list=169.254.169.254',
      '/cfg?trusted_proxies=169.254.169.254',
      '/cfg?safelist=169.254.169.254',
    ]));

  test('a source or client address is not a destination', () =>
    assertQuiet([
      '/x?src_ip=169.254.169.254',
      '/x?client=169.254.169.254',
      '/api/events?client_ip=169.254.169.254&page=2',
      '/x?remote_addr=169.254.169.254',
      '/audit?source_address=fd00:ec2::254',
      '/x?hosts=169.254.169.254;metadata.google.internal;sid=1',
      '/config?no_proxy=localhost;169.254.169.254;page=2',
    ]));

  test('the same addresses in a parameter an application fetches are still findings', async () => {
    const targets = [
      '/fetch?url=169.254.169.254',
      '/x?src=169.254.169.254',
      '/x?host=169.254.169.254&hosts=a.example',
      '/api/check?ip=169.254.169.254',
      '/fetch?q=169.254.169.254/latest/meta-data/',
      // A Host header injected into a search field is no search.
      '/search?q=x%0d%0aHost:%20169.254.169.254%0d%0a%0d%0aGET%20/latest/meta-data/',
      // `;` separates parameters as `&` does: one address before it is no list.
      '/login?returnUrl=0xa9fea9fe;sid=1',
      '/login?returnUrl=2852039166;sid=1',
      '/fetch?url=169.254.169.254;sid=1',
    ];
    for (const { format, found } of await scanTargets(targets))
      for (const [i, t] of targets.entries())
        assert.ok(found[i] && severityRank(found[i].severity) >= severityRank('medium'), `${format}: ${t}`);
  });
});

describe('an address joined into a slug or label by `_` or `-` is a name nobody can resolve', () => {
  test('campaign tags, referrers and slugs in parameters give no finding', () =>
    assertQuiet([
      '/?utm_campaign=imds_169.254.169.254_webinar',
      '/?utm_content=169.254.169.254-talk',
      '/?ref=blog_169.254.169.254_post',
      '/?slug=why_169.254.169.254_matters',
      '/?ref=blog_169.254.169.254',
      '/landing?utm_term=2024_169.254.169.254',
    ]));
  test('the same in a JSON body gives no finding', async () => {
    const body = '{"slug":"why_169.254.169.254_matters"}';
    const found = await metadataFindings([jsonLine('POST', '/api/posts', body)], 'json');
    assert.equal(found.size, 0);
    assert.equal(explain(body).verdict, 'none');
  });
  test('names that DNS services resolve to the address written in them are still findings', async () => {
    const targets = [
      '/?u=169-254-169-254.nip.io',
      '/?u=a9fea9fe.rbndr.us',
      '/?u=1337_d83ad02e_a9fea9fe.dnsrebinder.net',
      '/?u=make-169.254.169.254-rr.1u.ms',
      '/?u=x.169.254.169.254.attacker.example',
    ];
    for (const { format, found } of await scanTargets(targets))
      for (const [i, t] of targets.entries()) assert.ok(found[i], `${format}: ${t}`);
  });
});

describe('request bodies that state the address as data (JSON lines keep the body)', () => {
  const records = [
    { query: { term: { 'destination.ip': '169.254.169.254' } } },
    { query: { bool: { filter: [{ term: { 'destination.ip': '169.254.169.254' } }] } } },
    {
      sys_class_name: 'cmdb_ci_server',
      name: 'imds-proxy-01',
      hostname: '169.254.169.254',
      os: 'Linux',
      serial_number: 'VMW-42-1c',
    },
    {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'web' },
      spec: {
        hostAliases: [{ ip: '169.254.169.254', hostnames: ['metadata.google.internal', 'metadata'] }],
        containers: [{ name: 'web', image: 'nginx:1.27' }],
      },
    },
    {
      apiVersion: 'networking.istio.io/v1beta1',
      kind: 'ServiceEntry',
      metadata: { name: 'gce-metadata' },
      spec: {
        hosts: ['metadata.google.internal'],
        addresses: ['169.254.169.254/32'],
        ports: [{ number: 80, name: 'http', protocol: 'HTTP' }],
        resolution: 'STATIC',
        endpoints: [{ address: '169.254.169.254' }],
      },
    },
    {
      event_type: 'flow',
      src_ip: '10.0.3.17',
      src_port: 51514,
      dest_ip: '169.254.169.254',
      dest_port: 80,
      proto: 'TCP',
    },
    { interface_id: 'eni-0a1b', srcaddr: '10.0.3.17', dstaddr: '169.254.169.254', dstport: 80, protocol: 6 },
    { env: [{ name: 'NO_PROXY', value: 'localhost,127.0.0.1,169.254.169.254' }] },
    { env: { NO_PROXY: '169.254.169.254' } },
    { proxy: { no_proxy: ['localhost', '169.254.169.254', 'metadata.google.internal'] } },
    { client: '169.254.169.254', action: 'login' },
    { rules: [{ action: 'deny', destination: '169.254.169.254', protocol: 'tcp' }] },
    { dns: { question: 'metadata.google.internal', answers: ['169.254.169.254'] } },
    // DNS answers and record sets: a name, a record type, and the data the name resolves to.
    { answers: [{ name: 'metadata.google.internal', type: 'A', data: '169.254.169.254' }] },
    { records: [{ name: 'metadata', type: 'A', value: '169.254.169.254' }] },
    { Status: 0, Answer: [{ name: 'metadata.google.internal.', type: 1, TTL: 300, data: '169.254.169.254' }] },
    { asset: { name: 'gw-01', ip_address: '169.254.169.254', mac: '02:42:ac:11:00:02' } },
    {
      '@timestamp': '2026-03-02T10:14:07Z',
      source: { ip: '10.0.3.17', port: 51514 },
      destination: { ip: '169.254.169.254', port: 80 },
      network: { transport: 'tcp' },
    },
  ];
  const yaml = [
    'apiVersion: v1\nkind: Pod\nspec:\n  hostAliases:\n  - ip: "169.254.169.254"\n    hostnames:\n    - "metadata.google.internal"\n  containers:\n  - name: web\n    image: nginx\n',
    'kind: ServiceEntry\nspec:\n  hosts:\n  - metadata.google.internal\n  endpoints:\n  - address: 169.254.169.254\n  resolution: STATIC\n',
    'proxy:\n  no_proxy:\n    - localhost\n    - 169.254.169.254\n',
    'services:\n  web:\n    image: nginx\n    extra_hosts:\n      - "metadata.google.internal:169.254.169.254"\n',
  ];
  const fetches = [
    { url: 'http://169.254.169.254/latest/meta-data/iam/security-credentials/' },
    { host: '169.254.169.254', port: 80, path: '/latest/meta-data/' },
    { ip: '169.254.169.254' },
    { address: '169.254.169.254' },
    { webhook: { target: '169.254.169.254/latest/user-data' } },
    { upstream: { address: '169.254.169.254', weight: 1 } },
    { ip: '169.254.169.254', port: 80 },
    { target: '169.254.169.254', type: 'ping' },
    { name: 'health', type: 'A', url: 'http://169.254.169.254/latest/meta-data/' },
  ];
  test('query DSL, inventory records, manifests, flow events and proxy settings give no finding', async () => {
    const bodies = [...records.map((r) => JSON.stringify(r)), ...yaml];
    const found = await metadataFindings(
      bodies.map((b) => jsonLine('POST', '/api/v1/objects', b)),
      'json',
    );
    assert.deepEqual(
      [...found.keys()].map((n) => bodies[n - 1]),
      [],
    );
    for (const b of bodies) assert.equal(explain(b).verdict, 'none', b);
    // `explain` on the whole JSON log line, where the body is an escaped string, agrees.
    for (const r of records) {
      const line = jsonLine('POST', '/api/v1/objects', JSON.stringify(r));
      assert.equal(explain(line).verdict, 'none', line);
    }
  });
  test('a body that names something to connect to is still a finding', async () => {
    const bodies = fetches.map((r) => JSON.stringify(r));
    const found = await metadataFindings(
      bodies.map((b) => jsonLine('POST', '/api/v1/check', b)),
      'json',
    );
    for (const [i, b] of bodies.entries()) assert.ok(found.get(i + 1), b);
    for (const b of bodies) assert.equal(explain(b).verdict, 'metadata', b);
  });
});

describe('a metadata host as a path segment after a route that fetches it', () => {
  test('one-word names, a host with a port and mixed notation are findings in both log shapes', async () => {
    const targets = [
      '/proxy/metadata/computeMetadata/v1/instance/service-accounts/default/token',
      '/fetch/instance-data/latest/meta-data/iam/security-credentials/',
      '/r/localhost:40342/metadata/identity/oauth2/token',
      '/proxy/rancher-metadata/latest/self',
      '/image-proxy/0xa9.254.0251.254:80/latest/user-data',
      '/api/proxy/%2F%2F0xa9.254.0251.254%2Flatest%2Fmeta-data%2Fiam%2Finfo',
    ];
    for (const { format, found } of await scanTargets(targets))
      for (const [i, t] of targets.entries())
        assert.ok(found[i] && severityRank(found[i].severity) >= severityRank('medium'), `${format}: ${t}`);
  });
  test('the same words under a page that does not fetch give no finding', () =>
    assertQuiet(['/docs/metadata/latest/meta-data/', '/wiki/instance-data/latest/meta-data/', '/kb/rancher-metadata']));
});

describe('an XML external entity names a URL the parser fetches', () => {
  test('a SYSTEM identifier in a body, raw or inside JSON, is a finding at medium or above', async () => {
    const xxe = '<!ENTITY x SYSTEM "http://169.254.169.254/latest/meta-data/iam/security-credentials/">';
    const bodies = [
      `<?xml version="1.0"?><!DOCTYPE r [${xxe}]><r>&x;</r>`,
      JSON.stringify({ xml: xxe }),
      '<!DOCTYPE r PUBLIC "-//X//EN" "http://metadata.google.internal/computeMetadata/v1/instance/">',
    ];
    const found = await metadataFindings(
      bodies.map((b) => jsonLine('POST', '/api/import', b)),
      'json',
    );
    for (const [i, b] of bodies.entries())
      assert.ok(found.get(i + 1) && severityRank(found.get(i + 1)!.severity) >= severityRank('medium'), b);
    for (const b of bodies) assert.equal(explain(b).context[0]?.outcome, 'kept', b);
  });
});
