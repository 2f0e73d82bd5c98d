/**
 * What the metadata proxy costs, in one run, against the fake metadata service on loopback and against a bare
 * node:http relay (bench/proxy-relay.ts: same agent and streaming, no checks, attribution, policy or records):
 *  - latency (p50/p99/p99.9) at a fixed rate (default 1,000 requests/s), over keep-alive connections and with a
 *    fresh connection per request (`Connection: close`, how curl and most SDKs behave: a fresh attribution each
 *    time), each measured directly, through the relay and through the proxy; "added" is proxy minus direct;
 *  - the fresh-connection rate sustained, and how many of the proxy's records were attributed;
 *  - CPU per request of the server process under test (the fake when direct; the relay; the proxy plus its
 *    sock_diag helper), from /proc/<pid>/stat around each run.
 * Attribution is included: the policy allows only the load generator's executable and refuses unknown callers, so an
 * unattributed request is a non-2xx and is counted. wrk (a C load generator) paces its connections with a Lua delay
 * (it has no fixed-rate mode): N connections each waiting N·1000/(1.1·RATE) ms between requests reach a little over
 * RATE; the rate reached is reported. Saturation throughput is not a target of the proxy and is not measured.
 *
 *   npm run bench -- --only proxy [--duration 8] [--rate 1000] [--connections 10] [--fresh-connections 20] [--json]
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    duration: { type: 'string', default: '8' },
    rate: { type: 'string', default: '1000' },
    connections: { type: 'string', default: '10' },
    'fresh-connections': { type: 'string', default: '20' },
    json: { type: 'boolean', default: false },
    only: { type: 'string' },
  },
  strict: false,
});
const DURATION = Number(values.duration);
const RATE = Number(values.rate);
const CONNECTIONS = Number(values.connections);
const FRESH_CONNECTIONS = Number(values['fresh-connections']);
for (const [k, v] of Object.entries({ DURATION, RATE, CONNECTIONS, FRESH_CONNECTIONS }))
  if (!(v > 0)) throw new Error(`${k.toLowerCase()} must be a positive number`);
const PATH = '/latest/meta-data/instance-id';
const TICK_US = 1e6 / Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim() || 100);

if (spawnSync('sh', ['-c', 'command -v wrk']).status !== 0) {
  process.stderr.write('proxy bench: wrk is not installed (apt-get install wrk); nothing measured\n');
  process.exit(0);
}

const POLICY = `
defaults:
  imdsv2_only: false
  unknown_caller: deny
  other_namespaces: deny
rules:
  - name: the load generator
    match: { exe: "**/wrk" }
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

/** utime + stime of a process and its children (the proxy's sock_diag helper), in clock ticks. */
function cpuTicks(pid: number): number {
  const ticks = (p: string) => {
    try {
      const s = readFileSync(`/proc/${p}/stat`, 'latin1');
      const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
      return { ppid: Number(f[1]), cpu: Number(f[11]) + Number(f[12]) };
    } catch {
      return undefined;
    }
  };
  let total = ticks(String(pid))?.cpu ?? 0;
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p) || Number(p) === pid) continue;
    const t = ticks(p);
    if (t?.ppid === pid) total += t.cpu;
  }
  return total;
}

interface Run {
  p50: number;
  p99: number;
  p999: number;
  requests: number;
  non2xx: number;
  rps: number;
  /** CPU of the server under test per request, µs. */
  cpuUsPerRequest: number;
}

const dir = mkdtempSync(join(tmpdir(), 'imdsguard-proxy-bench-'));
const lua = (fresh: boolean, connections: number) => {
  const file = join(dir, `${fresh ? 'fresh' : 'keep-alive'}-${connections}.lua`);
  writeFileSync(
    file,
    `${fresh ? 'wrk.headers["Connection"] = "close"\n' : ''}delay = function() return ${(connections * 1000) / (1.1 * RATE)} end
local non2xx = 0
response = function(status, headers, body) if status < 200 or status > 299 then non2xx = non2xx + 1 end end
done = function(summary, latency, requests)
  io.write(string.format("PCT %d %d %d %d %d\\n", latency:percentile(50), latency:percentile(99), latency:percentile(99.9), summary.requests, non2xx))
end
`,
  );
  return file;
};

function wrk(url: string, fresh: boolean, serverPid: number): Run {
  const connections = fresh ? FRESH_CONNECTIONS : CONNECTIONS;
  const before = cpuTicks(serverPid);
  const r = spawnSync('wrk', ['-t1', `-c${connections}`, `-d${DURATION}s`, '-s', lua(fresh, connections), url], {
    encoding: 'utf8',
  });
  const cpu = cpuTicks(serverPid) - before;
  if (r.status !== 0) throw new Error(`wrk failed: ${r.stderr || r.error?.message}`);
  const m = /PCT (\d+) (\d+) (\d+) (\d+) (\d+)/.exec(r.stdout);
  if (!m) throw new Error(`wrk printed no percentiles: ${r.stdout}`);
  const [p50, p99, p999, requests, non2xx] = m.slice(1).map(Number) as [number, number, number, number, number];
  return {
    p50: p50 / 1000,
    p99: p99 / 1000,
    p999: p999 / 1000,
    requests,
    non2xx,
    rps: requests / DURATION,
    cpuUsPerRequest: (cpu * TICK_US) / Math.max(1, requests),
  };
}

