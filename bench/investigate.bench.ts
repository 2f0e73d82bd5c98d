// Time to build an incident report from ~1 GiB of mixed input: a generated combined access log and a CloudTrail
// document (with SSRF attacks and stolen-key uses in them), plus 200 composed multi-source incidents (web log, app
// log with the leaked keys, trail, agent records; test/fixtures/investigate) in 200 000 lines of noise, are made
// into findings by `scan` and `cloudtrail`, then
// `investigate` links them and writes the HTML report and the JSON lines. The named peer is jq reading the same
// findings once (`jq -c .`): the cost of parsing every record, which investigate cannot go below. Then `investigate`
// reads the raw inputs itself (one run instead of three), compared with the three runs.
// Usage: npm run bench -- --only investigate [--mib N]   (default 1024: 5/8 web log, 3/8 trail)
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { attackers, compose } from '../test/fixtures/investigate/compose.ts';
import { generateTrail } from './cloudtrail-gen.ts';
import { generateCombinedLog } from './scan-gen.ts';

const args = process.argv.slice(2);
const mibArg = args.indexOf('--mib');
const mib = mibArg >= 0 ? Number(args[mibArg + 1]) : 1024;
const root = join(import.meta.dirname, '..');
const dir = mkdtempSync(join(tmpdir(), 'imdsguard-bench-inv-'));
const built = join(root, 'dist', 'cli', 'main.js');
const entry = existsSync(built) ? [built] : ['--import', 'tsx', join(root, 'src', 'cli', 'main.ts')];

function timed(cmd: string, argv: string[], label: string): { secs: number; rssMiB: number; stderr: string } {
  const rssFile = join(dir, `rss-${label}`);
  const hook = join(dir, `rss-${label}.mjs`);
  writeFileSync(
    hook,
    `import { writeFileSync } from 'node:fs';\nprocess.on('exit', () => writeFileSync(${JSON.stringify(rssFile)}, String(process.resourceUsage().maxRSS)));\n`,
  );
  const full = cmd === 'node' ? [process.execPath, ['--import', hook, ...entry, ...argv]] : [cmd, argv];
  const t0 = performance.now();
  const r = spawnSync(full[0] as string, full[1] as string[], { encoding: 'utf8', maxBuffer: 1 << 30 });
  const secs = (performance.now() - t0) / 1000;
  if (r.status !== 0 && r.status !== 1) throw new Error(`${label} failed (${r.status}): ${r.stderr}`);
  const rssMiB = existsSync(rssFile) ? Number(readFileSync(rssFile, 'utf8')) / 1024 : Number.NaN;
  return { secs, rssMiB, stderr: r.stderr };
}

try {
  const web = join(dir, 'access.log');
  const trail = join(dir, 'trail.json');
  const t = performance.now();
  const w = await generateCombinedLog(web, Math.round(mib * (5 / 8) * (1 << 20)));
  const g = await generateTrail(trail, Math.round(mib * (3 / 8) * (1 << 20)));
  const composed = compose(attackers(200), 200_000);
  writeFileSync(join(dir, 'composed-access.log'), composed.web);
  writeFileSync(join(dir, 'app.log'), composed.app);
  writeFileSync(join(dir, 'composed-trail.ndjson'), composed.trail);
  writeFileSync(join(dir, 'agent.jsonl'), composed.agent);
  const raw = [web, trail, ...['composed-access.log', 'app.log', 'composed-trail.ndjson'].map((f) => join(dir, f))];
  const inputMiB = raw.map((f) => statSync(f).size).reduce((a, b) => a + b) / (1 << 20);
  console.log(
    `generated ${inputMiB.toFixed(0)} MiB: web ${w.lines} lines (${w.attacks} attacks), trail ${g.records} records (${g.stolen} stolen-key uses) in ${((performance.now() - t) / 1000).toFixed(1)} s`,
  );
  const scanOut = join(dir, 'web.jsonl');
  const trailOut = join(dir, 'trail.jsonl');
  const scan = timed(
    'node',
    [
      'scan',
      '--no-summary',
      '--format',
      'jsonl',
      '-o',
      scanOut,
      web,
      join(dir, 'composed-access.log'),
      join(dir, 'app.log'),
    ],
    'scan',
  );
  const ct = timed(
    'node',
    ['cloudtrail', '--format', 'jsonl', '-o', trailOut, trail, join(dir, 'composed-trail.ndjson')],
    'cloudtrail',
  );
  const findings = [scanOut, trailOut, join(dir, 'agent.jsonl')];
  const count = findings.map((f) => readFileSync(f, 'utf8').split('\n').filter(Boolean).length).reduce((a, b) => a + b);
  const findingsMiB = findings.map((f) => statSync(f).size).reduce((a, b) => a + b) / (1 << 20);
  console.log(
    `findings: scan ${scan.secs.toFixed(1)} s, cloudtrail ${ct.secs.toFixed(1)} s -> ${count} findings (${findingsMiB.toFixed(1)} MiB)`,
  );
  const html = join(dir, 'report.html');
  const inv = timed(
    'node',
    ['investigate', '--format', 'html', '-o', html, '--stats', ...findings],
    'investigate-html',
  );
  const invJsonl = timed(
    'node',
    ['investigate', '--format', 'jsonl', '-o', join(dir, 'incidents.jsonl'), ...findings],
    'investigate-jsonl',
  );
  // The same report straight from the raw inputs: investigate reads the logs, trails and agent records itself.
  const direct = timed(
    'node',
    [
      'investigate',
      '--format',
      'html',
      '-o',
      join(dir, 'report-raw.html'),
      '--stats',
      ...raw,
      join(dir, 'agent.jsonl'),
    ],
    'investigate-raw',
  );
  const jq = timed('sh', ['-c', `jq -c . ${findings.join(' ')} > /dev/null`], 'jq');
  console.log(inv.stderr.trim());
  console.log(
    `investigate --format html: ${inv.secs.toFixed(2)} s (peak RSS ${inv.rssMiB.toFixed(0)} MiB, report ${(statSync(html).size / (1 << 20)).toFixed(1)} MiB); ` +
      `--format jsonl: ${invJsonl.secs.toFixed(2)} s; peer jq -c . on the same findings: ${jq.secs.toFixed(2)} s ` +
      `(investigate html / jq = ${(inv.secs / jq.secs).toFixed(2)})`,
  );
  console.log(
    `whole pipeline from ${inputMiB.toFixed(0)} MiB of raw input to the report: ${(scan.secs + ct.secs + inv.secs).toFixed(1)} s`,
  );
  console.log(direct.stderr.trim());
  console.log(
    `investigate --format html on the raw inputs themselves: ${direct.secs.toFixed(1)} s (peak RSS ${direct.rssMiB.toFixed(0)} MiB); ` +
      `scan + cloudtrail + investigate as three runs: ${(scan.secs + ct.secs + inv.secs).toFixed(1)} s ` +
      `(one run / three = ${(direct.secs / (scan.secs + ct.secs + inv.secs)).toFixed(2)})`,
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
