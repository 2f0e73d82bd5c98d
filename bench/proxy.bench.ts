/**
 * What the metadata proxy costs, against the fake metadata service on loopback, in one run:
 *  - added latency (p50/p99/p99.9) at a fixed rate (default 1,000 requests/s), over keep-alive connections and
 *    with a fresh connection per request (how curl and most SDKs behave), measured with wrk paced by a Lua delay
 *    (and, over keep-alive, with autocannon too);
 *  - sustained throughput at saturation as a ratio to calling the fake directly, measured with wrk.
 * Attribution is included: the policy allows only the load generators' executables and refuses unknown callers,
 * so a request that was not attributed would be a non-2xx and is counted.
 *
 * Saturation is measured in rounds, each a direct run then a proxied one, and the median of the rounds' ratios is the
 * figure: on a small shared VM one run of either can be off by a tenth, which a single pair would carry whole.
 *
 *   npm run bench -- --only proxy [--duration 8] [--rate 1000] [--connections 10] [--fresh-connections 50]
 *                                 [--rounds 3] [--json]
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';

const { values } = parseArgs({
  options: {
    duration: { type: 'string', default: '8' },
    rate: { type: 'string', default: '1000' },
    connections: { type: 'string', default: '10' },
    'fresh-connections': { type: 'string', default: '50' },
    rounds: { type: 'string', default: '3' },
    json: { type: 'boolean', default: false },
    only: { type: 'string' },
  },
  strict: false,
});
const DURATION = Number(values.duration);
const RATE = Number(values.rate);
const CONNECTIONS = Number(values.connections);
// With a new connection per request, each autocannon client waits for its connect: more of them keep the rate.
const FRESH_CONNECTIONS = Number(values['fresh-connections']);
const ROUNDS = Number(values.rounds);
if (!Number.isInteger(ROUNDS) || ROUNDS < 1)
  throw new Error(`--rounds must be a whole number ≥ 1, not ${values.rounds}`);
const PATH = '/latest/meta-data/instance-id';

const POLICY = `
defaults:
  imdsv2_only: false
  unknown_caller: deny
  other_namespaces: deny
rules:
  - name: load generators
    match: { exe: ["**/node", "**/wrk"] }
    action: allow
  - name: everything else is refused
    match: {}
    action: deny
