import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { rng } from './rng.ts';

/**
 * A deterministic mixed log for `redact`: combined access-log lines and application log lines, some with benign
 * look-alikes (csrf tokens, session ids, words like "token" and "secret") that force the slow path, and about one
 * line in `secretEvery` leaking fake metadata credentials in one of several encodings.
 */
const B32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

export interface GenResult {
  lines: number;
  secretLines: number;
  bytes: number;
}

export async function generateMixedLog(path: string, targetBytes: number, secretEvery = 2000): Promise<GenResult> {
  const r = rng(42);
  const pick = (a: string, n: number) => {
    let s = '';
    for (let i = 0; i < n; i++) s += a[Math.floor(r() * a.length)];
    return s;
  };
  const pool = Array.from({ length: 64 }, () => ({
    id: `ASIAFAKE${pick(B32, 12)}`,
    secret: `Fake${pick(B64, 36)}`,
    token: `IQoJb3JpZ2luX2VjE${pick(B64, 600)}`,
  }));
  // Clients repeat, as in real traffic: 20,000 addresses, some IPv6.
  const clients = Array.from({ length: 20_000 }, (_, i) =>
    i % 10 === 0
      ? `2a02:1810:${pick('0123456789abcdef', 4)}::${pick('0123456789abcdef', 3)}`
      : `${10 + Math.floor(r() * 200)}.${Math.floor(r() * 256)}.${Math.floor(r() * 256)}.${Math.floor(r() * 256)}`,
  );
  const ws = createWriteStream(path, { highWaterMark: 1 << 20 });
  let bytes = 0;
  let lines = 0;
  let secretLines = 0;
  let buf = '';
  const t0 = Date.UTC(2026, 10, 23, 0, 0, 0);
  while (bytes < targetBytes) {
    const ip = clients[Math.floor(r() * clients.length)]!;
    const ts = new Date(t0 + lines * 7).toISOString();
    let line: string;
    const k = r();
    if (lines % secretEvery === secretEvery - 1) {
      const c = pool[Math.floor(r() * pool.length)]!;
      const doc = {
        Code: 'Success',
        Type: 'AWS-HMAC',
        AccessKeyId: c.id,
        SecretAccessKey: c.secret,
        Token: c.token,
        Expiration: ts,
      };
      const enc = Math.floor(r() * 3);
      line =
        enc === 0
          ? `${ts} DEBUG creds ${JSON.stringify(doc)}`
          : enc === 1
            ? `${ip} - - [23/Nov/2026:00:00:00 +0000] "GET /cb?d=${encodeURIComponent(JSON.stringify(doc))} HTTP/1.1" 200 12 "-" "python-requests/2.31.0"`
            : `${ts} INFO ${JSON.stringify({ msg: 'upstream', body: JSON.stringify(doc) })}`;
      secretLines++;
    } else if (k < 0.55) {
      line = `${ip} - - [23/Nov/2026:00:00:00 +0000] "GET /api/v1/items?page=${Math.floor(r() * 100)}&sort=price HTTP/1.1" 200 ${Math.floor(r() * 90000)} "https://shop.example/search?q=shoes" "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"`;
    } else if (k < 0.75) {
      line = `${ts} INFO  request_id=${pick('0123456789abcdef', 32)} user=${Math.floor(r() * 1e6)} GET /account/orders 200 ${Math.floor(r() * 400)}ms`;
    } else if (k < 0.9) {
      line = `${ip} - - [23/Nov/2026:00:00:00 +0000] "POST /login?csrf_token=${pick(B64, 43)} HTTP/1.1" 302 0 "-" "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5)"`;
    } else {
      line = `${ts} DEBUG {"event":"session","session_token":"${pick(B64, 120)}","secret_ref":"vault:kv/app#${pick('abcdef', 8)}"}`;
    }
    buf += `${line}\n`;
    lines++;
    if (buf.length >= 1 << 20) {
      bytes += buf.length;
      if (!ws.write(buf)) await once(ws, 'drain');
      buf = '';
    }
  }
  bytes += buf.length;
  ws.end(buf);
  await once(ws, 'finish');
  return { lines, secretLines, bytes };
}
