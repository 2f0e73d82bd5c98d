import { once } from 'node:events';
import { createWriteStream, readFileSync } from 'node:fs';
import { rng } from './rng.ts';

/**
 * Access logs whose values do not repeat, as real traffic: unique ids and timestamps, 10- and 13-digit numbers,
 * percent-encoded search terms, URL-valued parameters on about one line in ten, referers on most lines, varying user
 * agent versions. One request model, written as combined, JSON lines (nginx `escape=json`), ALB and CloudFront; and
 * the real public log in ../shared/corpora/real-logs expanded with every digit run and client address randomised.
 * About one line in 200,000 is an attack, so that recall is checked on the way.
 */

export type UniqueLogKind = 'combined' | 'json' | 'alb' | 'cloudfront' | 'real';

const WORDS =
  'red shoes running jacket winter sale size kids blue leather café größe naïve über summer linen wool boots hat gift'.split(
    ' ',
  );
const HOST_WORDS = 'shop cdn img api static www blog news mail auth m app edge files media'.split(' ');
const TLDS = ['com', 'net', 'org', 'io', 'de', 'co.uk', 'fr'];
const SEARCH_HOSTS = [
  'https://www.google.com/',
  'https://www.bing.com/',
  'https://duckduckgo.com/',
  'android-app://com.google.android.gm/',
];
const ATTACKS = [
  '/api/preview?url=http://169.254.169.254/latest/meta-data/iam/security-credentials/',
  '/fetch?u=http%3A%2F%2F0xA9FEA9FE%2Flatest%2Fmeta-data%2F',
  '/img?src=http://metadata.google.internal/computeMetadata/v1/instance/service-accounts/default/token',
  '/proxy?target=http%3A%2F%2F2852039166%2Flatest%2Fapi%2Ftoken',
  '/go?next=http://10.0.3.7:8080/admin',
  '/hook?callback=http%3A%2F%2F0x7f000001%3A2375%2Fcontainers%2Fjson',
  '/p?url=http://[::ffff:a9fe:a9fe]/latest/user-data',
  '/r?u=http://169.254.169.254.nip.io/latest/meta-data/',
];
const MON = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const HEX = '0123456789abcdef';
const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

interface Request {
  ip: string;
  port: number;
  t: number;
  method: string;
  path: string;
  query: string;
  host: string;
  status: number;
  size: number;
  referer: string;
  ua: string;
  id: string;
  ms: number;
}

