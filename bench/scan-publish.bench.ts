// What --publish costs `imdsguard scan`: the same scan of the same file with and without publishing every finding
// through the outbox to a local nats-server (JetStream, file storage, loopback), in alternating runs; the figure is
// the ratio of the two throughputs (the peer is scan itself without --publish). The target: publishing slows scan by
// at most 10%, ratio ≥ 0.90. Two densities: the realistic one (one attack in 200,000 lines) and a dense one (one in
// 100) where every 100th line becomes a finding to publish. Each publishing run uses a host id of its own, so every
// message is new to the stream (no duplicates dropped cheaply), and waits for every PubAck before it exits. On a
// shared machine wall time is noisy: the CPU time of the scan process (user + system) is reported beside it, and the
// server's own CPU time per run with --publish.
// Usage: npm run bench -- --only scan-publish [--mib N] [--runs N]
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createFindingsStream, NatsServer, natsUnavailable } from '../test/fleet/nats-server.ts';
import { bundleCli, median, spread, usageHook } from './cli-bundle.ts';
import { generateUniqueLog } from './scan-gen-unique.ts';

const args = process.argv.slice(2);
const arg = (name: string, dflt: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1]! : dflt;
};
const mib = Number(arg('--mib', '60'));
const runs = Math.max(1, Number(arg('--runs', '5')));

const unavailable = natsUnavailable();
if (unavailable) {
  console.error(`scan-publish bench: ${unavailable}`);
  process.exit(0);
}

const dir = mkdtempSync(join(tmpdir(), 'imdsguard-bench-pub-'));
const cli = await bundleCli('scan-publish-');
const bundle = cli.bundle;
const server = await NatsServer.create();
try {
  await createFindingsStream(server.url);
  const out = join(dir, 'findings.jsonl');
  const usage = usageHook(dir);
  const serverCpu = () => {
    const stat = readFileSync(`/proc/${server.pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / 100;
  };
  const rows: Array<Record<string, string | number>> = [];
  for (const [label, attackEvery] of [
    ['realistic combined (1 attack in 200,000 lines)', 200_000],
    ['dense combined (1 attack in 100 lines)', 100],
  ] as const) {
    const log = join(dir, 'combined.log');
    const gen = await generateUniqueLog('combined', log, mib * (1 << 20), { attackEvery });
    const sizeMiB = statSync(log).size / (1 << 20);
    const plain: number[] = [];
    const published: number[] = [];
    const ratios: number[] = [];
    const cpuRatios: number[] = [];
    const serverSeconds: number[] = [];
    let findings = 0;
    let summary = '';
    for (let k = 0; k < runs; k++) {
      const scan = (extra: string[]) => {
        const t0 = performance.now();
        const r = spawnSync(
          process.execPath,
          [
            '--import',
            usage.hook,
            bundle,
            'scan',
            '--log-format',
            'combined',
            '--format',
            'jsonl',
            '-o',
            out,
            ...extra,
            log,
          ],
          { encoding: 'utf8', maxBuffer: 1 << 26 },
        );
        const s = (performance.now() - t0) / 1000;
        if (r.status !== 0 && r.status !== 1) throw new Error(`scan failed (${r.status}): ${r.stderr}`);
        return { s, cpu: usage.read().cpuSeconds, stderr: r.stderr };
      };
      const a = scan([]);
      findings = readFileSync(out, 'utf8').split('\n').filter(Boolean).length;
      const s0 = serverCpu();
      const b = scan([
        '--publish',
        server.url,
        '--host-id',
        `bench-${attackEvery}-${k}`,
        '--outbox',
        join(dir, `outbox-${attackEvery}-${k}.sqlite`),
        '--publish-required',
      ]);
      serverSeconds.push(serverCpu() - s0);
      summary = /published .*/.exec(b.stderr)?.[0] ?? '';
      if (!summary.includes('outbox empty')) throw new Error(`not every finding was acknowledged: ${b.stderr}`);
      plain.push(sizeMiB / a.s);
      published.push(sizeMiB / b.s);
      ratios.push(a.s / b.s);
      cpuRatios.push(a.cpu / b.cpu);
    }
    const row = {
      log: label,
      MiB: Math.round(sizeMiB),
      lines: gen.lines,
      findings,
      'scan MiB/s': spread(plain, 1),
      'scan --publish MiB/s': spread(published, 1),
      'publish/plain (wall)': spread(ratios, 3),
      'publish/plain (scan CPU)': spread(cpuRatios, 3),
      'nats-server CPU s': spread(serverSeconds, 2),
      'within 10% (wall)': median(ratios) >= 0.9 ? 'yes' : 'NO',
    };
    rows.push(row);
    console.error(summary);
    console.log(JSON.stringify({ bench: 'scan-publish', runs, ...row }));
    rmSync(log, { force: true });
  }
  const cols = Object.keys(rows[0] ?? {});
  console.log(`\n| ${cols.join(' | ')} |\n|${cols.map(() => '---').join('|')}|`);
  for (const r of rows) console.log(`| ${cols.map((c) => r[c]).join(' | ')} |`);
} finally {
  await server.dispose();
  rmSync(dir, { recursive: true, force: true });
  rmSync(cli.dir, { recursive: true, force: true });
}