`;

function startChild(argv: string[], stream: 'stdout' | 'stderr', pick: (line: string) => number | undefined) {
  const child = spawn(process.execPath, ['--import', 'tsx', ...argv], { stdio: ['ignore', 'pipe', 'pipe'] });
  const port = new Promise<number>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`${argv.join(' ')} did not start`)), 60_000);
    createInterface({ input: child[stream] }).on('line', (l) => {
      const p = pick(l);
      if (p !== undefined) {
        clearTimeout(t);
        resolve(p);
      }
    });
    child.once('exit', (c) => reject(new Error(`${argv.join(' ')} exited ${c}`)));
  });
  (stream === 'stdout' ? child.stderr : child.stdout).resume();
  return { child, port };
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

interface LatencyRun {
  p50: number;
  p99: number;
  p999: number;
  requests: number;
  non2xx: number;
  errors: number;
}

/** Fixed-rate run; latencies collected per response (autocannon's own histogram is 1 ms coarse). */
async function latencyRun(url: string, fresh: boolean): Promise<LatencyRun> {
  const times: number[] = [];
  let inst: autocannon.Instance | undefined;
  const r = await new Promise<autocannon.Result>((resolve, reject) => {
    inst = autocannon(
      {
        url,
        connections: fresh ? FRESH_CONNECTIONS : CONNECTIONS,
        overallRate: RATE,
        duration: DURATION,
        // Connection: close makes the server end each connection after its response and autocannon dial again
        // (its reconnectRate option drops the response it resets on, so it cannot measure this).
        ...(fresh ? { headers: { connection: 'close' } } : {}),
      },
      (err, result) => (err ? reject(err) : resolve(result)),
    );
    inst.on('response', (_client, status, _bytes, ms) => {
      if (status >= 200 && status < 300) times.push(ms);
    });
  });
  void inst;
  times.sort((a, b) => a - b);
  return {
    p50: percentile(times, 50),
    p99: percentile(times, 99),
    p999: percentile(times, 99.9),
    requests: r.requests.total,
    non2xx: r.non2xx,
    errors: r.errors + r.timeouts,
  };
}

interface SaturationRound {
  direct: number;
  proxy: number;
  ratio: number;
  proxyNon2xx: number;
}
interface Saturation extends SaturationRound {
  /** Each round's direct/proxied pair; the top-level figures are those of the round with the median ratio. */
  rounds: SaturationRound[];
}

function summarizeRounds(rounds: SaturationRound[]): Saturation {
  const byRatio = [...rounds].sort((a, b) => a.ratio - b.ratio);
  const median = byRatio[Math.floor((byRatio.length - 1) / 2)]!;
  return {
    ...median,
    proxyNon2xx: rounds.reduce((n, r) => n + r.proxyNon2xx, 0),
    rounds,
  };
}

/** Saturation with wrk (a C load generator, so it is not the bottleneck it would be in-process). */
function wrkRun(url: string, fresh: boolean): { rps: number; non2xx: number } {
  const args = ['-t1', '-c32', `-d${DURATION}s`, ...(fresh ? ['-H', 'Connection: close'] : []), url];
  const r = spawnSync('wrk', args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`wrk failed: ${r.stderr || r.error?.message}`);
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(r.stdout)?.[1]);
  const non2xx = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(r.stdout)?.[1] ?? 0);
  return { rps, non2xx };
}

/**
 * Latency from wrk with one connection, as fast as it goes. With `Connection: close` every request dials anew, the
 * way curl and most SDKs ask (autocannon stalls when the server closes each connection, so it cannot measure that).
 * Percentiles come from wrk's own histogram through its Lua `done` hook, in microseconds.
 */
function wrkLatency(url: string, luaFile: string, connections = 1): LatencyRun & { rps: number } {
  const r = spawnSync('wrk', ['-t1', `-c${connections}`, `-d${DURATION}s`, '-s', luaFile, url], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`wrk failed: ${r.stderr || r.error?.message}`);
  const m = /PCT (\d+) (\d+) (\d+) (\d+) (\d+)/.exec(r.stdout);
  if (!m) throw new Error(`wrk printed no percentiles: ${r.stdout}`);
  const [p50, p99, p999, requests, non2xx] = m.slice(1).map(Number) as [number, number, number, number, number];
  return { p50: p50 / 1000, p99: p99 / 1000, p999: p999 / 1000, requests, non2xx, errors: 0, rps: requests / DURATION };
}

const hasWrk = spawnSync('sh', ['-c', 'command -v wrk']).status === 0;
const dir = mkdtempSync(join(tmpdir(), 'imdsguard-proxy-bench-'));
const policyFile = join(dir, 'policy.yaml');
writeFileSync(policyFile, POLICY);
const records = join(dir, 'records.jsonl');
const freshLua = join(dir, 'fresh.lua');
const keepAliveLua = join(dir, 'keep-alive.lua');
const luaBody = `local non2xx = 0
response = function(status, headers, body) if status < 200 or status > 299 then non2xx = non2xx + 1 end end
done = function(summary, latency, requests)
  io.write(string.format("PCT %d %d %d %d %d\\n", latency:percentile(50), latency:percentile(99), latency:percentile(99.9), summary.requests, non2xx))