class Model {
  private readonly r: () => number;
  private t = Date.UTC(2026, 10, 21, 0, 0, 0);
  attacks = 0;
  private readonly attackEvery: number;
  constructor(seed: number, attackEvery = 200_000) {
    this.r = rng(seed);
    this.attackEvery = attackEvery;
  }
  int(n: number): number {
    return Math.floor(this.r() * n);
  }
  digits(n: number): string {
    let s = String(1 + this.int(9));
    for (let i = 1; i < n; i++) s += String(this.int(10));
    return s;
  }
  chars(alphabet: string, n: number): string {
    let s = '';
    for (let i = 0; i < n; i++) s += alphabet[this.int(alphabet.length)];
    return s;
  }
  pick<T>(a: readonly T[]): T {
    return a[this.int(a.length)]!;
  }
  uuid(): string {
    const h = (n: number) => this.chars(HEX, n);
    return `${h(8)}-${h(4)}-4${h(3)}-${h(4)}-${h(12)}`;
  }
  domain(): string {
    return `${this.pick(HOST_WORDS)}${this.r() < 0.5 ? this.int(100) : ''}.${this.pick(['example', 'shopfront', 'acme-retail', 'northwind', 'contoso'])}.${this.pick(TLDS)}`;
  }
  words(): string {
    const n = 1 + this.int(3);
    const w: string[] = [];
    for (let i = 0; i < n; i++) w.push(encodeURIComponent(this.pick(WORDS)));
    if (this.r() < 0.2) w.push(`%22${this.digits(4)}%22`);
    return w.join(this.r() < 0.5 ? '+' : '%20');
  }
  seconds(): string {
    return String(Math.floor(this.t / 1000));
  }
  url(): string {
    return `https://${this.domain()}/${this.pick(['p', 'cart', 'account/orders', 'c', 'checkout/step'])}/${this.digits(8)}?id=${this.digits(10)}`;
  }
  /** Path and query of one request (query without `?`, maybe empty). */
  target(): [string, string] {
    const x = this.r();
    if (x < 0.1) {
      // URL-valued parameters: plain or percent-encoded.
      const u = this.url();
      const k = this.int(4);
      if (k === 0) return ['/redirect', `url=${encodeURIComponent(u)}&sig=${this.chars(HEX, 16)}`];
      if (k === 1) return ['/login', `next=${u}`];
      if (k === 2)
        return [
          '/oauth2/callback',
          `code=${this.chars(B64, 32)}&state=${this.chars(B64, 16)}&redirect_uri=${encodeURIComponent(`https://${this.domain()}/cb`)}`,
        ];
      return ['/share', `u=${encodeURIComponent(u)}&title=${this.words()}`];
    }
    if (x < 0.3)
      return [`/products/${this.digits(10)}`, `ref=${this.pick(['mail', 'home', 'ad'])}&ts=${this.seconds()}`];
    if (x < 0.45) return [`/api/v2/orders/${this.uuid()}/items`, `page=${this.int(40)}&_=${this.t}`];
    if (x < 0.55) return ['/search', `q=${this.words()}&page=${1 + this.int(9)}&sid=${this.chars(HEX, 32)}`];
    if (x < 0.7) return [`/static/js/app.${this.chars(HEX, 8)}.js`, ''];
    if (x < 0.8) return [`/img/${this.uuid()}.jpg`, `w=${this.pick([320, 640, 1280])}&h=${this.int(2000)}`];
    if (x < 0.9) return ['/track', `uid=${this.digits(10)}&t=${this.t}&e=${this.pick(['click', 'view', 'scroll'])}`];
    return [`/blog/${2020 + this.int(7)}/${1 + this.int(12)}/${this.pick(WORDS)}-${this.digits(5)}`, ''];
  }
  referer(): string {
    const x = this.r();
    if (x < 0.2) return '-';
    if (x < 0.35) return `${this.pick(SEARCH_HOSTS)}search?q=${this.words()}`;
    return `https://${this.domain()}/${this.pick(['products', 'c', 'blog', 'search'])}/${this.digits(7)}?utm_source=${this.pick(['mail', 'ad', 'social'])}&gclid=${this.chars(B64, 20)}`;
  }
  ua(): string {
    const k = this.int(5);
    if (k === 0)
      return `Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/${120 + this.int(12)}.0.${this.digits(4)}.${this.int(200)} Safari/537.36`;
    if (k === 1)
      return `Mozilla/5.0 (Macintosh; Intel Mac OS X 14_${this.int(7)}) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.${this.int(6)} Safari/605.1.15`;
    if (k === 2)
      return `Mozilla/5.0 (iPhone; CPU iPhone OS 17_${this.int(6)} like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E${this.digits(3)}`;
    if (k === 3) return `okhttp/4.${this.int(12)}.${this.int(10)}`;
    return `Mozilla/5.0 (Linux; Android ${10 + this.int(5)}; SM-G${this.digits(3)}B) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/${120 + this.int(12)}.0.${this.digits(4)}.${this.int(200)} Mobile Safari/537.36`;
  }
  ipv4(): string {
    return `${1 + this.int(223)}.${this.int(256)}.${this.int(256)}.${this.int(256)}`;
  }
  /** Whether the last request was an attack. */
  attack = false;
  next(): Request {
    this.t += this.int(20);
    this.attack = false;
    let [path, query] = this.target();
    let status = this.r() < 0.9 ? 200 : this.pick([301, 304, 404, 500]);
    if (this.r() < 1 / this.attackEvery) {
      const a = this.pick(ATTACKS);
      const q = a.indexOf('?');
      path = a.slice(0, q);
      query = a.slice(q + 1);
      status = 200;
      this.attacks++;
      this.attack = true;
    }
    return {
      ip: this.ipv4(),
      port: 1024 + this.int(60000),
      t: this.t,
      method: this.r() < 0.85 ? 'GET' : 'POST',
      path,
      query,
      host: this.r() < 0.7 ? 'shop.example.com' : this.domain(),
      status,
      size: status === 304 ? 0 : 100 + this.int(200_000),
      referer: this.referer(),
      ua: this.ua(),
      id: this.chars(HEX, 32),
      ms: this.int(3000),
    };
  }
}

const pad = (n: number, w = 2) => String(n).padStart(w, '0');
function clf(t: number): string {
  const d = new Date(t);
  return `${pad(d.getUTCDate())}/${MON[d.getUTCMonth()]}/${d.getUTCFullYear()}:${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} +0000`;
}
const target = (q: Request) => (q.query ? `${q.path}?${q.query}` : q.path);

function combinedLine(q: Request): string {
  return `${q.ip} - - [${clf(q.t)}] "${q.method} ${target(q)} HTTP/1.1" ${q.status} ${q.size} "${q.referer}" "${q.ua}"\n`;
}

function jsonLine(q: Request): string {
  const j = (s: string) => JSON.stringify(s);
  return `{"time_local":"${clf(q.t)}","remote_addr":"${q.ip}","remote_user":"","request":${j(`${q.method} ${target(q)} HTTP/1.1`)},"status":"${q.status}","body_bytes_sent":"${q.size}","request_time":"${(q.ms / 1000).toFixed(3)}","http_referrer":${j(q.referer)},"http_user_agent":${j(q.ua)},"request_id":"${q.id}"}\n`;
}

