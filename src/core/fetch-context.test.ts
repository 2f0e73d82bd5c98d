import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { explain } from '../app/explain.ts';
import { classify, classifyWithContext, verdictOf } from './classify.ts';
import type { Reading } from './fetch-context.ts';

const reading = (t: string) => classifyWithContext(t).context.find((c) => c.endpoint !== '127.0.0.1');
const dropped = (t: string, r: Reading) => {
  assert.notEqual(verdictOf(classify(t)), 'metadata', t);
  const note = reading(t);
  assert.equal(note?.reading, r, `${t}: ${JSON.stringify(note)}`);
  assert.equal(note?.outcome, 'dropped', t);
};
const target = (t: string) => {
  const { hits, context } = classifyWithContext(t);
  assert.equal(verdictOf(hits), 'metadata', t);
  assert.equal(context[0]?.outcome, 'kept', `${t}: ${JSON.stringify(context[0])}`);
};
const lowered = (t: string, r: Reading) => {
  const { hits, context } = classifyWithContext(t);
  assert.equal(verdictOf(hits), 'metadata', t);
  assert.ok(hits[0]?.ambiguity?.startsWith(r), `${t}: ${hits[0]?.ambiguity}`);
  assert.equal(context[0]?.outcome, 'kept-lower-confidence', t);
};

describe('prose: an address among words is talked about', () => {
  test('search boxes, chat, comments; touching punctuation, quotes, brackets; starting the value', () => {
    dropped('/search?q=what+is+169.254.169.254%3F', 'prose');
    dropped('/search?q=%22169.254.169.254%22+blocked+again', 'prose');
    dropped('/search?q=(169.254.169.254)', 'prose');
    dropped('/search?q=169.254.169.254+iptables', 'prose');
    dropped('/chat/send?msg=can+you+curl+169.254.169.254/latest/meta-data+from+the+pod%3F', 'prose');
    dropped('{"message":"what is \\"fd00:ec2::254\\"","channel":"ops"}', 'prose');
    dropped('/w/index.php?title=metadata.google.internal&action=edit', 'prose');
  });
  test('the same address as the value of a fetching parameter, or a command argument, is a target', () => {
    target('/fetch?url=169.254.169.254/latest/meta-data/');
    target('/fetch?q=169.254.169.254/latest/meta-data/iam/security-credentials/');
    target('/x?cmd=;curl+-s+169.254.169.254/latest/meta-data/iam/security-credentials/');
    target('/x?host=127.0.0.1%3Bwget%20-qO-%20169.254.169.254/latest/user-data');
    // What markup loads: a stylesheet, an SVG <use>, an image.
    target(
      '/convert?content=%3C%3Fxml-stylesheet%20href%3D%22http%3A%2F%2F100.100.100.200%2Flatest%2Fmeta-data%2F%22%3F%3E%3Cr%2F%3E',
    );
    target(
      '/upload/preview?content=%3Csvg%3E%3Cuse%20href%3D%22http%3A%2F%2F%5Bfd00%3Aec2%3A%3A254%5D%2Flatest%2Fmeta-data%2F%23x%22%2F%3E%3C%2Fsvg%3E',
    );
    target(
      '/pdf?html=%3Cp%3Ereport%3C%2Fp%3E%3Cimg%20alt%3Dx%20src%3D%22http%3A%2F%2F169.254.169.254%2Flatest%2Fuser-data%22%3E',
    );
    // A script navigating to or loading the URL, its characters written as \u escapes or plain.
    target(
      '/render?html=%3Cscript%3Edocument.location%3D%27%5Cu0068%5Cu0074%5Cu0074%5Cu0070%5Cu003a%5Cu002f%5Cu002f%5Cu0031%5Cu0036%5Cu0039%5Cu002e%5Cu0032%5Cu0035%5Cu0034%5Cu002e%5Cu0031%5Cu0036%5Cu0039%5Cu002e%5Cu0032%5Cu0035%5Cu0034%5Cu002f%5Cu006c%5Cu0061%5Cu0074%5Cu0065%5Cu0073%5Cu0074%27%3C%2Fscript%3E',
    );
    target('/render?html=%3Cscript%3Elocation.href%3D%27http://169.254.169.254/latest/meta-data/%27%3C/script%3E');
    target('/x?js=img.src%3D%22http://169.254.169.254/latest/%22');
    // A PowerShell hashtable of headers is no PromQL matcher.
    target(
      '/api/exec?target=8.8.8.8%26%26%20Invoke-WebRequest%20-Uri%20http://169.254.169.254/metadata/identity/oauth2/token%20-Headers%20%40%7BMetadata%3D%22true%22%7D',
    );
  });
  test('a full URL among words: both readings plausible, kept with lower confidence', () => {
    lowered('/search?q=why+does+curl+http://169.254.169.254/latest/meta-data/+hang', 'prose');
    // A command line typed into a search box is looked up as often as pasted: both plausible.
    lowered('/search?q=curl+http://169.254.169.254/latest/meta-data/', 'prose');
    lowered('/search?q=curl+169.254.169.254', 'prose');
    lowered('/search?searchTerm=wget+169.254.169.254', 'prose');
    lowered('/kb?keywords=nc+169.254.169.254+80', 'prose');
    lowered('/search?q=http+get+metadata.google.internal', 'prose');
    // The same command line in a parameter a page runs or fetches stays a target.
    target('/fetch?q=curl+169.254.169.254/latest/meta-data/');
    lowered('/notes?body=see+http://metadata.google.internal/computeMetadata/v1/+for+details', 'prose');
  });
});

