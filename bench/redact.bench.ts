// Throughput and memory of `imdsguard redact` on a generated mixed log (access and application lines, benign
// look-alikes, one leaking line in 2,000). Usage: npm run bench -- --only redact [--mib N]   (default 1024)
// Also runnable alone: npx tsx bench/redact.bench.ts --mib 256
import { spawnSync } from 'node:child_process';
import { copyFileSync, createReadStream, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateMixedLog } from './redact-gen.ts';

const args = process.argv.slice(2);
const mibArg = args.indexOf('--mib');
const mib = mibArg >= 0 ? Number(args[mibArg + 1]) : 1024;
const root = join(import.meta.dirname, '..');
const dir = mkdtempSync(join(tmpdir(), 'imdsguard-bench-redact-'));

async function countLines(p: string): Promise<number> {
  let n = 0;
  for await (const chunk of createReadStream(p, { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>) {
    for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) n++;
  }
  return n;
}

try {
  const log = join(dir, 'mixed.log');
  const g0 = performance.now();
  const gen = await generateMixedLog(log, mib * (1 << 20));
  const size = statSync(log).size;
  console.log(
    `generated ${(size / (1 << 20)).toFixed(0)} MiB, ${gen.lines} lines, ${gen.secretLines} leaking lines in ${((performance.now() - g0) / 1000).toFixed(1)} s`,
  );
  const rssFile = join(dir, 'rss');
  const rssHook = join(dir, 'rss-hook.mjs');
  // In the child: peak RSS and CPU time at exit, and RSS sampled every 250 ms, to show memory stays flat.
  writeFileSync(
    rssHook,
    `import { writeFileSync } from 'node:fs';
const samples = [];
setInterval(() => samples.push(process.memoryUsage.rss()), 250).unref();
process.on('exit', () => {
  const u = process.resourceUsage();
  writeFileSync(${JSON.stringify(rssFile)}, JSON.stringify({ maxRSS: u.maxRSS, cpu: u.userCPUTime + u.systemCPUTime, samples }));
});
`,
  );
  const entry = ['--import', rssHook, '--import', 'tsx', join(root, 'src', 'cli', 'main.ts')];
  const runs: Array<{ name: string; args: string[]; out?: string }> = [
    { name: 'redact file -> file', args: [log, '-o', join(dir, 'out.log')], out: join(dir, 'out.log') },
    {
      name: 'redact --pseudonymise-ips',
      args: [log, '--pseudonymise-ips', '-o', join(dir, 'out-ip.log')],
      out: join(dir, 'out-ip.log'),
    },
    { name: 'redact --in-place', args: ['--in-place', join(dir, 'inplace.log')], out: join(dir, 'inplace.log') },
  ];
  for (const r of runs) {
    // copyFileSync, not readFileSync: a 1 GiB buffer here would show up in the child's peak RSS (inherited over fork).
    if (r.name.includes('in-place')) copyFileSync(log, join(dir, 'inplace.log'));
    const t0 = performance.now();
    const p = spawnSync(process.execPath, [...entry, 'redact', ...r.args], { encoding: 'utf8', cwd: root });
    const secs = (performance.now() - t0) / 1000;
    if (p.status !== 0) throw new Error(`${r.name} failed (${p.status}): ${p.stderr}`);
    const usage = JSON.parse(readFileSync(rssFile, 'utf8')) as { maxRSS: number; cpu: number; samples: number[] };
    const rssMiB = usage.maxRSS / 1024;
    const cpuSecs = usage.cpu / 1e6;
    const at = (q: number) =>
      (usage.samples[Math.min(usage.samples.length - 1, Math.floor(q * usage.samples.length))] ?? 0) / (1 << 20);
    const flat = `RSS at 10/50/90/100% of the run ${[0.1, 0.5, 0.9, 1].map((q) => at(q).toFixed(0)).join('/')} MiB`;
    const lines = r.out ? await countLines(r.out) : gen.lines;
    if (lines !== gen.lines) throw new Error(`${r.name}: ${lines} lines out, ${gen.lines} in`);
    console.log(
      `${r.name.padEnd(28)} ${(size / (1 << 20) / secs).toFixed(1).padStart(7)} MiB/s wall (${secs.toFixed(1)} s), ${(size / (1 << 20) / cpuSecs).toFixed(1)} MiB/s per CPU second (${cpuSecs.toFixed(1)} s), max RSS ${rssMiB.toFixed(0)} MiB (${flat}), lines kept ${lines}`,
    );
    console.log(`  ${p.stderr.trim()}`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
