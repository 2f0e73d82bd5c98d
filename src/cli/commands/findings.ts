import { join } from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import type { SinkFormat } from '../../adapters/sinks/formats.ts';
import { isSeverity, SEVERITIES, type Severity } from '../../core/model/severity.ts';
import { EXIT } from '../exit-codes.ts';
import { formatOption } from '../output-options.ts';
import { defaultStateDir } from '../publish-options.ts';

interface FindingsFlags {
  store?: string;
  since?: number;
  until?: number;
  severity?: Severity;
  rule: string[];
  host: string[];
  source: string[];
  text?: string;
  limit: number;
  format?: SinkFormat;
  output?: string;
}

const collect = (v: string, prev: string[]) => [...prev, v];

/** An ISO 8601 time, or a duration before now: 30m, 24h, 7d. */
function timeArg(v: string): number {
  const rel = /^(\d+(?:\.\d+)?)([smhd])$/.exec(v.trim());
  if (rel) return Date.now() - Number(rel[1]) * { s: 1, m: 60, h: 3600, d: 86_400 }[rel[2] as 's']! * 1000;
  const ms = Date.parse(v);
  if (!/^\d{4}-\d{2}-\d{2}/.test(v) || !Number.isFinite(ms))
    throw new InvalidArgumentError(
      `expected an ISO 8601 time (2026-12-05T06:00:00Z) or a duration (30m, 24h, 7d), got "${v}"`,
    );
  return ms;
}

function limitArg(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`expected a number (0 for no limit), got "${v}"`);
  return n;
}

export function findingsCommand(): Command {
  return new Command('findings')
    .description('Query the local findings store (what the hub stored from the fleet bus)')
    .addOption(
      new Option('--store <file>', 'the findings store (default: findings.sqlite in the state directory)').env(
        'IMDSGUARD_STORE',
      ),
    )
    .addOption(
      new Option('--since <time>', 'findings at or after TIME (ISO 8601, or 30m/24h/7d ago)').argParser(timeArg),
    )
    .addOption(new Option('--until <time>', 'findings before TIME (ISO 8601, or 30m/24h/7d ago)').argParser(timeArg))
    .addOption(new Option('--severity <severity>', 'at least this severity').choices([...SEVERITIES]))
    .option('--rule <id>', 'rule id, or a prefix ending in * (credential-exposure*); repeatable', collect, [])
    .option('--host <id|name>', 'host id or name; repeatable', collect, [])
    .option('--source <name>', 'sensor: scan, cloudtrail, agent, proxy, hub; repeatable', collect, [])
    .option(
      '--text <substring>',
      'case-insensitive substring of title, target, description, file, process, principal, resource',
    )
    .addOption(
      new Option('--limit <n>', 'the newest N matches, printed oldest first (0: all)')
        .argParser(limitArg)
        .default(1000),
    )
    .addOption(formatOption())
    .option('-o, --output <file>', 'write findings to FILE instead of stdout')
    .addHelpText(
      'after',
      `
Each finding is printed as the other commands print it, plus "fleet": {host, source, account, region, sent_at,
received_at}. A replayed or redelivered finding is stored once (by its message id).
Exit code: 0 the query ran (with or without matches); 2 usage error, or no store; 3 the output could not be written.
Examples:
  imdsguard findings --since 24h --severity high
  imdsguard findings --rule 'credential-exposure*' --host web-1 --format jsonl
  imdsguard findings --since 2026-12-01T00:00:00Z --until 2026-12-02T00:00:00Z --text role/app-prod -o day.json --format json`,
    )
    .action(async (f: FindingsFlags) => {
      if (f.severity !== undefined && !isSeverity(f.severity))
        throw new InvalidArgumentError(`unknown severity ${String(f.severity)}`);
      const [{ openSink }, { runFindings }] = await Promise.all([
        import('../../adapters/sinks/open-sink.ts'),
        import('../../app/findings.ts'),
      ]);
      const store = f.store ?? join(defaultStateDir(), 'findings.sqlite');
      const sink = await openSink(f.format, f.output, { wholeRun: true });
      let r: { written: number; total: number };
      try {
        r = await runFindings({
          store,
          query: {
            ...(f.since !== undefined ? { sinceMs: f.since } : {}),
            ...(f.until !== undefined ? { untilMs: f.until } : {}),
            ...(f.severity ? { severity: f.severity } : {}),
            ...(f.rule.length ? { rules: f.rule } : {}),
            ...(f.host.length ? { hosts: f.host } : {}),
            ...(f.source.length ? { sources: f.source } : {}),
            ...(f.text ? { text: f.text } : {}),
            ...(f.limit > 0 ? { limit: f.limit } : {}),
          },
          sink,
        });
        await sink.close();
      } catch (e) {
        await sink.abort();
        throw e;
      }
      if (r.total > r.written)
        process.stderr.write(`imdsguard: the newest ${r.written} of ${r.total} matching findings (--limit)\n`);
      else process.stderr.write(`imdsguard: ${r.total} matching finding(s)\n`);
      process.exitCode = EXIT.ok;
    });
}
