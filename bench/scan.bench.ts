// Throughput of `imdsguard scan` on a generated ~1 GiB combined log, against ripgrep searching the same file for the
// 18 literal strings of Elastic's web rule. Usage: npm run bench -- [--mib N]   (default 1024)
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateCombinedLog } from './scan-gen.ts';

const ELASTIC = [
  '169.254.169.254',
  '169%2e254%2e169%2e254',
  '0xa9fea9fe',
  '0xa9.0xfe.0xa9.0xfe',
  '2852039166',
  '0251.0376.0251.0376',
  '::ffff:169.254.169.254',
  '::ffff:a9fe:a9fe',
  'fd00:ec2::254',
  '100.100.100.200',
  '169.254.170.2',
  'metadata.google.internal',
  'metadata.goog',
  'computeMetadata/v1',
  'meta-data/iam/security-credentials',
  'meta-data%2Fiam%2Fsecurity-credentials',
  'latest/meta-data',
  'latest/api/token',
];

const args = process.argv.slice(2);
const mibArg = args.indexOf('--mib');
const mib = mibArg >= 0 ? Number(args[mibArg + 1]) : 1024;
const root = join(import.meta.dirname, '..');
const dir = mkdtempSync(join(tmpdir(), 'imdsguard-bench-'));
try {
  const log = join(dir, 'access.log');
  const g0 = performance.now();
  const gen = await generateCombinedLog(log, mib * (1 << 20));
  const size = statSync(log).size;
  console.log(
    `generated ${(size / (1 << 20)).toFixed(0)} MiB, ${gen.lines} lines, ${gen.attacks} attacks in ${((performance.now() - g0) / 1000).toFixed(1)} s`,
  );

  // The sources through tsx (transpiled once at start-up), so the figure is for this tree, never a stale dist/.
  const entry = ['--import', 'tsx', join(root, 'src', 'cli', 'main.ts')];
  const rssFile = join(dir, 'rss');
  const rssHook = join(dir, 'rss-hook.mjs');
  writeFileSync(
    rssHook,
    `import { writeFileSync } from 'node:fs';\nprocess.on('exit', () => writeFileSync(${JSON.stringify(rssFile)}, String(process.resourceUsage().maxRSS)));\n`,
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
  const rssMiB = Number(readFileSync(rssFile, 'utf8')) / 1024;

  const pats = join(dir, 'patterns.txt');
  writeFileSync(pats, `${ELASTIC.join('\n')}\n`);
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
          mib_per_s: +scanMiBs.toFixed(1),
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
  rmSync(dir, { recursive: true, force: true });
}
