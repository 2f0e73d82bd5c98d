import { classify, verdictOf } from '../../src/core/classify.ts';

/**
 * Our own SSRF corpus: metadata targets of every provider, put through every obfuscation family the decoder
 * claims to undo, and placed where attackers put them in a request; plus hard benign requests that look like them.
 * Deterministic: the same cases every run.
 */

export interface CorpusCase {
  family: string;
  text: string;
  /** Expected strongest verdict: attacks are `metadata`; benign look-alikes must not be `metadata`. */
  expect: 'metadata' | 'not-metadata';
}

/** Metadata targets: [host, path] pairs across providers and path classes. */
export const TARGETS: Array<[string, string]> = [
  ['169.254.169.254', '/latest/meta-data/iam/security-credentials/'],
  ['169.254.169.254', '/latest/meta-data/iam/security-credentials/web-role'],
  ['169.254.169.254', '/latest/user-data'],
  ['169.254.169.254', '/latest/api/token'],
  ['169.254.169.254', '/latest/dynamic/instance-identity/document'],
  ['169.254.169.254', '/latest/meta-data/identity-credentials/ec2/security-credentials/ec2-instance'],
  ['169.254.169.254', '/2021-07-15/meta-data/'],
  ['169.254.169.254', '/computeMetadata/v1/instance/service-accounts/default/token'],
  ['169.254.169.254', '/computeMetadata/v1beta1/project/attributes/ssh-keys'],
  ['169.254.169.254', '/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https://management.azure.com/'],
  ['169.254.169.254', '/metadata/instance?api-version=2021-02-01'],
  ['169.254.169.254', '/opc/v2/instance/'],
  ['169.254.169.254', '/opc/v1/identity/cert.pem'],
  ['169.254.169.254', '/metadata/v1.json'],
  ['169.254.169.254', '/openstack/latest/meta_data.json'],
  ['169.254.169.254', '/hetzner/v1/metadata'],
  ['169.254.169.254', '/v1/instance'],
  ['169.254.169.254', '/instance_identity/v1/token'],
  ['169.254.169.254', '/'],
  ['169.254.170.2', '/v2/credentials/6f1b1c9a-1b0e-4f2b-9c1c-2f8f3f0f7d11'],
  ['169.254.170.2', '/v4/3f8b3d1a/task'],
  ['169.254.170.23', '/v1/credentials'],
  ['100.100.100.200', '/latest/meta-data/ram/security-credentials/'],
  ['192.0.0.192', '/latest/user-data/'],
  ['169.254.0.23', '/latest/meta-data/cam/security-credentials/'],
  ['169.254.42.42', '/conf?format=json'],
  ['168.63.129.16', '/machine?comp=goalstate'],
  ['metadata.google.internal', '/computeMetadata/v1/instance/service-accounts/default/token'],
  ['metadata', '/computeMetadata/v1/'],
  ['metadata.tencentyun.com', '/latest/meta-data/'],
  ['metadata.packet.net', '/userdata'],
  ['metadata.platformequinix.com', '/metadata'],
  ['instance-data', '/latest/meta-data/'],
  ['instance-data.ec2.internal', '/latest/meta-data/iam/info'],
  ['rancher-metadata', '/latest/self/container'],
  ['[fd00:ec2::254]', '/latest/meta-data/iam/security-credentials/'],
  ['[fd00:ec2::23]', '/v1/credentials'],
  ['[fd20:ce::254]', '/computeMetadata/v1/'],
  ['[fd00:c1::a9fe:a9fe]', '/opc/v2/instance/'],
  ['[fd00:42::42]', '/conf'],
];

