import { Command, InvalidArgumentError } from 'commander';
import type { SinkFormat } from '../../adapters/sinks/formats.ts';
import { ImdsguardError } from '../../core/errors.ts';
import type { Incident } from '../../core/investigate/incident.ts';
import { INCIDENT_ID_MIN, normalIncidentId } from '../../core/investigate/select.ts';
import { atLeast, type Severity } from '../../core/model/severity.ts';
import { parseRfc3339 } from '../../core/parse/rfc3339.ts';
import { EXIT } from '../exit-codes.ts';
import { inputsExitCode, readInputsInto, refuseOutputsAmongInputs } from '../input-run.ts';
import { failOnOption, formatOption } from '../output-options.ts';

interface Opts {
  format?: SinkFormat;
  output?: string;
  failOn: Severity;
  since?: number;
  until?: number;
  incident?: string;
  stats?: boolean;
  store: string[];
  summary: boolean;
}

const collect = (v: string, prev: string[]) => [...prev, v];

/** An incident id or a prefix of one (`inc-` may be left out): at least the documented minimum, as `inc-…`. */
function parseIncidentId(v: string): string {
  const id = normalIncidentId(v);
  if (id === undefined)
    throw new InvalidArgumentError(
      `expected an incident id or a prefix of at least ${INCIDENT_ID_MIN} characters (inc- and hex digits), got "${v}"`,
    );
  return id;
}

/** Thrown inside the run so that the output is dropped (never emptied or created) when the incident asked for is absent. */
class NoSuchIncident extends Error {
  /** The ids of the incidents the prefix matched (none, or several). */
  readonly matches: string[];
  constructor(matches: string[]) {
    super('no such incident');
    this.matches = matches;
  }
}

/** RFC 3339, or a date alone (midnight UTC); nothing Date.parse would read as another time. */
function parseTime(v: string): number {
  const ms = parseRfc3339(v);
  if (ms === undefined)
    throw new InvalidArgumentError(`expected an RFC 3339 time like 2026-11-21T09:00:00Z (or a date), got "${v}"`);
  return ms;
}