end
`;
writeFileSync(freshLua, `wrk.headers["Connection"] = "close"\n${luaBody}`);
// Paced runs: N wrk connections, each waiting N*1000/RATE ms before its next request, come to a little under RATE
// requests/s (wrk has no fixed-rate mode; the rate reached is reported). wrk times each request in C, so these
// percentiles carry less noise than autocannon's, whose timer runs in this Node process.
const PACED_FRESH_CONNECTIONS = 5;
const pacedFreshLua = join(dir, 'fresh-paced.lua');
writeFileSync(
  pacedFreshLua,
  `wrk.headers["Connection"] = "close"\ndelay = function() return ${(PACED_FRESH_CONNECTIONS * 1000) / RATE} end\n${luaBody}`,
);
const pacedKeepAliveLua = join(dir, 'keep-alive-paced.lua');
writeFileSync(pacedKeepAliveLua, `delay = function() return ${(CONNECTIONS * 1000) / RATE} end\n${luaBody}`);
writeFileSync(keepAliveLua, luaBody);

const fake = startChild(['test/fake-imds/serve.ts', '--listen', '127.0.0.1:0'], 'stdout', (l) => {
  const m = /"listening":"127\.0\.0\.1:(\d+)"/.exec(l);
  return m ? Number(m[1]) : undefined;
});
const fakePort = await fake.port;
const proxy = startChild(
  [
    'src/cli/main.ts',
    'proxy',
    '--policy',
    policyFile,
    '--listen',
    '127.0.0.1:0',
    '--upstream',
    `http://127.0.0.1:${fakePort}`,
    '--format',
    'jsonl',
    '-o',
    records,
  ],
  'stderr',
  (l) => {
    const m = /"listeners":\[\{"host":"127\.0\.0\.1","port":(\d+)/.exec(l);
    return m ? Number(m[1]) : undefined;
  },
);
const proxyPort = await proxy.port;
const direct = `http://127.0.0.1:${fakePort}${PATH}`;
const proxied = `http://127.0.0.1:${proxyPort}${PATH}`;

try {
  // Warm both paths (JIT, pools, caches) before measuring.
  await autocannon({ url: direct, connections: CONNECTIONS, duration: 2 });
  await autocannon({ url: proxied, connections: CONNECTIONS, duration: 2 });

  const latency: Record<string, { direct: LatencyRun; proxy: LatencyRun }> = {};
  let freshRates: { direct: number; proxy: number } | undefined;
  latency[`keep-alive (autocannon, ${RATE} req/s)`] = {
    direct: await latencyRun(direct, false),
    proxy: await latencyRun(proxied, false),
  };
  if (hasWrk) {
    const kd = wrkLatency(direct, pacedKeepAliveLua, CONNECTIONS);
    const kp = wrkLatency(proxied, pacedKeepAliveLua, CONNECTIONS);
    latency[`keep-alive (wrk, paced: ${Math.round(kp.rps)} req/s)`] = { direct: kd, proxy: kp };
    const pd = wrkLatency(direct, pacedFreshLua, PACED_FRESH_CONNECTIONS);
    const pp = wrkLatency(proxied, pacedFreshLua, PACED_FRESH_CONNECTIONS);
    latency[`fresh-connection (wrk, paced: ${Math.round(pp.rps)} req/s)`] = { direct: pd, proxy: pp };
    const d = wrkLatency(direct, freshLua);
    const p = wrkLatency(proxied, freshLua);
    latency['fresh-connection (wrk -c1, as fast as it goes)'] = { direct: d, proxy: p };
    freshRates = { direct: d.rps, proxy: p.rps };
    const ud = wrkLatency(direct, keepAliveLua);
    const up = wrkLatency(proxied, keepAliveLua);
    latency['keep-alive (wrk -c1, as fast as it goes)'] = { direct: ud, proxy: up };
  } else {
    latency['fresh-connection'] = { direct: await latencyRun(direct, true), proxy: await latencyRun(proxied, true) };
  }
  const saturation: Record<string, Saturation> = {};
  if (hasWrk) {
    for (const mode of ['keep-alive', 'fresh-connection'] as const) {
      const fresh = mode === 'fresh-connection';
      const rounds: SaturationRound[] = [];
      for (let i = 0; i < ROUNDS; i++) {
        const d = wrkRun(direct, fresh);
        const p = wrkRun(proxied, fresh);
        rounds.push({ direct: d.rps, proxy: p.rps, ratio: p.rps / d.rps, proxyNon2xx: p.non2xx });
      }
      saturation[mode] = summarizeRounds(rounds);
    }
  }
  // Every proxied request left a record: count how many were attributed, and to which executables.
  let known = 0;
  let unknown = 0;
  const exes = new Set<string>();
  const unknownWhy = new Map<string, number>();
  for (const l of readFileSync(records, 'utf8').split('\n')) {
    if (!l.startsWith('{"type":"event"')) continue;
    const ev = JSON.parse(l) as { process: { identity: string; exe?: string; reason?: string }; status: number };
    if (ev.process.identity === 'known') known++;
    else {
      unknown++;
      const why = `${ev.process.reason ?? '?'} (status ${ev.status})`;
      unknownWhy.set(why, (unknownWhy.get(why) ?? 0) + 1);
    }
    if (ev.process.exe) exes.add(ev.process.exe);
  }
  const attributed = { known, unknown, unknown_reasons: Object.fromEntries(unknownWhy), exes: [...exes] };
  const summary = {
    bench: 'proxy',
    rate: RATE,
    connections: CONNECTIONS,
    fresh_connections: FRESH_CONNECTIONS,
    duration_s: DURATION,
    latency_ms: Object.fromEntries(
      Object.entries(latency).map(([mode, r]) => [
        mode,
        {
          direct: { p50: r.direct.p50, p99: r.direct.p99, p99_9: r.direct.p999 },
          proxy: { p50: r.proxy.p50, p99: r.proxy.p99, p99_9: r.proxy.p999 },
          added: {
            p50: r.proxy.p50 - r.direct.p50,
            p99: r.proxy.p99 - r.direct.p99,
            p99_9: r.proxy.p999 - r.direct.p999,
          },
          proxy_requests: r.proxy.requests,
          proxy_non2xx: r.proxy.non2xx,
          proxy_errors: r.proxy.errors,
        },
      ]),
    ),
    saturation_rps: hasWrk ? saturation : 'wrk not installed',
    fresh_connection_rps: freshRates,
    attribution: attributed,
  };
  if (values.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
  const f = (n: number) => n.toFixed(3);
  const pct = (r: number) => `${(r * 100).toFixed(1)}%`;
  process.stderr.write(
    `proxy bench: ${RATE} req/s for ${DURATION}s per run, ${CONNECTIONS} keep-alive / ${FRESH_CONNECTIONS} fresh-connection clients (autocannon); wrk paced: ${CONNECTIONS} keep-alive / ${PACED_FRESH_CONNECTIONS} fresh\n`,
  );
  for (const [mode, r] of Object.entries(latency)) {
    process.stderr.write(
      `  ${mode.padEnd(46)} direct p50/p99/p99.9 ${f(r.direct.p50)}/${f(r.direct.p99)}/${f(r.direct.p999)} ms   ` +
        `proxy ${f(r.proxy.p50)}/${f(r.proxy.p99)}/${f(r.proxy.p999)} ms   ` +
        `added ${f(r.proxy.p50 - r.direct.p50)}/${f(r.proxy.p99 - r.direct.p99)}/${f(r.proxy.p999 - r.direct.p999)} ms   ` +
        `(proxy non-2xx ${r.proxy.non2xx}, errors ${r.proxy.errors})\n`,
    );
  }
  if (freshRates) {
    process.stderr.write(
      `  fresh-connection rates reached: direct ${freshRates.direct.toFixed(0)} req/s, proxy ${freshRates.proxy.toFixed(0)} req/s\n`,
    );
  }
  for (const [mode, s] of Object.entries(saturation)) {
    process.stderr.write(
      `  saturation ${mode.padEnd(17)} median of ${s.rounds.length}: direct ${s.direct.toFixed(0)} req/s   proxy ${s.proxy.toFixed(0)} req/s   ratio ${pct(s.ratio)}  ` +
        `(rounds ${s.rounds.map((r) => pct(r.ratio)).join(' ')}; wrk -t1 -c32; proxy non-2xx ${s.proxyNon2xx})\n`,
    );
  }
  process.stderr.write(`  records: ${known} attributed, ${unknown} unknown; callers: ${[...exes].join(', ')}\n`);
  for (const [why, n] of unknownWhy) process.stderr.write(`    unknown: ${n} × ${why}\n`);
} finally {
  proxy.child.kill('SIGTERM');
  fake.child.kill('SIGTERM');
  rmSync(dir, { recursive: true, force: true });
}
