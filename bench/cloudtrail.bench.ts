// Throughput and peak memory of `imdsguard cloudtrail` on one generated ~1 GiB `{"Records":[…]}` document (a single
// JSON value: it must be streamed), and of `imdsguard posture` on a ~1 GiB describe-instances document.
// Usage: npm run bench -- --only cloudtrail [--mib N]   (default 1024)
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateInstances, generateTrail } from './cloudtrail-gen.ts';

const args = process.argv.slice(2);
const mibArg = args.indexOf('--mib');
const mib = mibArg >= 0 ? Number(args[mibArg + 1]) : 1024;
const root = join(import.meta.dirname, '..');
const dir = mkdtempSync(join(tmpdir(), 'imdsguard-bench-ct-'));
const built = join(root, 'dist', 'cli', 'main.js');
const entry = existsSync(built) ? [built] : ['--import', 'tsx', join(root, 'src', 'cli', 'main.ts')];

function run(
  verb: string,
  argv: string[],
  nodeFlags: string[] = [],
): { secs: number; rssMiB: number; findings: number; stderr: string } {
  const rssFile = join(dir, `rss-${verb}`);
  const hook = join(dir, `rss-${verb}.mjs`);
  writeFileSync(
    hook,
    `import { writeFileSync } from 'node:fs';\nprocess.on('exit', () => writeFileSync(${JSON.stringify(rssFile)}, String(process.resourceUsage().maxRSS)));\n`,
  );
  const out = join(dir, `${verb}.jsonl`);
  const t0 = performance.now();
  const r = spawnSync(
    process.execPath,
    [...nodeFlags, '--import', hook, ...entry, verb, '--format', 'jsonl', '-o', out, '--stats', ...argv],
    { encoding: 'utf8' },
  );
  const secs = (performance.now() - t0) / 1000;
  if (r.status !== 0 && r.status !== 1) throw new Error(`${verb} failed (${r.status}): ${r.stderr}`);
  const findings = readFileSync(out, 'utf8').split('\n').filter(Boolean).length;
  return { secs, rssMiB: Number(readFileSync(rssFile, 'utf8')) / 1024, findings, stderr: r.stderr.trim() };
}

async function trailRun(sizeMiB: number, inv: string, capMiB?: number): Promise<void> {
  const trail = join(dir, `trail-${sizeMiB}.json`);
  const t = performance.now();
  const g = await generateTrail(trail, sizeMiB * (1 << 20));
  console.log(
    `generated trail ${(g.bytes / (1 << 20)).toFixed(0)} MiB, ${g.records} records, ${g.stolen} stolen-key uses in ${((performance.now() - t) / 1000).toFixed(1)} s`,
  );
  const ct = run('cloudtrail', ['--inventory', inv, trail]);
  console.log(
    ct.stderr
      .split('\n')
      .filter((l) => l.includes('records/s'))
      .join('\n'),
  );
  console.log(
    `cloudtrail ${sizeMiB} MiB: ${(g.records / ct.secs).toFixed(0)} records/s, ${(g.bytes / (1 << 20) / ct.secs).toFixed(0)} MiB/s wall (process start included), peak RSS ${ct.rssMiB.toFixed(0)} MiB, ${ct.findings} findings`,
  );
  if (capMiB) {
    // Proof of flat memory: the same input with the V8 old space capped far below the input size.
    const capped = run('cloudtrail', ['--inventory', inv, trail], [`--max-old-space-size=${capMiB}`]);
    console.log(
      `cloudtrail ${sizeMiB} MiB with --max-old-space-size=${capMiB}: completed in ${capped.secs.toFixed(1)} s, peak RSS ${capped.rssMiB.toFixed(0)} MiB, ${capped.findings} findings; ${capped.stderr}`,
    );
  }
  rmSync(trail);
}

async function postureRun(sizeMiB: number): Promise<void> {
  const big = join(dir, `fleet-${sizeMiB}.json`);
  const t = performance.now();
  const p = await generateInstances(big, 0, sizeMiB * (1 << 20));
  console.log(
    `generated describe-instances ${(p.bytes / (1 << 20)).toFixed(0)} MiB, ${p.instances} instances in ${((performance.now() - t) / 1000).toFixed(1)} s`,
  );
  const ps = run('posture', ['--readiness', join(dir, 'ready.txt'), big]);
  console.log(
    ps.stderr
      .split('\n')
      .filter((l) => l.includes('records/s'))
      .join('\n'),
  );
  console.log(
    `posture ${sizeMiB} MiB: ${(p.instances / ps.secs).toFixed(0)} instances/s, peak RSS ${ps.rssMiB.toFixed(0)} MiB, ${ps.findings} findings`,
  );
  rmSync(big);
}

try {
  const inv = join(dir, 'instances.json');
  await generateInstances(inv, 2000);
  // The same workload at an eighth of the size first: flat memory means the same peak RSS for both.
  await trailRun(Math.max(1, Math.round(mib / 8)), inv);
  await trailRun(mib, inv, 64);
  await postureRun(Math.max(1, Math.round(mib / 8)));
  await postureRun(mib);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