/** 169.254.169.254 spelled every way an IPv4 parser accepts. */
export const IPV4_FORMS: Array<[string, string]> = [
  ['ipv4-decimal', '2852039166'],
  ['ipv4-hex', '0xa9fea9fe'],
  ['ipv4-hex', '0xA9.0xFE.0xA9.0xFE'],
  ['ipv4-octal', '0251.0376.0251.0376'],
  ['ipv4-octal', '025177524776'],
  ['ipv4-octal-padded', '0251.00376.000251.0000376'],
  ['ipv4-mixed', '0xa9.254.0251.0xfe'],
  ['ipv4-mixed', '0251.254.169.254'],
  ['ipv4-short', '169.254.43518'],
  ['ipv4-short', '169.16689662'],
  ['ipv4-short', '0xa9.0xfe.43518'],
  ['ipv4-overflow', '7147006462'],
  ['ipv4-overflow', '0x41414141a9fea9fe'],
  ['ipv4-overflow', '425.510.425.510'],
  ['ipv4-trailing-dot', '169.254.169.254.'],
  ['ipv4-octal-prefix', '0o251.0o376.0o251.0o376'],
  ['ipv4-octal-prefix', 'q251.254.169.254'],
];

export const IPV6_FORMS: Array<[string, string]> = [
  ['ipv6-mapped', '[::ffff:a9fe:a9fe]'],
  ['ipv6-mapped', '[::ffff:169.254.169.254]'],
  ['ipv6-mapped', '[0:0:0:0:0:ffff:a9fe:a9fe]'],
  ['ipv6-mapped', '[0000:0000:0000:0000:0000:ffff:169.254.169.254]'],
  ['ipv6-compatible', '[::169.254.169.254]'],
  ['ipv6-compatible', '[::a9fe:a9fe]'],
  ['ipv6-nat64', '[64:ff9b::a9fe:a9fe]'],
  ['ipv6-nat64', '[64:ff9b::169.254.169.254]'],
  ['ipv6-6to4', '[2002:a9fe:a9fe::]'],
  ['ipv6-siit', '[::ffff:0:a9fe:a9fe]'],
  ['ipv6-zone', '[::ffff:a9fe:a9fe%25eth0]'],
  ['ipv6-endpoint', '[fd00:ec2::254]'],
  ['ipv6-endpoint', '[FD00:0EC2:0000:0000:0000:0000:0000:0254]'],
  ['ipv6-endpoint', '[fd00:ec2:0::254]'],
];

export const HOST_FORMS: Array<[string, string]> = [
  ['host-case', 'METADATA.Google.Internal'],
  ['host-trailing-dot', 'metadata.google.internal.'],
  ['host-fullwidth', '１６９．２５４．１６９．２５４'],
  ['host-enclosed', '①⑥⑨.②⑤④.①⑥⑨.②⑤④'],
  ['host-ideographic-dot', '169。254。169。254'],
  ['host-halfwidth-dot', '169｡254｡169｡254'],
  ['host-enclosed-hex', '⓪ⓧⓐ⑨ⓕⓔⓐ⑨ⓕⓔ'],
  ['wildcard-dns', '169.254.169.254.nip.io'],
  ['wildcard-dns', '169-254-169-254.nip.io'],
  ['wildcard-dns', 'app-169-254-169-254.nip.io'],
  ['wildcard-dns', 'a9fea9fe.nip.io'],
  ['wildcard-dns', 'customer.169.254.169.254.sslip.io'],
  ['wildcard-dns', '169-254-169-254.sslip.io'],
  ['wildcard-dns', 'fd00-ec2--254.sslip.io'],
  ['wildcard-dns', '169.254.169.254.xip.io'],
  ['rebinding-dns', 'a9fea9fe.7f000001.rbndr.us'],
  ['rebinding-dns', '7f000001.a9fea9fe.rbndr.us'],
  ['rebinding-dns', 'make-169.254.169.254-rebind-127.0.0.1-rr.1u.ms'],
  ['rebinding-dns', 'make-169-254-169-254-rr.1u.ms'],
  ['rebinding-dns', 'make-1.2.3.4-rebind-169.254-169.254-rr.1u.ms'],
  ['attacker-dns', '169.254.169.254.attacker-wildcard.example'],
];

const enc = (s: string) => encodeURIComponent(s);
const encAll = (s: string) =>
  [...new TextEncoder().encode(s)].map((b) => `%${b.toString(16).padStart(2, '0').toUpperCase()}`).join('');
