// Throughput of `imdsguard scan` on a generated ~1 GiB combined log, against ripgrep searching the same file for the
// 18 literal strings of Elastic's web rule, in one run: scan in the main thread alone (--workers 0), scan with filter
// workers (--workers N, default 2), then ripgrep. Usage: npm run bench -- --only scan [--mib N] [--workers N]
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import { ELASTIC_STRINGS } from './elastic-strings.ts';
import { generateCombinedLog } from './scan-gen.ts';

const args = process.argv.slice(2);
const mibArg = args.indexOf('--mib');
const mib = mibArg >= 0 ? Number(args[mibArg + 1]) : 1024;
const workersArg = args.indexOf('--workers');
const workers = workersArg >= 0 ? Number(args[workersArg + 1]) : 2;
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
  const bundle = join(bundleDir, 'imdsguard.js');
  // The filter worker is an entry of its own, next to the bundle, where the pool looks for it.
  await build({
    entryPoints: {
      imdsguard: join(root, 'src', 'cli', 'main.ts'),
      'scan-filter-worker': join(root, 'src', 'app', 'scan-filter-worker.ts'),
    },
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    outdir: bundleDir,
    logLevel: 'error',
  });
  cleanup.push(bundleDir);
  // The WebAssembly line stage, built from assembly/ and placed next to the bundle where the loader looks.
  const wasm = spawnSync('npm', ['run', '--silent', 'build:wasm'], { cwd: root, stdio: 'inherit' });
  if (wasm.status !== 0) throw new Error('npm run build:wasm failed');
  copyFileSync(join(root, 'dist', 'wasm', 'combined-scan.wasm'), join(bundleDir, 'combined-scan.wasm'));
  const entry = [bundle];
  const rssFile = join(dir, 'rss');
  const rssHook = join(dir, 'rss-hook.mjs');
  writeFileSync(
    rssHook,
    `import { writeFileSync } from 'node:fs';\nprocess.on('exit', () => { const u = process.resourceUsage(); writeFileSync(${JSON.stringify(rssFile)}, JSON.stringify({ maxRSS: u.maxRSS, cpu: (u.userCPUTime + u.systemCPUTime) / 1e6 })); });\n`,
  );
  const out = join(dir, 'findings.jsonl');
  function runScanOnce(threads: number) {
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
        '--workers',
        String(threads),
        log,
      ],
      { encoding: 'utf8' },
    );
    const seconds = (performance.now() - s0) / 1000;
    if (scan.status !== 0 && scan.status !== 1) throw new Error(`scan failed (${scan.status}): ${scan.stderr}`);
    if (scan.stderr.trim()) console.error(scan.stderr.trim());
    const findings = readFileSync(out, 'utf8').split('\n').filter(Boolean).length;
    const usage = JSON.parse(readFileSync(rssFile, 'utf8')) as { maxRSS: number; cpu: number };
    const mibPerS = size / (1 << 20) / seconds;
    return {
      workers: threads,
      seconds: +seconds.toFixed(2),
      cpu_seconds: +usage.cpu.toFixed(2),
      mib_per_s: +mibPerS.toFixed(1),
      mib_per_cpu_s: +(size / (1 << 20) / usage.cpu).toFixed(1),
      lines_per_s: Math.round(gen.lines / seconds),
      peak_rss_mib: +(usage.maxRSS / 1024).toFixed(1),
      findings,
    };
  }
  const single = runScanOnce(0);
  // Speed never at the cost of recall: every generated attack line must come out as a finding.
  if (single.findings < gen.attacks) throw new Error(`scan found ${single.findings} of ${gen.attacks} attacks`);
  const parallel = workers > 0 ? runScanOnce(workers) : undefined;

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
  const best = parallel && parallel.mib_per_s > single.mib_per_s ? parallel : single;
  console.log(
    JSON.stringify(
      {
        bench: 'scan',
        mib: Math.round(size / (1 << 20)),
        lines: gen.lines,
        attacks: gen.attacks,
        scan: single,
        ...(parallel ? { scan_with_workers: parallel } : {}),
        ripgrep: rgMiBs === undefined ? 'not installed' : { mib_per_s: +rgMiBs.toFixed(1), matching_lines: rgHits },
        ratio_scan_to_ripgrep: rgMiBs === undefined ? null : +(single.mib_per_s / rgMiBs).toFixed(3),
        ratio_best_to_ripgrep: rgMiBs === undefined ? null : +(best.mib_per_s / rgMiBs).toFixed(3),
      },
      null,
      2,
    ),
  );
} finally {
  for (const d of cleanup) rmSync(d, { recursive: true, force: true });
}
