/**
 * The in-process guard's cost per request: the same requests to a loopback server with and without the guard,
 * in alternating rounds (medians), for node:http opening a new connection by name each time (the connect hook,
 * the DNS-answer check, the request-line check and the TCP-handle check all run), for node:http on a kept-alive
 * socket (the hand-off and request-line checks run) and for fetch (the wrapper runs; undici keeps the
 * connection). Also the cost of a refusal, against the one metadata endpoint that lives on loopback (Azure Arc,
 * 127.0.0.1:40342), so that nothing can leave this host whatever happens.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { installGuard } from '../src/guard/index.ts';

const server = http.createServer((_req, res) => res.end('ok'));
await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
const port = (server.address() as AddressInfo).port;
const noKeepAlive = new http.Agent({ keepAlive: false });
// One pooled socket: every request after the first is handed a kept-alive socket (the guard's hand-off check).
const keepAlive = new http.Agent({ keepAlive: true, maxSockets: 1 });

function httpGet(url: string, agent: http.Agent = noKeepAlive): Promise<void> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { agent }, (res) => {
        res.resume();
        res.on('end', resolve);
      })
      .on('error', reject);
  });
}

/**
 * CPU time of this process (client and server both live here) per request, in µs: unlike wall time it does not
 * grow when other processes load the machine, which is the usual state of a shared CI runner.
 */
async function timeIt(n: number, one: () => Promise<unknown>): Promise<number> {
  const c0 = process.cpuUsage();
  for (let i = 0; i < n; i++) await one();
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / n;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/**
 * Paired rounds: each round times a block without the guard and a block with it, back to back, so that load from
 * other processes hits both alike; the figure is the median of the per-round differences.
 */
async function ab(name: string, n: number, one: () => Promise<unknown>): Promise<void> {
  await timeIt(n, one); // warm-up
  const without: number[] = [];
  const withGuard: number[] = [];
  const diffs: number[] = [];
  for (let round = 0; round < 40; round++) {
    const first = round % 2 === 0;
    const g0 = first ? undefined : installGuard({ report: 'none' });
    const x = await timeIt(n, one);
    g0?.uninstall();
    const g1 = first ? installGuard({ report: 'none' }) : undefined;
    const y = await timeIt(n, one);
    g1?.uninstall();
    const [a, b] = first ? [x, y] : [y, x];
    without.push(a);
    withGuard.push(b);
    diffs.push(b - a);
  }
  console.log(
    `guard: ${name}: ${median(without).toFixed(1)} µs CPU/request without, ${median(withGuard).toFixed(1)} with, overhead ${median(diffs).toFixed(1)} µs (median of 40 paired rounds of ${n})`,
  );
}

await ab('node:http, new connection by name', 200, () => httpGet(`http://localhost:${port}/x?y=1`));
await ab('node:http, kept-alive connection', 200, () => httpGet(`http://127.0.0.1:${port}/x?y=1`, keepAlive));
await ab('fetch, kept-alive connection', 200, async () => {
  const r = await fetch(`http://127.0.0.1:${port}/x?y=1`);
  await r.text();
});

// A refusal: the guard answers before any socket work. Block mode and no allowlist whatever the environment says,
// so that nothing here can ever reach a real service on that port (Azure Arc's is 40342).
const g = installGuard({ report: 'none', mode: 'block', allowDefaults: false });
const n = 500;
const c0 = process.cpuUsage();
let refused = 0;
for (let i = 0; i < n; i++) {
  await httpGet('http://127.0.0.1:40342/metadata/identity/oauth2/token').catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ERR_IMDSGUARD_BLOCKED') refused++;
  });
}
const cpu = process.cpuUsage(c0);
const per = (cpu.user + cpu.system) / n;
g.uninstall();
if (refused !== n) throw new Error(`only ${refused}/${n} refused`);
console.log(`guard: refusal (finding built, error raised): ${per.toFixed(1)} µs CPU/request`);
keepAlive.destroy();
server.close();