const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');
const b64url = (s: string) => b64(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');

/** Places a payload can sit in a request target. */
const PLACEMENTS: Array<(p: string) => string> = [
  (p) => `/fetch?url=${p}`,
  (p) => `/api/v2/preview?lang=en&target=${p}&w=640`,
  (p) => `/oauth/authorize?client_id=web&redirect_uri=${p}`,
  (p) => `/image/resize?src=${p}&h=200`,
  (p) => `/webhooks/test?callbackUrl=${p}`,
];

export function buildCorpus(): CorpusCase[] {
  const cases: CorpusCase[] = [];
  const add = (family: string, text: string, expect: CorpusCase['expect'] = 'metadata') =>
    cases.push({ family, text, expect });
  const place = (family: string, payload: string) => {
    for (const pl of PLACEMENTS) add(family, pl(payload));
  };

  for (const [host, path] of TARGETS) {
    const url = `http://${host}${path}`;
    place('plain', enc(url));
    add('plain', `/proxy/${url}`);
    add('absolute-form', `GET ${url} HTTP/1.1`);
    add('percent', `/fetch?url=${enc(url)}`);
    add('percent×2', `/fetch?url=${enc(enc(url))}`);
    add('percent×3', `/fetch?url=${enc(enc(enc(url)))}`);
    add('percent-all', `/fetch?url=${encAll(url)}`);
    add(
      'percent-unicode',
      `/fetch?url=${[...url].map((c) => `%u${c.charCodeAt(0).toString(16).padStart(4, '0')}`).join('')}`,
    );
    add('html-entity', `/render?html=<img src="${[...url].map((c) => `&#${c.charCodeAt(0)};`).join('')}">`);
    add(
      'html-entity',
      `/render?html=${url.replace(/\//g, '&#x2f;').replace(/:/g, '&colon;').replace(/\./g, '&period;')}`,
    );
    add(
      'backslash-escape',
      `/fetch?url=${[...url].map((c) => (/[a-z]/i.test(c) ? c : `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`)).join('')}`,
    );
    add('json-escape', `{"event":"fetch","payload":{"target":"${url.replace(/\//g, '\\/')}"}}`);
    add(
      'json-unicode-escape',
      `{"url":"${[...url].map((c) => (/[:/.]/.test(c) ? `\\u00${c.charCodeAt(0).toString(16)}` : c)).join('')}"}`,
    );
    add('xml', `<?xml version="1.0"?><request><feed>${url.replace(/&/g, '&amp;')}</feed></request>`);
    add('base64', `/share?u=${b64(url)}`);
    add('base64url', `/share?data=${b64url(url)}`);
    add('hex-slug', `/go/${url.replace(/:/g, '-3a').replace(/\//g, '-2f')}`);
    add('userinfo', `/fetch?url=http://trusted.example.com@${host}${path}`);
    add('userinfo', `/fetch?url=http://user:pass@${host}:80${path}`);
    add('userinfo-backslash', `/fetch?url=http://127.1.1.1:80\\@${host}:80${path}`);
    add('fragment-confusion', `/fetch?url=http://${host}${path}%23@trusted.example.com/`);
    add('backslash', `/fetch?url=http:\\\\${host}${path.replace(/\//g, '\\')}`);
    add('missing-slashes', `/fetch?url=http:${host}${path}`);
    add('one-slash', `/fetch?url=http:/${host}${path}`);
    add('protocol-relative', `/fetch?url=//${host}${path}`);
    add('scheme-less', `/fetch?url=${host}${path}`);
    add('scheme-case', `/fetch?url=HtTp://${host}${path}`);
    add('explicit-port', `/fetch?url=http://${host}:80${path}`);
    add('https', `/fetch?url=https://${host}${path}`);
    add('scheme-gopher', `/fetch?url=gopher://${host}:80/_GET%20${enc(path)}%20HTTP/1.1%0d%0aHost:%20${host}%0d%0a`);
    add('scheme-dict', `/fetch?url=dict://${host}:80/info`);
    add('scheme-ftp', `/fetch?url=ftp://${host}${path}`);
    add('scheme-other', `/fetch?url=netdoc://${host}${path}`);
    add('nested-redirect', `/out?next=${enc(`https://redirector.example/r?to=${enc(url)}`)}`);
    add('crlf-injection', `/fetch?url=http://${host}${path}%0d%0aX-Injected:%201`);
    add('dot-segments', `/fetch?url=http://${host}/static/../${path.replace(/^\//, '')}`);
    add('encoded-dot-segments', `/fetch?url=http://${host}/a/%2e%2e/${path.replace(/^\//, '')}`);
    add('whitespace', `/fetch?url=http://${host}%09${path}`);
  }
  const aws = '/latest/meta-data/iam/security-credentials/';
  for (const [fam, h] of [...IPV4_FORMS, ...IPV6_FORMS, ...HOST_FORMS]) {
    place(fam, `http://${h}${aws}`);
    add(fam, `/fetch?url=${enc(`http://${h}${aws}`)}`);
    add(fam, `/fetch?url=${h}${aws}`);
    add(fam, `/fetch?url=http://${h}/`);
  }
  // Numeric forms as the whole value of a URL parameter, no scheme: how apps that prepend http:// get exploited.
  for (const [fam, h] of IPV4_FORMS) add(`${fam}-bare-param`, `/fetch?url=${h}`);
  // ...and as the value of a parameter that names an address.
  for (const [fam, h] of IPV4_FORMS) add(`${fam}-address-param`, `/api/check?ip=${h}&port=80`);
  return cases;
}

/** Hard benign requests: each looks like an attack to a string list, none addresses a metadata service. */
export function buildBenign(): CorpusCase[] {
  const cases: CorpusCase[] = [];
  const add = (family: string, text: string) => cases.push({ family, text, expect: 'not-metadata' });
  const ids = ['2852039166', '2852039167', '7147006462', '3232235521', '025177524776', '0xa9fea9fe', '4294967295'];
  for (const id of ids) {
    add('numeric-id', `/orders/${id}/receipt`);
    add('numeric-id', `/api/orders?id=${id}&page=2`);
    add('numeric-id', `/track?ts=${id}&order=${id}`);
    add('numeric-id', `/search?q=${id}`);
    add('numeric-id', `/invoice?ref=${id}`);
    add('numeric-id', `/checkout?phone=${id}&amount=12.50`);
    add('numeric-id', `{"orderId":${id},"customer":"ab12"}`);
    add('numeric-id', `/api/items/${id}?fields=name,price`);
  }
  const hexes = ['a9fea9fe', '0xa9fe', 'deadbeefa9fea9fe', 'a9fe:a9fe'];
  for (const h of hexes) {
    add('hex', `/assets/app.${h}.js`);
    add('hex', `/commit/${h}`);
    add('hex', `/color?hex=${h}`);
  }
  for (const v of [
    '1.2.3.4',
    '10.0.19045.4291',
    '169.254.1.1',
    '2.254.169.254',
    '169.254.169.25',
    '169.254.169.2540',
  ]) {
    add('version-like', `/download?version=${v}`);
    add('version-like', `/api/releases/${v}/notes`);
  }
  const appPaths = [
    '/api/metadata/v1/items',
    '/docs/latest/meta-data/overview',
    '/latest/news',
    '/products?section=metadata/v1',
    '/metadata?type=instance',
    '/api/v1/credentials?user=alice',
    '/computeMetadata-guide.html',
    '/blog/instance-data-best-practices',
    '/catalog?category=metadata&sort=latest',
    '/settings/security-credentials',
    '/v1/instance/settings',
    '/opc/help',
    '/openstack/tutorial',
    '/hetzner-vs-aws',
  ];
  for (const p of appPaths) add('app-path', p);
  const legit = [
    'https://example.com/callback',
    'https://www.google.com/search?q=metadata',
    'https://metadata.example.org/v1/latest/meta-data',
    'https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/instancedata-data-retrieval.html',
    'https://cloud.google.com/compute/docs/metadata/overview',
    'https://learn.microsoft.com/azure/virtual-machines/instance-metadata-service',
    'https://api.github.com/repos/owner/repo',
    'https://s3.amazonaws.com/bucket/latest/meta-data.json',
    'https://cdn.example.net/images/169-254-169-254.png',
    'https://nip.io/',
    'https://sslip.io/',
    'https://metadata.google.com/',
    'https://instance-data.example.com/latest/',
    'http://192.0.2.10/health',
    'https://[2001:db8::1]/status',
  ];
  for (const u of legit) {
    add('legit-url', `/fetch?url=${encodeURIComponent(u)}`);
    add('legit-url', `/redirect?next=${u}`);
    add('legit-url', `/share?u=${Buffer.from(u).toString('base64')}`);
  }
  const encoded = [
    '/search?q=caf%C3%A9+au+lait',
    '/search?q=%E6%9D%B1%E4%BA%AC%E3%80%82%E5%A4%A7%E9%98%AA',
    '/path/%252e%252e/etc',
    '/files?name=report%2520final.pdf',
    '/wiki/%E2%91%A0%E2%91%A1%E2%91%A2',
    '/a?b=&#169;2024&amp;c=1',
    '/page?title=Tom%26Jerry',
    '/login?next=%2Faccount%2Fsettings',
    '/item?sku=%u0041%u0042',
    '/x?payload=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4ifQ.abc',
    '/x?session=dGhpcyBpcyBhIHRlc3Qgb2YgYmFzZTY0IGVuY29kaW5n',
    '/go/docs-3a-overview-2f-intro',
    '/a?b=\\x41\\x42\\x43',
    '/unicode?q=①②③.④⑤⑥',
    '/jp?q=東京。大阪。169',
    '/path?file=..%2f..%2fetc%2fpasswd',
  ];
  for (const e of encoded) add('encoded-benign', e);
  const prose = [
    '/search?q=how+to+block+169.254.169.254+in+iptables',
    '/search?q=what is 169.254.169.254',
    '/kb?article=imds+v2+metadata+google+internal',
    '/forum?topic=metadata service hop limit',
  ];
  for (const p of prose) add('prose', p);
  const internalish = [
    '/fetch?url=http://169.254.169.123/',
    '/fetch?url=http://169.254.1.1/latest/meta-data/',
    '/fetch?url=http://127.0.0.1:8080/latest/meta-data/',
    '/fetch?url=http://10.0.0.5/computeMetadata/v1/',
    '/fetch?url=http://localhost/metadata/identity/oauth2/token',
    '/fetch?url=http://0xA9.0xFE.0xA9/',
    '/fetch?url=http://169.254.169.254.5/',
    '/fetch?url=http://kubernetes.default.svc/api',
  ];
  for (const p of internalish) add('internal-target', p);
  return cases;
}

/** Compositions of encodings, as layered by real payloads and WAF-evasion tools. */
export function buildCompositions(): CorpusCase[] {
  const cases: CorpusCase[] = [];
  const url = 'http://169.254.169.254/latest/meta-data/iam/security-credentials/';
  const enc = encodeURIComponent;
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  const layers: Array<[string, (s: string) => string]> = [
    ['percent', enc],
    ['base64', b64],
    ['json', (s) => JSON.stringify({ url: s })],
    ['entity', (s) => [...s].map((c) => (/[:/.]/.test(c) ? `&#x${c.charCodeAt(0).toString(16)};` : c)).join('')],
    ['nginx-escape', (s) => s.replace(/"/g, '\\x22')],
  ];
  for (const [a, fa] of layers) {
    for (const [b, fb] of layers) {
      cases.push({ family: `compose:${a}+${b}`, text: `/fetch?url=${enc(fb(fa(url)))}`, expect: 'metadata' });
    }
  }
  const hosts = ['0xa9fea9fe', '[::ffff:a9fe:a9fe]', '①⑥⑨.②⑤④.①⑥⑨.②⑤④', 'a9fea9fe.nip.io', '0251.0376.0251.0376'];
  for (const h of hosts) {
    const u = `http://${h}/computeMetadata/v1/instance/service-accounts/default/token`;
    cases.push({ family: 'compose:host+percent×2', text: `/fetch?url=${enc(enc(u))}`, expect: 'metadata' });
    cases.push({ family: 'compose:host+base64', text: `/fetch?u=${b64(u)}`, expect: 'metadata' });
    cases.push({
      family: 'compose:host+userinfo',
      text: `/fetch?url=${enc(u.replace('//', '//google.com@'))}`,
      expect: 'metadata',
    });
    cases.push({
      family: 'compose:host+json-body',
      text: `{"webhook":{"endpoint":${JSON.stringify(u)}}}`,
      expect: 'metadata',
    });
  }
  return cases;
}

/** A deterministic generator of ordinary web traffic: the bulk of the false-alarm denominator. */
export function buildBenignTraffic(n = 3000, seed = 42): CorpusCase[] {
  let s = seed >>> 0;
  const rnd = () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
  const pick = <T>(a: readonly T[]): T => a[Math.floor(rnd() * a.length)]!;
  const num = (d: number) => String(Math.floor(rnd() * 10 ** d));
  const words = [
    'shoes',
    'latest',
    'metadata',
    'instance',
    'credentials',
    'token',
    'user',
    'data',
    'cloud',
    'api',
    'v1',
    'v2',
    'help',
    'news',
    'google',
    'azure',
    'oracle',
    'identity',
    'security',
  ];
  const domains = [
    'example.com',
    'cdn.example.net',
    'images.shop.example',
    'accounts.google.com',
    'login.microsoftonline.com',
    'github.com',
    's3.us-east-1.amazonaws.com',
    'metadata.example.org',
    'partner.example.co.uk',
  ];
  const out: CorpusCase[] = [];
  for (let i = 0; i < n; i++) {
    const kind = Math.floor(rnd() * 8);
    let t: string;
    switch (kind) {
      case 0:
        t = `/${pick(words)}/${pick(words)}/${num(6)}?page=${num(2)}&sort=${pick(words)}`;
        break;
      case 1:
        t = `/search?q=${encodeURIComponent(`${pick(words)} ${pick(words)} ${num(4)}`)}&ts=${num(10)}`;
        break;
      case 2:
        t = `/login?next=${encodeURIComponent(`https://${pick(domains)}/${pick(words)}?id=${num(8)}`)}`;
        break;
      case 3:
        t = `/img/resize?src=https://${pick(domains)}/${pick(words)}/${num(9)}.jpg&w=${num(3)}`;
        break;
      case 4:
        t = `/api/v${num(1)}/orders/${num(10)}/items?fields=${pick(words)},${pick(words)}`;
        break;
      case 5:
        t = `/track?event=${pick(words)}&uid=${num(10)}&session=${Buffer.from(`${pick(words)}-${num(12)}`).toString('base64')}`;
        break;
      case 6:
        t = `{"url":"https://${pick(domains)}/${pick(words)}","ip":"10.${num(2)}.${num(2)}.${num(2)}","version":"${num(1)}.${num(2)}.${num(3)}.${num(1)}"}`;
        break;
      default:
        t = `/static/${pick(words)}.${num(8)}.js?v=${num(1)}.${num(1)}.${num(1)}`;
    }
    out.push({ family: 'traffic', text: t, expect: 'not-metadata' });
  }
  return out;
}

export interface FamilyScore {
  family: string;
  total: number;
  correct: number;
  wrong: string[];
}

/** Score cases by family: for attacks, correct = metadata; for benign cases, correct = anything but metadata. */
export function scoreByFamily(cases: CorpusCase[]): FamilyScore[] {
  const m = new Map<string, FamilyScore>();
  for (const c of cases) {
    const v = verdictOf(classify(c.text));
    const ok = c.expect === 'metadata' ? v === 'metadata' : v !== 'metadata';
    const s = m.get(c.family) ?? { family: c.family, total: 0, correct: 0, wrong: [] };
    s.total++;
    if (ok) s.correct++;
    else s.wrong.push(c.text);
    m.set(c.family, s);
  }
  return [...m.values()];
}
