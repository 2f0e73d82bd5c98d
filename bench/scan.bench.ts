// Throughput of `imdsguard scan` on one core against ripgrep searching the same file for the 18 literal strings of
// Elastic's web rule, measured in the same run, on logs whose values do not repeat (see scan-gen-unique.ts): combined,
// JSON lines, ALB, CloudFront, and the real public log with every digit run and client address randomised. The old
// generator (15 fixed paths, so caches answer almost every line) is kept as a labelled best case.
// Usage: npm run bench -- --only scan [--mib N] [--runs N] [--logs combined,json,alb,cloudfront,real,best]
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bundleCli, median, spread, usageHook } from './cli-bundle.ts';
import { ELASTIC_STRINGS } from './elastic-strings.ts';
import { generateCombinedLog } from './scan-gen.ts';
import { generateUniqueLog, type UniqueLogKind } from './scan-gen-unique.ts';

const args = process.argv.slice(2);
const arg = (name: string, dflt: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1]! : dflt;
};
const mib = Number(arg('--mib', '200'));
const runs = Math.max(1, Number(arg('--runs', '2')));
const logs = arg('--logs', 'combined,json,alb,cloudfront,real,best').split(',');
const root = join(import.meta.dirname, '..');
const realLog = join(root, '..', 'shared', 'corpora', 'real-logs', 'apache_logs');
const LOG_FORMAT: Record<string, string> = {
  combined: 'combined',
  json: 'json',
  alb: 'alb',
  cloudfront: 'cloudfront',
  real: 'combined',
  best: 'combined',
};
const LABEL: Record<string, string> = {
  combined: 'realistic combined',
  json: 'realistic JSON lines (nginx escape=json)',
  alb: 'realistic ALB',
  cloudfront: 'realistic CloudFront',
  real: 'real log, digits and client addresses randomised',
  best: 'BEST CASE: 15 fixed paths (caches answer most lines)',
};

const dir = mkdtempSync(join(tmpdir(), 'imdsguard-bench-'));
const cleanup: string[] = [dir];

try {
  const cli = await bundleCli('scan-');
  cleanup.push(cli.dir);
  const bundle = cli.bundle;
  const usage = usageHook(dir);
  const pats = join(dir, 'patterns.txt');
  writeFileSync(pats, `${ELASTIC_STRINGS.join('\n')}\n`);
  const hasRg = spawnSync('rg', ['--version']).status === 0;
  const out = join(dir, 'findings.jsonl');
  const rows: Array<Record<string, string | number>> = [];

  for (const name of logs) {
    const log = join(dir, `${name}.log`);
    const g0 = performance.now();
    const gen =
      name === 'best'
        ? await generateCombinedLog(log, mib * (1 << 20))
        : await generateUniqueLog(name as UniqueLogKind, log, mib * (1 << 20), { realLog });
    const size = statSync(log).size;
    const sizeMiB = size / (1 << 20);
    console.error(
      `${name}: generated ${sizeMiB.toFixed(0)} MiB, ${gen.lines} lines, ${gen.attacks} attacks in ${((performance.now() - g0) / 1000).toFixed(1)} s`,
    );
    const scanMiBs: number[] = [];
    const rgMiBs: number[] = [];
    const ratios: number[] = [];
    let rss = 0;
    let parsedShare = 0;
    let findings = 0;
    let rgLines = 0;
    for (let k = 0; k < runs; k++) {
      const s0 = performance.now();
      const scan = spawnSync(
        process.execPath,
        [
          '--import',
          usage.hook,
          bundle,
          'scan',
          '--log-format',
          LOG_FORMAT[name]!,
          '--format',
          'jsonl',
          '-o',
          out,
          log,
        ],
        { encoding: 'utf8', maxBuffer: 1 << 26 },
      );
      const seconds = (performance.now() - s0) / 1000;
      if (scan.status !== 0 && scan.status !== 1) throw new Error(`scan failed (${scan.status}): ${scan.stderr}`);
      const summary = scan.stderr;
      const read = Number(/(\d+) lines \(/.exec(summary)?.[1] ?? Number.NaN);
      const formats = /formats: (.*) \(lines parsed\)/.exec(summary)?.[1] ?? '';
      const parsed = [...formats.matchAll(/ (\d+)(?:,|$)/g)].reduce((n, m) => n + Number(m[1]), 0);
      parsedShare = parsed / read;
      findings = readFileSync(out, 'utf8').split('\n').filter(Boolean).length;
      // Speed never at the cost of recall: every generated attack line must come out as a finding.
      if (findings < gen.attacks) throw new Error(`${name}: scan found ${findings} of ${gen.attacks} attacks`);
      rss = Math.max(rss, usage.read().maxRssMiB);
      scanMiBs.push(sizeMiB / seconds);
      if (hasRg) {
        const r0 = performance.now();
        const rg = spawnSync('rg', ['-j1', '-i', '-F', '-c', '-f', pats, log], { encoding: 'utf8' });
        rgMiBs.push(sizeMiB / ((performance.now() - r0) / 1000));
        rgLines = Number(rg.stdout.trim() || 0);
        ratios.push(scanMiBs[k]! / rgMiBs[k]!);
      }
    }
    const row = {
      log: LABEL[name]!,
      MiB: Math.round(sizeMiB),
      lines: gen.lines,
      attacks: gen.attacks,
      findings,
      'scan MiB/s': spread(scanMiBs, 1),
      'lines/s': Math.round((gen.lines * median(scanMiBs)) / sizeMiB),
      'fully parsed': `${(parsedShare * 100).toFixed(1)}%`,
      'peak RSS MiB': +rss.toFixed(0),
      'rg MiB/s': hasRg ? spread(rgMiBs, 1) : 'not installed',
      'rg lines': rgLines,
      'scan/rg': hasRg ? spread(ratios, 3) : '-',
    };
    rows.push(row);
    console.log(JSON.stringify({ bench: 'scan', runs, ...row }));
    rmSync(log, { force: true });
  }
  // The table: medians over the runs, (min–max) beside them; each ratio is one scan run over the ripgrep run after it.
  const cols = Object.keys(rows[0] ?? {});
  console.log(`\n| ${cols.join(' | ')} |\n|${cols.map(() => '---').join('|')}|`);
  for (const r of rows) console.log(`| ${cols.map((c) => r[c]).join(' | ')} |`);
} finally {
  for (const d of cleanup) rmSync(d, { recursive: true, force: true });
}