export function investigateCommand(): Command {
  return new Command('investigate')
    .description(
      'Link findings from every imdsguard command, and the raw logs, audit records and inventory they come from, into ' +
        'incidents: SSRF requests, the credentials they fetched, the logs those leaked into, their use in the cloud and ' +
        'what followed, each link with its evidence and reason',
    )
    .argument(
      '[inputs...]',
      'files or directories, gzipped or not: findings (jsonl or json from any command, agent and proxy records), web ' +
        'and app logs, audit records (CloudTrail, Cloud Audit Logs, Activity Log), inventory, findings stores; ' +
        '"-" or none reads findings from stdin',
    )
    .option('--store <file>', 'a findings store (SQLite, as the hub writes it) to read whole; repeatable', collect, [])
    .addOption(formatOption('output format', ['table', 'jsonl', 'json', 'html']))
    .option('-o, --output <file>', 'write incidents to FILE instead of stdout')
    .addOption(failOnOption())
    .option('--since <time>', 'only incidents lasting until this time or later (RFC 3339)', parseTime)
    .option('--until <time>', 'only incidents begun by this time (RFC 3339)', parseTime)
    .option(
      '--incident <id>',
      `only this incident (its id, or a prefix of at least ${INCIDENT_ID_MIN} characters; inc- may be left out)`,
      parseIncidentId,
    )
    .option('--stats', 'print findings read, incidents and seconds to stderr')
    .option('--no-summary', 'do not say on stderr how each input was read')
    .addHelpText(
      'after',
      `
Each input is read as its content says, not its name: records of imdsguard commands as findings; cloud audit
records through the cloudtrail correlator; inventory through the posture checks (and as cloudtrail's address book);
an SQLite findings store as \`imdsguard findings\` reads it; anything else as a log, through the scan rules. The
summary on stderr says how each input was read. Stdin and pipes are read as findings.
Records: one "type": "incident" object per incident (schema in docs/investigate.md); --format html writes one
self-contained report (no external resources, no script) with a timeline and a graph per incident.
Incident ids are a hash of what the incident's first finding is about (not of its id, which holds the path as
spelt): a re-run with more evidence, other incidents or another spelling of a path keeps them.
Exit codes: 0 no incident at or above --fail-on; 1 incidents; 2 usage or input error (every readable input is still
read); 3 the output could not be written; 128+n stopped by signal n.
Examples:
  imdsguard scan access.log app.log > web.jsonl; imdsguard cloudtrail AWSLogs/ > trail.jsonl
  imdsguard investigate web.jsonl trail.jsonl --format html -o incident.html
  imdsguard investigate /var/log/nginx/access.log app.log AWSLogs/ instances.json --store hub/findings.sqlite
  imdsguard investigate findings/ --since 2026-11-21T00:00:00Z --incident inc-3f2a9c1e
--since/--until keep an incident whole when its time span (first step to the end of its last) meets the window,
edges included; --since after --until is a usage error.`,
    )
    .action(async (inputs: string[], opts: Opts) => {
      if (opts.since !== undefined && opts.until !== undefined && opts.since > opts.until)
        throw new ImdsguardError(
          'E_USAGE',
          `--since ${new Date(opts.since).toISOString()} is after --until ${new Date(opts.until).toISOString()}: the window is empty`,
        );
      const [{ openSink }, { runInvestigate, describeReadings }] = await Promise.all([
        import('../../adapters/sinks/open-sink.ts'),
        import('../../app/investigate.ts'),
      ]);
      await refuseOutputsAmongInputs([opts.output], inputs, opts.store);
      const sink = await openSink(opts.format, opts.output, { wholeRun: true });
      let worst = false;
      const asked: Incident[] = [];
      let read: Awaited<ReturnType<typeof readInputsInto<Awaited<ReturnType<typeof runInvestigate>>>>>;
      try {
        read = await readInputsInto(
          sink,
          [...inputs, ...opts.store],
          async (hooks) => {
            const r = await runInvestigate({
              inputs,
              stores: opts.store,
              onWarn: (m) => process.stderr.write(`imdsguard: ${m}\n`),
              selection: {
                ...(opts.since !== undefined ? { sinceMs: opts.since } : {}),
                ...(opts.until !== undefined ? { untilMs: opts.until } : {}),
                ...(opts.incident !== undefined ? { id: opts.incident } : {}),
              },
              emit: (inc) => {
                // One incident asked for: held until it is known to be the only one (a prefix may match several,
                // and then nothing is written, stdout included).
                if (opts.incident !== undefined) {
                  asked.push(inc);
                  return;
                }
                if (atLeast(inc.severity, opts.failOn)) worst = true;
                return sink.write(inc as unknown as Record<string, unknown>);
              },
              ...hooks,
            });
            if (opts.incident !== undefined) {
              if (asked.length !== 1) throw new NoSuchIncident(asked.map((i) => i.id));
              const inc = asked[0]!;
              if (atLeast(inc.severity, opts.failOn)) worst = true;
              await sink.write(inc as unknown as Record<string, unknown>);
            }
            return r;
          },
          { worst: () => worst },
        );
      } catch (e) {
        if (!(e instanceof NoSuchIncident)) throw e;
        process.stderr.write(
          e.matches.length === 0
            ? `imdsguard: no incident ${opts.incident} in the input; no output written\n`
            : `imdsguard: ${e.matches.length} incidents begin with ${opts.incident} (${e.matches.slice(0, 10).join(', ')}${e.matches.length > 10 ? ', …' : ''}); give more of the id; no output written\n`,
        );
        process.exitCode = EXIT.error;
        return;
      }
      const { result, problems } = read;
      if (opts.summary) process.stderr.write(describeReadings(result));
      if (opts.stats)
        process.stderr.write(
          `imdsguard investigate: ${result.records} records, ${result.findings} findings, ${result.built} incidents ` +
            `(${result.incidents} selected) in ${result.seconds.toFixed(2)} s\n`,
        );
      process.exitCode = inputsExitCode(problems, worst, 'incidents');
    });
}