function albLine(q: Request, m: Model): string {
  const iso = new Date(q.t).toISOString().replace('Z', `${pad(m.int(1000), 3)}Z`);
  const tg = `arn:aws:elasticloadbalancing:us-east-1:${m.digits(12)}:targetgroup/web/${m.chars(HEX, 16)}`;
  const trace = `Root=1-${Math.floor(q.t / 1000).toString(16)}-${m.chars(HEX, 24)}`;
  const tgt = `10.0.${m.int(256)}.${m.int(256)}:8080`;
  return `https ${iso} app/web-lb/${m.chars(HEX, 16)} ${q.ip}:${q.port} ${tgt} 0.000 0.${pad(m.int(1000), 3)} 0.000 ${q.status} ${q.status} ${m.int(2000)} ${q.size} "${q.method} https://${q.host}:443${target(q)} HTTP/1.1" "${q.ua}" ECDHE-RSA-AES128-GCM-SHA256 TLSv1.2 ${tg} "${trace}" "${q.host}" "arn:aws:acm:us-east-1:${m.digits(12)}:certificate/${m.uuid()}" 0 ${iso} "forward" "-" "-" "${tgt}" "${q.status}" "-" "-" TID_${m.chars(HEX, 32)}\n`;
}

/** CloudFront percent-encodes spaces and `%` itself (a client's `%2F` is logged `%252F`). */
const cfEncode = (s: string) => s.replace(/%/g, '%25').replace(/ /g, '%20');

function cloudfrontLine(q: Request, m: Model): string {
  const iso = new Date(q.t).toISOString();
  return `${[
    iso.slice(0, 10),
    iso.slice(11, 19),
    `${m.pick(['IAD', 'FRA', 'LHR', 'NRT', 'SFO'])}${50 + m.int(40)}-C${1 + m.int(3)}`,
    q.size,
    q.ip,
    q.method,
    'd111111abcdef8.cloudfront.net',
    q.path,
    q.status,
    cfEncode(q.referer),
    cfEncode(q.ua),
    q.query ? cfEncode(q.query) : '-',
    '-',
    m.pick(['Hit', 'Miss', 'RefreshHit']),
    `${m.chars(B64, 40)}==`,
    q.host,
    'https',
    m.int(2000),
    (q.ms / 1000).toFixed(3),
    '-',
    'TLSv1.3',
    'TLS_AES_128_GCM_SHA256',
    'Hit',
    'HTTP/2.0',
    '-',
    '-',
    q.port,
    (q.ms / 2000).toFixed(3),
    'Hit',
    'text/html',
    q.size,
    '-',
    '-',
  ].join('\t')}\n`;
}

const COMBINED_RE = /^(\S+) (\S+) (\S+) \[([^\]]+)\] "([^"]*)" (\d{3}) (\S+) "([^"]*)" "([^"]*)"/;

/** The real log's lines, cut into fields once. */
function realLines(path: string): string[][] {
  const out: string[][] = [];
  for (const l of readFileSync(path, 'utf8').split('\n')) {
    const m = COMBINED_RE.exec(l);
    if (m) out.push(m.slice(1));
  }
  return out;
}

export async function generateUniqueLog(
  kind: UniqueLogKind,
  path: string,
  bytes: number,
  opts: { seed?: number; realLog?: string; attackEvery?: number } = {},
): Promise<{ lines: number; attacks: number }> {
  const m = new Model(opts.seed ?? 7, opts.attackEvery);
  const ws = createWriteStream(path, { highWaterMark: 1 << 20 });
  let written = 0;
  let lines = 0;
  let batch = '';
  if (kind === 'cloudfront')
    batch += `#Version: 1.0\n#Fields: ${'date time x-edge-location sc-bytes c-ip cs-method cs(Host) cs-uri-stem sc-status cs(Referer) cs(User-Agent) cs-uri-query cs(Cookie) x-edge-result-type x-edge-request-id x-host-header cs-protocol cs-bytes time-taken x-forwarded-for ssl-protocol ssl-cipher x-edge-response-result-type cs-protocol-version fle-status fle-encrypted-fields c-port time-to-first-byte x-edge-detailed-result-type sc-content-type sc-content-len sc-range-start sc-range-end'}\n`;
  const real = kind === 'real' ? realLines(opts.realLog!) : [];
  const digits = (s: string) => s.replace(/\d+/g, (d) => m.digits(d.length));
  while (written < bytes) {
    let line: string;
    if (kind === 'real') {
      const f = m.pick(real);
      const q = m.next();
      let request = digits(f[4]!);
      if (m.attack) request = `GET ${target(q)} HTTP/1.1`;
      else request = request.replace(/HTTP\/\d\.\d$/, 'HTTP/1.1');
      line = `${q.ip} ${f[1]} ${f[2]} [${clf(q.t)}] "${request}" ${f[5]} ${digits(f[6]!)} "${digits(f[7]!)}" "${digits(f[8]!)}"\n`;
    } else {
      const q = m.next();
      line =
        kind === 'combined'
          ? combinedLine(q)
          : kind === 'json'
            ? jsonLine(q)
            : kind === 'alb'
              ? albLine(q, m)
              : cloudfrontLine(q, m);
    }
    batch += line;
    written += Buffer.byteLength(line);
    lines++;
    if (batch.length > 1 << 20) {
      if (!ws.write(batch)) await once(ws, 'drain');
      batch = '';
    }
  }
  ws.write(batch);
  ws.end();
  await once(ws, 'finish');
  return { lines, attacks: m.attacks };
}
