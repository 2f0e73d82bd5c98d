// Link and incident accuracy of `investigate` on composed multi-source incidents (test/fixtures/investigate: web log,
// app log with the leaked keys, trail, inventory, agent records; no value repeats across attackers) in noise. Each
// finding is labelled with the attacker(s) its evidence belongs to; a link is right when both ends are one attacker's
// (or one end is a setting of that attacker's instance). Pairs: two findings (settings aside) in one incident.
// Scenarios: 5 and 40 attackers each with its own role; 10 attackers stealing one role name from 10 instances; 10
// attackers on one instance of that role (one IMDSv1 setting, one role, one instance: only keys and addresses differ).
// Usage: npm run build && npm run bench -- --only incident-links [--noise N]
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BIN, runCli } from '../test/e2e/helpers.ts';
import { type Attacker, attackers, compose } from '../test/fixtures/investigate/compose.ts';
import { jsonLines, makeFindings, score } from '../test/investigate/pipeline.ts';

if (!existsSync(BIN)) {
  console.error('incident-links: dist/ is not built (npm run build)');
  process.exit(1);
}
const args = process.argv.slice(2);
const noiseArg = args.indexOf('--noise');
const noise = noiseArg >= 0 ? Number(args[noiseArg + 1]) : 2000;
const dir = mkdtempSync(join(tmpdir(), 'imdsguard-bench-links-'));
const scenarios: Array<[string, Attacker[]]> = [
  ['5 attackers', attackers(5)],
  ['40 attackers', attackers(40)],
  ['10 attackers, one role name', attackers(10, undefined, { sharedRole: 'web-role' })],
  [
    '10 attackers, one role on one instance',
    attackers(10, undefined, { sharedRole: 'web-role', sharedInstance: true }),
  ],
];
try {
  console.log(`noise ${noise}; link precision / link recall / pair precision / pair recall / incidents (expected)`);
  for (const [name, list] of scenarios) {
    const sub = join(dir, name.replace(/\W+/g, '-'));
    mkdirSync(sub);
    const f = await makeFindings(sub, compose(list, noise));
    const findings = f.files.flatMap((p) => jsonLines(readFileSync(p, 'utf8')));
    const r = await runCli(['investigate', '--format', 'jsonl', ...f.files], { timeoutMs: 600_000 });
    if (r.status !== 0 && r.status !== 1) throw new Error(`investigate failed (${r.status}): ${r.stderr}`);
    const s = score(jsonLines(r.stdout), findings, list);
    // One incident per attacker, the unrelated key use, and the failed scanners' attempts (one per client).
    console.log(
      `${name}: links ${s.links}, link precision ${s.precision.toFixed(3)}, link recall ${s.linkRecall.toFixed(3)}, ` +
        `pair precision ${s.pairPrecision.toFixed(3)}, pair recall ${s.pairRecall.toFixed(3)}, incidents ${s.incidents}` +
        (s.wrong.length ? `; wrong e.g. ${[...new Set(s.wrong)].slice(0, 3).join('; ')}` : '') +
        (s.missing.length ? `; missing e.g. ${s.missing.slice(0, 3).join('; ')}` : ''),
    );
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
