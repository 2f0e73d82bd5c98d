import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { rng } from './rng.ts';

/**
 * A deterministic, realistic combined access log: varied benign traffic (pages, assets, APIs with query strings,
 * order ids, search terms, referers, user agents) and a rare attack (about one line in 200,000).
 */
const PATHS = [
  '/',
  '/index.html',
  '/static/app.js',
  '/static/app.css',
  '/img/logo.png',
  '/favicon.ico',
  '/api/v1/items',
  '/api/v1/cart',
  '/checkout',
  '/login',
  '/account/orders',
  '/search',
  '/products/',
  '/blog/2026/11/how-to-pick-shoes',
  '/healthz',
];
const UAS = [
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36',
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15',
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148',
  'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)',
  'kube-probe/1.30',
  'python-requests/2.32.3',
];
const REFS = [
  '-',
  'https://shop.example.com/',
  'https://www.google.com/',
  'https://shop.example.com/search?q=red+shoes',
  '-',
];
const WORDS = ['red', 'shoes', 'running', 'jacket', 'winter', 'sale', 'size', 'kids', 'blue', 'leather'];
const ATTACKS = [
  '/api/preview?url=http://169.254.169.254/latest/meta-data/iam/security-credentials/',
  '/fetch?u=http%3A%2F%2F0xA9FEA9FE%2Flatest%2Fmeta-data%2F',
  '/img?src=http://metadata.google.internal/computeMetadata/v1/instance/service-accounts/default/token',
];
const MON = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

function pick<T>(r: () => number, a: readonly T[]): T {
  return a[Math.floor(r() * a.length)]!;
}

export async function generateCombinedLog(
  path: string,
  bytes: number,
  seed = 42,
): Promise<{ lines: number; attacks: number }> {
  const r = rng(seed);
  const ws = createWriteStream(path, { highWaterMark: 1 << 20 });
  let written = 0;
  let lines = 0;
  let attacks = 0;
  let t = Date.UTC(2026, 10, 21, 0, 0, 0);
  let batch = '';
  while (written < bytes) {
    t += Math.floor(r() * 50);
    const d = new Date(t);
    const ts = `${String(d.getUTCDate()).padStart(2, '0')}/${MON[d.getUTCMonth()]}/${d.getUTCFullYear()}:${String(d.getUTCHours()).padStart(2, '0')}:${String(d.getUTCMinutes()).padStart(2, '0')}:${String(d.getUTCSeconds()).padStart(2, '0')} +0000`;
    const ip = `${Math.floor(r() * 223) + 1}.${Math.floor(r() * 256)}.${Math.floor(r() * 256)}.${Math.floor(r() * 256)}`;
    let path = pick(r, PATHS);
    const x = r();
    if (path === '/search') path += `?q=${pick(r, WORDS)}+${pick(r, WORDS)}&page=${Math.floor(r() * 9) + 1}`;
    else if (path === '/products/') path += `${Math.floor(r() * 4294967295)}?ref=${pick(r, ['mail', 'home', 'ad'])}`;
    else if (path.startsWith('/api/')) path += `?page=${Math.floor(r() * 50)}&sort=price&limit=20`;
    let status = x < 0.9 ? 200 : x < 0.95 ? 304 : x < 0.98 ? 404 : 500;
    if (r() < 1 / 200_000) {
      path = pick(r, ATTACKS);
      status = 200;
      attacks++;
    }
    const size = status === 304 ? 0 : Math.floor(r() * 50_000) + 100;
    const line = `${ip} - - [${ts}] "${r() < 0.85 ? 'GET' : 'POST'} ${path} HTTP/1.1" ${status} ${size} "${pick(r, REFS)}" "${pick(r, UAS)}"\n`;
    batch += line;
    written += line.length;
    lines++;
    if (batch.length > 1 << 20) {
      if (!ws.write(batch)) await once(ws, 'drain');
      batch = '';
    }
  }
  ws.write(batch);
  ws.end();
  await once(ws, 'finish');
  return { lines, attacks };
}