describe('query languages in parameters', () => {
  test('SPL, KQL/Lucene, PromQL, Falco output, issue-tracker and SQL queries', () => {
    dropped('/s?q=search+index%3Dproxy+dest%3D169.254.169.254+%7C+stats+count+by+src', 'query-language');
    dropped('/k?query=destination.ip%3A%22169.254.169.254%22+AND+url.path%3A%2Flatest%2F*', 'query-language');
    dropped('/api/v1/query?query=up%7Binstance%3D%22169.254.169.254%3A9100%22%7D', 'query-language');
    dropped(
      '/f?output=Outbound+connection+(command%3Dcurl+-s+169.254.170.2%2Fv2%2Fcredentials+container%3Dweb)',
      'query-language',
    );
    dropped('/issues?q=is%3Aopen+label%3Aimds+169.254.169.254', 'query-language');
    dropped("/q?sql=SELECT+*+FROM+flows+WHERE+dst+%3D+'100.100.100.200'", 'query-language');
  });
  test('a URL with its scheme inside a query is kept with lower confidence', () =>
    lowered(
      '/f?output=Outbound+connection+(command%3Dcurl+http%3A%2F%2F169.254.169.254%2Flatest%2Fmeta-data%2F+container%3Dweb)',
      'query-language',
    ));
});

describe('lookups, hosts lines and list variables', () => {
  test('the value a whois, DNS, IPAM, GeoIP or ASN page looks up is a record, not a target', () => {
    dropped('/whois?ip=169.254.169.254', 'record');
    dropped('/ipam/search?address=169.254.169.254', 'record');
    dropped('/tools/geoip?addr=100.100.100.200', 'record');
    dropped('/dns/lookup?hostname=169.254.169.254', 'record');
    dropped('/dns/edit?type=A&rdata=169.254.169.254', 'record');
    // A command injected there, a URL, or a page that fetches stays a target.
    target('/dns/lookup?host=example.com%3Bcurl+169.254.169.254');
    target('/whois?ip=http://169.254.169.254/latest/meta-data/');
    target('/proxy/dns?host=169.254.169.254');
  });
  test('a hosts-file line with a comment after its names', () => {
    dropped('/paste?snippet=169.254.170.2%09metadata.google.internal%20%23%20d324e5299f06', 'list');
  });
  test('entries of a list variable: set in the value, named by a key, or separated by |', () => {
    dropped('/ci/variables?key=NO_PROXY&value=169.254.170.2%7C169.254.169.254', 'list');
    dropped('/settings?env=NO_PROXY%3D.local%20169.254.169.254', 'list');
    dropped('/paste?snippet=export%20NO_PROXY%3D169.254.169.254', 'list');
    target('/settings?env=URL%3D169.254.169.254');
    // Config snippets: a pod's hostAliases, docker-compose extra_hosts.
    const aliases =
      '/api/k8s/apply?manifest=hostAliases%3A%0A-%20ip%3A%20%22169.254.169.254%22%0A%20%20hostnames%3A%20%5B%22metadata.google.internal%22%5D';
    assert.notEqual(verdictOf(classify(aliases)), 'metadata', aliases);
    assert.deepEqual(
      classifyWithContext(aliases).context.map((c) => c.reading),
      ['record', 'list'],
    );
    const compose = '/api/snippets?yaml=extra_hosts%3A%0A%20%20-%20%22metadata.google.internal%3A169.254.169.254%22';
    assert.notEqual(verdictOf(classify(compose)), 'metadata', compose);
    assert.equal(
      classifyWithContext(compose).context.find((c) => c.endpoint === 'metadata.google.internal')?.reading,
      'list',
    );
  });
});

