import { Command, Option } from 'commander';
import { sanitizeForTerminal } from '../../adapters/sinks/sanitize.ts';
import type { FileSummary } from '../../app/redact.ts';
import { EXIT } from '../exit-codes.ts';
import { describeUnread, whileRunning } from '../lifecycle.ts';

function describe(s: FileSummary, dryRun: boolean): string {
  const name = s.input === '-' ? 'stdin' : sanitizeForTerminal(s.input);
  const c = s.counts;
  const kinds = Object.entries(c.byKind)
    .sort((a, b) => b[1] - a[1])
    .map(([k, n]) => `${k} ${n}`)
    .join(', ');
  const verb = dryRun ? 'would mask' : 'masked';
  let line = `imdsguard redact: ${name}: ${c.lines} lines, ${verb} ${c.secrets} secret${c.secrets === 1 ? '' : 's'}`;
  if (c.secrets > 0)
    line += ` (${c.distinctSecrets} distinct: ${kinds}) on ${c.linesChanged} line${c.linesChanged === 1 ? '' : 's'}`;
  if (s.ips)
    line += `, ${dryRun ? 'would pseudonymise' : 'pseudonymised'} ${s.ips.replaced} IP address${s.ips.replaced === 1 ? '' : 'es'}`;
  if (s.output && s.output !== '-' && s.output !== s.input) line += ` -> ${sanitizeForTerminal(s.output)}`;
  return `${line}\n`;
}

export function redactCommand(): Command {
  return new Command('redact')
    .description('Rewrite logs with every leaked metadata credential masked (ASIA****QX7Z), every other byte kept')
    .argument('[inputs...]', 'log files (.gz read transparently); - or none for stdin')
    .option('-o, --output <path>', 'write to FILE (.gz compresses), or DIR/ for one copy per input; default stdout')
    .option('--in-place', 'replace each input atomically (written beside it, fsynced, renamed; mode and owner kept)')
    .option('--backup <suffix>', 'with --in-place, keep the original as INPUT+SUFFIX (e.g. .orig)')
    .option('--dry-run', 'report what would be masked, write nothing')
    .option('--pseudonymise-ips', 'also replace client IP addresses with keyed pseudonyms (240.0.0.0/4, 2001:db8::/32)')
    .addOption(
      new Option(
        '--ip-key <key>',
        'key for the IP pseudonyms, to keep them stable across runs (default: random per run)',
      ).env('IMDSGUARD_IP_KEY'),
    )
    .option('--gzip', 'compress the output whatever its name')
    .option('-q, --quiet', 'no summary on stderr')
    .addHelpText(
      'after',
      `
Masks AWS/ECS/EKS credentials and IMDSv2 tokens, GCP access and identity tokens, Azure managed identity tokens,
Alibaba STS credentials, OCI instance principal tokens and PEM private keys, raw or escaped (JSON in JSON,
percent-encoded, util.inspect, Python repr, curl -v). The same secret gets the same mask everywhere. Metadata,
loopback and link-local addresses, and addresses inside URLs, are never pseudonymised.

Exit code: 0 when done, whether or not anything was masked; 2 on a usage or input error (an input that cannot be
read is reported and the others are still done; that input's original is untouched with --in-place, and so is its
existing -o copy); 3 the output could not be written; 128+n stopped by signal n (temporary files removed).
Examples:
  imdsguard redact app.log -o app.redacted.log
  imdsguard redact --in-place --backup .orig /var/log/app/*.log
  zcat access.log.gz | imdsguard redact --pseudonymise-ips | gzip > shared.log.gz
  imdsguard redact logs/*.gz -o redacted/`,
    )
    .action(
      async (
        inputs: string[],
        opts: {
          output?: string;
          inPlace?: boolean;
          backup?: string;
          dryRun?: boolean;
          pseudonymiseIps?: boolean;
          ipKey?: string;
          gzip?: boolean;
          quiet?: boolean;
        },
      ) => {
        const dryRun = Boolean(opts.dryRun);
        let failed = 0;
        // Loaded when the command runs, not at every start of the CLI.
        const { redact } = await import('../../app/redact.ts');
        // Inputs are done one at a time, in order: a signal names the one being read and those after it, the one
        // being read as "(partly)" only once some of its output was written.
        let done = 0;
        let started = false;
        const files = inputs.length > 0 ? inputs : ['-'];
        const stopHooks = whileRunning({
          unread: () => describeUnread(files, done < files.length ? done : -1, undefined, started),
        });
        try {
          await redact(
            {
              inputs,
              ...(opts.output !== undefined ? { output: opts.output } : {}),
              inPlace: Boolean(opts.inPlace),
              ...(opts.backup !== undefined ? { backupSuffix: opts.backup } : {}),
              dryRun,
              pseudonymiseIps: Boolean(opts.pseudonymiseIps),
              ...(opts.ipKey ? { ipKey: opts.ipKey } : {}),
              ...(opts.gzip ? { gzipOutput: true } : {}),
              onOutputStarted: () => {
                started = true;
              },
            },
            (s) => {
              done++;
              started = false;
              if (!opts.quiet) process.stderr.write(describe(s, dryRun));
            },
            (_input, e) => {
              done++;
              started = false;
              failed++;
              process.stderr.write(`imdsguard: ${e.message}\n`);
            },
          );
        } finally {
          stopHooks();
        }
        process.exitCode = failed > 0 ? EXIT.error : EXIT.ok;
      },
    );
}
