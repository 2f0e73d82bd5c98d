/**
 * The agent's own cost on the real kernel: CPU and RSS of the agent (node) plus bpftrace at idle, under about
 * 1,000 metadata requests per second, and under an unthrottled flood (the events per second the pipeline
 * sustains). Load comes from wrk inside a network namespace this bench creates, against the fake metadata
 * service inside it; everything is removed afterwards. Needs root, bpftrace and wrk.
 *   npm run bench -- --only agent [--seconds N] [--idle-seconds N]
 */
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createNetns,
  deleteNetns,
  missingPrerequisite,
  REPO,
  runIn,
  startAgent,
  startFakeInNetns,
  stopChild,
  uniqueName,
} from '../test/agent/netns.ts';

const secondsArg = process.argv.indexOf('--seconds');
const SECONDS = secondsArg >= 0 ? Number(process.argv[secondsArg + 1]) : 10;
// Idle cost is small: it needs a longer window than the load phases to be read off 1/100 s CPU ticks.
const idleArg = process.argv.indexOf('--idle-seconds');
const IDLE_SECONDS = idleArg >= 0 ? Number(process.argv[idleArg + 1]) : SECONDS;
const HZ = 100; // USER_HZ: /proc/<pid>/stat counts CPU time in 1/100 s on Linux.

function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(f[11]) + Number(f[12]); // utime + stime
}

function rssMiB(pid: number): number {
  const kb = Number(/^VmRSS:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
  return kb / 1024;
}

function metrics(port: number, path = '/metrics'): Promise<string> {
  return new Promise((resolve, reject) => {
    request({ host: '127.0.0.1', port, path }, (res) => {
      let b = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        b += c;
      });
      res.on('end', () => resolve(b));
    })
      .on('error', reject)
      .end();
  });
}

const metric = (text: string, name: string) =>
  Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text)?.[1] ?? 0);

interface Sample {
  phase: string;
  seconds: number;
  drain_s: number;
  wrk_rps: number | null;
  events: number;
  sustained_events_per_s: number;
  dropped: number;
  bpftrace_lost: number;
  agent_cpu_pct: number;
  bpftrace_cpu_pct: number;
  agent_rss_mib: number;
  bpftrace_rss_mib: number;
}

async function measure(
  phase: string,
  agentPid: number,
  btPid: number,
  port: number,
  load: () => string | null,
): Promise<Sample> {
  const m0 = await metrics(port);
  const h0 = JSON.parse(await metrics(port, '/healthz')) as { lost: number };
  const a0 = cpuTicks(agentPid);
  const b0 = cpuTicks(btPid);
  const t0 = performance.now();
  const out = load();
  const loadSecs = (performance.now() - t0) / 1000;
  // Wait for the pipeline to drain (bpftrace's ring, the reorder window, the queue): the counter stops moving.
  let last = -1;
  for (let i = 0; i < 30; i++) {
    await new Promise((r) => setTimeout(r, 500));
    const n = metric(await metrics(port), 'imdsguard_events_total');
    if (n === last) break;
    last = n;
  }
  const secs = (performance.now() - t0) / 1000;
  const a1 = cpuTicks(agentPid);
  const b1 = cpuTicks(btPid);
  const m1 = await metrics(port);
  const h1 = JSON.parse(await metrics(port, '/healthz')) as { lost: number };
  const rps = out ? Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? Number.NaN) : null;
  return {
    phase,
    seconds: Number(loadSecs.toFixed(1)),
    drain_s: Number((secs - loadSecs).toFixed(1)),
    wrk_rps: rps === null ? null : Math.round(rps),
    events: metric(m1, 'imdsguard_events_total') - metric(m0, 'imdsguard_events_total'),
    // Everything recorded, over the load and the drain: the rate the pipeline actually sustained.
    sustained_events_per_s: Math.round(
      (metric(m1, 'imdsguard_events_total') - metric(m0, 'imdsguard_events_total')) / secs,
    ),
    dropped: metric(m1, 'imdsguard_events_dropped_total') - metric(m0, 'imdsguard_events_dropped_total'),
    bpftrace_lost: h1.lost - h0.lost,
    agent_cpu_pct: Number((((a1 - a0) / HZ / secs) * 100).toFixed(1)),
    bpftrace_cpu_pct: Number((((b1 - b0) / HZ / secs) * 100).toFixed(1)),
    agent_rss_mib: Number(rssMiB(agentPid).toFixed(1)),
    bpftrace_rss_mib: Number(rssMiB(btPid).toFixed(1)),
  };
}

const why = missingPrerequisite(['bpftrace', 'wrk']);
if (why) {
  console.error(`agent bench skipped: ${why}`);
  process.exit(0);
}

const dir = await mkdtemp(join(tmpdir(), 'imdsguard-agent-bench-'));
const ns = createNetns(uniqueName('igab'));
let fake: Awaited<ReturnType<typeof startFakeInNetns>> | undefined;
let agent: ReturnType<typeof startAgent> | undefined;
try {
  fake = await startFakeInNetns(ns.name);
  agent = startAgent(
    [
      '--sensor',
      'bpftrace',
      '--events',
      '--format',
      'jsonl',
      '-o',
      join(dir, 'out.jsonl'),
      '--state',
      join(dir, 'state'),
      '--warmup',
      '0',
      '--metrics-port',
      '0',
    ],
    {
      // The built CLI when there is one, so that tsx's compiler is not counted in the agent's memory and CPU.
      built: existsSync(join(REPO, 'dist/cli/main.js')),
    },
  );
  const builtNote = existsSync(join(REPO, 'dist/cli/main.js')) ? 'dist/cli/main.js' : 'src via tsx';
  await agent.ready;
  const port = Number(JSON.parse(agent.logs.find((l) => l.includes('metrics and health')) ?? '{}').port);
  const btPid = Number(JSON.parse(agent.logs.find((l) => l.includes('bpftrace probes attached')) ?? '{}').pid);
  const agentPid = agent.child.pid as number;
  const url = 'http://169.254.169.254/latest/meta-data/iam/security-credentials/';
  // wrk (not wrk2) has no rate flag: a per-request delay on 4 connections paces it near 1,000 requests/s.
  const paced = join(dir, 'paced.lua');
  writeFileSync(paced, 'function delay()\n  return 3\nend\n');
  const samples: Sample[] = [];
  // Let the start settle (the listing of connections already open runs right after attaching).
  await new Promise((r) => setTimeout(r, 5000));
  samples.push(
    await measure('idle', agentPid, btPid, port, () => {
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, IDLE_SECONDS * 1000);
      return null;
    }),
  );
  samples.push(
    await measure('~1000 req/s (wrk, paced)', agentPid, btPid, port, () =>
      runIn(ns.name, `exec wrk -t2 -c4 -d${SECONDS}s -s ${paced} ${url}`),
    ),
  );
  samples.push(
    await measure('flood (wrk -t2 -c16)', agentPid, btPid, port, () =>
      runIn(ns.name, `exec wrk -t2 -c16 -d${SECONDS}s ${url}`),
    ),
  );
  console.table(samples);
  process.stdout.write(
    `${JSON.stringify({ bench: 'agent', cli: builtNote, kernel: readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim(), samples })}\n`,
  );
} finally {
  // Everything this bench made goes, whatever failed.
  await stopChild(agent?.child, 'SIGTERM', 20_000);
  await stopChild(fake, 'SIGKILL');
  deleteNetns(ns.name);
  rmSync(dir, { recursive: true, force: true });
}