describe('network blocks, lists, claims and slugs', () => {
  test('CIDR in parameters and JSON bodies', () => {
    dropped('/api/firewall/rules?cidr=169.254.169.254/32&action=deny', 'cidr');
    dropped('/api/nacl?cidr=fd00:ec2::254/128&action=deny', 'cidr');
    dropped('{"spec":{"egress":[{"to":[{"ipBlock":{"cidr":"0.0.0.0/0","except":["169.254.169.254/32"]}}]}]}}', 'cidr');
  });
  test('no_proxy and deny lists, hosts-file lines', () => {
    dropped('/env?no_proxy=localhost,127.0.0.1,169.254.169.254,metadata.google.internal', 'list');
    dropped('/hosts?line=169.254.169.254+metadata.google.internal', 'list');
    dropped('/admin/denylist?hosts=169.254.170.2', 'list');
  });
  test('a list of URLs is still a list of things to fetch', () =>
    target('/batch?urls=https://example.com/a,http://169.254.169.254/latest/meta-data/'));
  test('a JWT claim that is an address is data; a jku URL is fetched', () => {
    const b = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
    dropped(
      `/api/me?access_token=${b({ alg: 'HS256' })}.${b({ sub: 'a', ip: '169.254.169.254' })}.c2ln`,
      'token-claim',
    );
    target(
      `/api/me?access_token=${b({ alg: 'RS256', jku: 'http://169.254.169.254/latest/meta-data/' })}.${b({ sub: 'a' })}.c2ln`,
    );
  });
  test('wiki slugs are page names', () => {
    dropped('/page?id=2024-169.254.169.254', 'slug');
    dropped('/wiki/169.254.169.254_(disambiguation)', 'slug');
    dropped('/wiki/169.254.169.254%3A80_(address)', 'slug');
  });
  test('a bare address as a path segment is a page, a file or a lookup key', () => {
    dropped('/wiki/169.254.169.254', 'slug');
    dropped('/static/img/169.254.169.254.png', 'slug');
    dropped('/tools/ip/169.254.169.254/whois', 'slug');
    dropped('https://en.wikipedia.org/wiki/169.254.169.254', 'slug');
    dropped('/kb/metadata.google.internal', 'slug');
  });
  test('a path segment is a destination after a fetching route, with a port, or before a metadata path', () => {
    target('/proxy/169.254.169.254');
    target('/api/v1/fetch/169.254.169.254/');
    target('/assets/169.254.169.254:80/');
    target('/cdn/169.254.169.254/latest/meta-data/iam/security-credentials/');
    target('/x/metadata.google.internal/computeMetadata/v1/instance/');
  });
  test('after a fetching route, a one-word name or a host with a port is a destination too', () => {
    target('/proxy/metadata/computeMetadata/v1/instance/service-accounts/default/token');
    target('/fetch/instance-data/latest/meta-data/iam/security-credentials/');
    target('/r/localhost:40342/metadata/identity/oauth2/token');
    target('/proxy/rancher-metadata/latest/self');
    target('/image-proxy/0xa9.254.0251.254:80/latest/user-data');
    target('/api/proxy/%2F%2F0xa9.254.0251.254%2Flatest%2Fmeta-data%2Fiam%2Finfo');
  });
  test('elsewhere a one-word name between slashes is a page', () => {
    for (const t of [
      '/docs/metadata/latest/meta-data/',
      '/wiki/instance-data/latest/meta-data/',
      '/proxy/metadata',
      '/blog/localhost:40342/metadata/identity/oauth2/token',
    ])
      assert.equal(explain(t).verdict, 'none', t);
  });
  test('a numeric address as a path segment: a destination after a fetching route or before a metadata path', () => {
    target('/r/0xa9fea9fe/latest/meta-data/');
    target('/proxy/2852039166/latest/meta-data/iam/security-credentials/');
    target('/fetch/0251.0376.0251.0376/latest/user-data');
    target('/cdn/0xa9fea9fe/computeMetadata/v1/instance/');
    // An id in a path, a number that is not a metadata address, a number with nothing after it: nothing.
    assert.equal(verdictOf(classify('/orders/2852039166/reviews')), 'none');
    assert.equal(verdictOf(classify('/r/2852039166')), 'none');
    assert.equal(verdictOf(classify('/v1/items/12345/latest/meta-data/')), 'none');
    assert.equal(verdictOf(classify('/docs/metadata/latest/meta-data/')), 'none');
  });
  test('a URL in JSON inside a parameter, or wrapped in another scheme, is a target (no prose, no comparison)', () => {
    target('/hooks/test?cfg=%7B%22url%22%3A%20%22http%3A%2F%2F169.254.169.254%2Flatest%2Fmeta-data%2F%22%7D');
    target('/preview?src={"webhook": {"target": "http://metadata.google.internal/computeMetadata/v1/"}}');
    target('/render?load=jar:http://169.254.169.254/latest/meta-data/!/');
    lowered('/notes?body={"text": "why does curl http://169.254.169.254/latest/meta-data hang"}', 'prose');
  });
  test('a whole URL as the text of a search or title field: kept with lower confidence, unless the page fetches', () => {
    lowered('/search?q=http%3A%2F%2F169.254.169.254%2Flatest%2Fmeta-data', 'prose');
    lowered('/questions/ask?title=http://metadata.google.internal/computeMetadata/v1/', 'prose');
    target('/fetch?q=http://169.254.169.254/latest/meta-data/');
    target('/api/preview?lang=en&title=x&q=http://169.254.169.254/latest/meta-data/');
  });
  test('a one-word provider name in an ordinary field is a word; in a URL field, a host', () => {
    assert.equal(verdictOf(classify('/catalog?facet=metadata&value=instance-data')), 'none');
    assert.equal(verdictOf(classify('/fetch?url=metadata/computeMetadata/v1/')), 'metadata');
  });
});