const policyFile = join(dir, 'policy.yaml');
writeFileSync(policyFile, POLICY);
const records = join(dir, 'records.jsonl');
const fake = startChild(['test/fake-imds/serve.ts', '--listen', '127.0.0.1:0'], 'stdout', (l) => {
  const m = /"listening":"127\.0\.0\.1:(\d+)"/.exec(l);
  return m ? Number(m[1]) : undefined;
});
const fakePort = await fake.port;
const relay = startChild(['bench/proxy-relay.ts', String(fakePort)], 'stdout', (l) => {
  const m = /"listening":(\d+)/.exec(l);
  return m ? Number(m[1]) : undefined;
});
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
const targets = {
  direct: { url: `http://127.0.0.1:${fakePort}${PATH}`, pid: fake.child.pid! },
  relay: { url: `http://127.0.0.1:${await relay.port}${PATH}`, pid: relay.child.pid! },
  proxy: { url: `http://127.0.0.1:${await proxy.port}${PATH}`, pid: proxy.child.pid! },
};

try {
  // Warm every path (JIT, pools, attribution caches) before measuring.
  for (const t of Object.values(targets)) {
    spawnSync('wrk', ['-t1', '-c10', '-d2s', t.url]);
    spawnSync('wrk', ['-t1', '-c10', '-d2s', '-H', 'Connection: close', t.url]);
  }
  const results: Record<string, Record<keyof typeof targets, Run>> = {};
  for (const fresh of [false, true]) {
    const mode = fresh ? 'fresh connection' : 'keep-alive';
    const runs = {} as Record<keyof typeof targets, Run>;
    for (const [name, t] of Object.entries(targets) as Array<[keyof typeof targets, (typeof targets)['direct']]>)
      runs[name] = wrk(t.url, fresh, t.pid);
    results[mode] = runs;
  }
  // Every proxied request left a record: count how many were attributed.
  let known = 0;
  let unknown = 0;
  const unknownWhy = new Map<string, number>();
  for (const l of readFileSync(records, 'utf8').split('\n')) {
    if (!l.startsWith('{"type":"event"')) continue;
    const ev = JSON.parse(l) as { process: { identity: string; reason?: string }; status: number };
    if (ev.process.identity === 'known') known++;
    else {
      unknown++;
      const why = `${ev.process.reason ?? '?'} (status ${ev.status})`;
      unknownWhy.set(why, (unknownWhy.get(why) ?? 0) + 1);
    }
  }
  const summary = {
    bench: 'proxy',
    rate: RATE,
    connections: CONNECTIONS,
    fresh_connections: FRESH_CONNECTIONS,
    duration_s: DURATION,
    runs: results,
    added_p99_ms: Object.fromEntries(Object.entries(results).map(([m, r]) => [m, r.proxy.p99 - r.direct.p99])),
    attribution: { known, unknown, unknown_reasons: Object.fromEntries(unknownWhy) },
  };
  if (values.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
  const f = (n: number) => n.toFixed(3);
  process.stderr.write(
    `proxy bench: wrk paced at ${RATE} req/s (+10%) for ${DURATION}s per run; ${CONNECTIONS} keep-alive / ${FRESH_CONNECTIONS} fresh-connection clients\n`,
  );
  for (const [mode, r] of Object.entries(results)) {
    for (const name of ['direct', 'relay', 'proxy'] as const) {
      const x = r[name];
      process.stderr.write(
        `  ${mode.padEnd(16)} ${name.padEnd(6)} ${x.rps.toFixed(0).padStart(5)} req/s  p50/p99/p99.9 ${f(x.p50)}/${f(x.p99)}/${f(x.p999)} ms  ` +
          `CPU ${x.cpuUsPerRequest.toFixed(0).padStart(4)} µs/request  non-2xx ${x.non2xx}\n`,
      );
    }
    process.stderr.write(
      `  ${mode.padEnd(16)} added p50/p99 by the proxy: ${f(r.proxy.p50 - r.direct.p50)}/${f(r.proxy.p99 - r.direct.p99)} ms ` +
        `(by the bare relay: ${f(r.relay.p50 - r.direct.p50)}/${f(r.relay.p99 - r.direct.p99)} ms)\n`,
    );
  }
  process.stderr.write(`  records: ${known} attributed, ${unknown} unknown\n`);
  for (const [why, n] of unknownWhy) process.stderr.write(`    unknown: ${n} × ${why}\n`);
} finally {
  proxy.child.kill('SIGTERM');
  relay.child.kill('SIGTERM');
  fake.child.kill('SIGTERM');
  rmSync(dir, { recursive: true, force: true });
}
