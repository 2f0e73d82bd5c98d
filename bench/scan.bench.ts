// Throughput of `imdsguard scan` on a generated ~1 GiB combined log, against ripgrep searching the same file for the
// 18 literal strings of Elastic's web rule. Usage: npm run bench -- [--mib N]   (default 1024)
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import { ELASTIC_STRINGS } from './elastic-strings.ts';
import { generateCombinedLog } from './scan-gen.ts';

const args = process.argv.slice(2);
const mibArg = args.indexOf('--mib');
const mib = mibArg >= 0 ? Number(args[mibArg + 1]) : 1024;
const root = join(import.meta.dirname, '..');
const dir = mkdtempSync(join(tmpdir(), 'imdsguard-bench-'));
const cleanup: string[] = [dir];
mkdirSync(join(root, '.bench'), { recursive: true });
try {
  const log = join(dir, 'access.log');
  const g0 = performance.now();
  const gen = await generateCombinedLog(log, mib * (1 << 20));
  const size = statSync(log).size;
  console.log(
    `generated ${(size / (1 << 20)).toFixed(0)} MiB, ${gen.lines} lines, ${gen.attacks} attacks in ${((performance.now() - g0) / 1000).toFixed(1)} s`,
  );

  // This tree's sources bundled once with esbuild (as a build would), so the figure is never a stale dist/ and has
  // no transpiler in the measured process. The bundle sits two levels under the root so package.json resolves.
  const bundleDir = mkdtempSync(join(root, '.bench', 'scan-'));
  const bundle = join(bundleDir, 'imdsguard.mjs');
  await build({
    entryPoints: [join(root, 'src', 'cli', 'main.ts')],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    outfile: bundle,
    logLevel: 'error',
  });
  cleanup.push(bundleDir);
  const entry = [bundle];
  const rssFile = join(dir, 'rss');
  const rssHook = join(dir, 'rss-hook.mjs');
  writeFileSync(
    rssHook,
    `import { writeFileSync } from 'node:fs';\nprocess.on('exit', () => { const u = process.resourceUsage(); writeFileSync(${JSON.stringify(rssFile)}, JSON.stringify({ maxRSS: u.maxRSS, cpu: (u.userCPUTime + u.systemCPUTime) / 1e6 })); });\n`,
  );
  const out = join(dir, 'findings.jsonl');
  const s0 = performance.now();
  const scan = spawnSync(
    process.execPath,
    [
      '--import',
      rssHook,
      ...entry,
      'scan',
      '--log-format',
      'combined',
      '--format',
      'jsonl',
      '-o',
      out,
      '--no-summary',
      log,
    ],
    { encoding: 'utf8' },
  );
  const scanSecs = (performance.now() - s0) / 1000;
  if (scan.status !== 0 && scan.status !== 1) throw new Error(`scan failed (${scan.status}): ${scan.stderr}`);
  const findings = readFileSync(out, 'utf8').split('\n').filter(Boolean).length;
  const usage = JSON.parse(readFileSync(rssFile, 'utf8')) as { maxRSS: number; cpu: number };
  const rssMiB = usage.maxRSS / 1024;

  const pats = join(dir, 'patterns.txt');
  writeFileSync(pats, `${ELASTIC_STRINGS.join('\n')}\n`);
  let rgMiBs: number | undefined;
  let rgHits = 0;
  const rgCheck = spawnSync('rg', ['--version']);
  if (rgCheck.status === 0) {
    const r0 = performance.now();
    const rg = spawnSync('rg', ['-j1', '-i', '-F', '-c', '-f', pats, log], { encoding: 'utf8' });
    const rgSecs = (performance.now() - r0) / 1000;
    rgHits = Number(rg.stdout.trim() || 0);
    rgMiBs = size / (1 << 20) / rgSecs;
  }
  const scanMiBs = size / (1 << 20) / scanSecs;
  console.log(
    JSON.stringify(
      {
        bench: 'scan',
        mib: Math.round(size / (1 << 20)),
        lines: gen.lines,
        scan: {
          seconds: +scanSecs.toFixed(2),
          cpu_seconds: +usage.cpu.toFixed(2),
          mib_per_s: +scanMiBs.toFixed(1),
          mib_per_cpu_s: +(size / (1 << 20) / usage.cpu).toFixed(1),
          lines_per_s: Math.round(gen.lines / scanSecs),
          peak_rss_mib: +rssMiB.toFixed(1),
          findings,
        },
        ripgrep: rgMiBs === undefined ? 'not installed' : { mib_per_s: +rgMiBs.toFixed(1), matching_lines: rgHits },
        ratio_scan_to_ripgrep: rgMiBs === undefined ? null : +(scanMiBs / rgMiBs).toFixed(3),
      },
      null,
      2,
    ),
  );
} finally {
  for (const d of cleanup) rmSync(d, { recursive: true, force: true });
}