describe('sources, records and searches', () => {
  test('a source or client address names where traffic came from', () => {
    dropped('/x?src_ip=169.254.169.254', 'source');
    dropped('/api/events?client=169.254.169.254&page=2', 'source');
    target('/x?src=169.254.169.254');
  });
  test('an address stated by a record, a manifest or a query DSL is data; one with a port or path to reach is not', () => {
    dropped('{"event_type":"flow","src_ip":"10.0.3.17","dest_ip":"169.254.169.254","dest_port":80}', 'record');
    dropped('{"spec":{"hostAliases":[{"ip":"169.254.169.254","hostnames":["metadata"]}]}}', 'record');
    dropped('spec:\n  hostAliases:\n  - ip: 169.254.169.254\n    hostnames:\n    - metadata\n', 'record');
    dropped('{"query":{"term":{"destination.ip":"169.254.169.254"}}}', 'query-language');
    dropped('{"settings":{"allowed_hosts":["app.example.com","169.254.169.254"]}}', 'list');
    target('{"host":"169.254.169.254","port":80,"path":"/latest/meta-data/"}');
    target('{"address":"169.254.169.254"}');
  });
  test('a search field: punctuation after the address is no path; filters are queries; a path keeps both readings', () => {
    dropped('/search?q=169.254.169.254?', 'prose');
    dropped('/search?q=host:169.254.169.254', 'query-language');
    dropped('/s?q=search+dest%3D169.254.169.254', 'query-language');
    lowered('/search?q=169.254.169.254/latest/meta-data/', 'prose');
  });
});

describe('explain says why', () => {
  test('a context entry per reference, for dropped and kept readings alike', () => {
    const r = explain('/api/firewall/rules?cidr=169.254.169.254/32&action=deny');
    assert.equal(r.verdict, 'none');
    assert.deepEqual(
      r.context.map((c) => [c.endpoint, c.reading, c.outcome]),
      [['169.254.169.254', 'cidr', 'dropped']],
    );
    const t = explain('/fetch?url=http://169.254.169.254/latest/meta-data/');
    assert.deepEqual(
      t.context.map((c) => [c.reading, c.outcome]),
      [['target', 'kept']],
    );
    assert.deepEqual(explain('/index.html').context, []);
  });
});

describe('a second round of hand-written requests (test/fixtures/explain/context-*.txt)', () => {
  const lines = (f: string) =>
    readFileSync(join(import.meta.dirname, '..', '..', 'test', 'fixtures', 'explain', f), 'utf8')
      .split('\n')
      .filter(Boolean);
  test('every attack is metadata', () => {
    assert.deepEqual(
      lines('context-attacks.txt').filter((t) => verdictOf(classify(t)) !== 'metadata'),
      [],
    );
  });
  test('benign requests are not (a `value` whose pair names a list, `name=NO_PROXY&value=…`, is an entry of it)', () => {
    assert.deepEqual(
      lines('context-benign.txt').filter((t) => verdictOf(classify(t)) === 'metadata'),
      [],
    );
  });
});
