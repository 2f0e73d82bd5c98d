import { Command } from 'commander';
import type { SinkFormat } from '../../adapters/sinks/formats.ts';
import { sanitizeField } from '../../adapters/sinks/sanitize.ts';
import { atLeast, type Severity } from '../../core/model/severity.ts';
import { renderReadiness } from '../../core/posture/posture-readiness.ts';
import { Masker } from '../../core/secrets/masker.ts';
import { inputsExitCode, readInputsInto, refuseOutputsAmongInputs } from '../input-run.ts';
import { failOnOption, formatOption } from '../output-options.ts';

interface Opts {
  format?: SinkFormat;
  output?: string;
  failOn: Severity;
  remediationScript?: string;
  readiness?: string;
  stats?: boolean;
}

export function postureCommand(): Command {
  return new Command('posture')
    .description(
      'Check metadata service settings in cloud inventory (IMDSv1 allowed, hop limit, endpoint, IPv6, tags, GCP legacy endpoints ' +
        'and default service accounts, GKE metadata server, Azure Metadata Security Protocol) and say how to fix each',
    )
    .argument('<files...>', 'inventory JSON as the CLIs print it (gzipped or not; "-" reads stdin)')
    .addOption(formatOption())
    .option('-o, --output <file>', 'write findings to FILE instead of stdout')
    .addOption(failOnOption())
    .option('--remediation-script <file>', 'write every remediation command into one shell script to review and run')
    .option(
      '--readiness <file>',
      'write the IMDSv2 readiness view (MetadataNoToken per instance) to FILE instead of stderr',
    )
    .option('--stats', 'print records read and records/s to stderr')
    .addHelpText(
      'after',
      `
Inputs: aws ec2 describe-instances | describe-launch-template-versions | describe-launch-templates |
get-instance-metadata-defaults; aws autoscaling describe-launch-configurations; aws cloudwatch get-metric-statistics
(--metric-name MetadataNoToken, one instance per file, the instance id in the file name) or get-metric-data (ids like
i_0abc…); gcloud compute instances list --format=json; gcloud container node-pools list --format=json (or clusters
describe); az vm list -d / az vm show -d.
Exit codes: 0 no finding at or above --fail-on; 1 findings; 2 usage or input error (every readable input is still
read and its findings written, -o included); 3 an output could not be written; 128+n stopped by signal n.
Examples:
  aws ec2 describe-instances > instances.json
  imdsguard posture instances.json metadata-no-token-i-0abc.json --remediation-script fix.sh`,
    )
    .action(async (inputs: string[], opts: Opts) => {
      // Loaded when the command runs, not at every start of the CLI.
      const [{ openSink }, posture, { writeOutputFile }] = await Promise.all([
        import('../../adapters/sinks/open-sink.ts'),
        import('../../app/posture.ts'),
        import('../../adapters/files/output-file.ts'),
      ]);
      await refuseOutputsAmongInputs([opts.output, opts.remediationScript, opts.readiness], inputs);
      const sink = await openSink(opts.format, opts.output, { wholeRun: true });
      let worst = false;
      const { result, problems } = await readInputsInto(
        sink,
        inputs,
        (hooks) =>
          posture.runPosture({
            inputs,
            ...(opts.remediationScript ? { remediationScript: opts.remediationScript } : {}),
            emit: (f) => {
              if (atLeast(f.severity, opts.failOn)) worst = true;
              return sink.write(f);
            },
            ...hooks,
          }),
        { worst: () => worst },
      );
      for (const f of result.unknown)
        process.stderr.write(`imdsguard: warning: ${f}: no inventory shape recognised in some records\n`);
      // Instance ids and HttpTokens come from the inventory: shown escaped on stderr and in the file alike.
      const masker = new Masker();
      const view = renderReadiness(
        result.readiness.map((r) => ({
          ...r,
          instance: sanitizeField(r.instance, masker),
          http_tokens: sanitizeField(r.http_tokens, masker),
        })),
        result.alreadyRequired,
      );
      if (opts.readiness) await writeOutputFile(opts.readiness, view);
      else process.stderr.write(view);
      if (opts.stats) {
        const rate = result.seconds > 0 ? Math.round(result.records / result.seconds) : result.records;
        process.stderr.write(
          `imdsguard posture: ${result.records} records, ${result.resources} resources in ${result.seconds.toFixed(2)} s, ${rate} records/s, ${result.findings} findings\n`,
        );
      }
      process.exitCode = inputsExitCode(problems, worst);
    });
}
