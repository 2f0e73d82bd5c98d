import { Command } from 'commander';
import type { SinkFormat } from '../../adapters/sinks/formats.ts';
import { atLeast, type Severity } from '../../core/model/severity.ts';
import { EXIT } from '../exit-codes.ts';
import { inputsExitCode, readInputsInto, refuseOutputsAmongInputs } from '../input-run.ts';
import { failOnOption, formatOption } from '../output-options.ts';
import { addPublishOptions, PUBLISH_HELP, type PublishFlags, publishSettings } from '../publish-options.ts';

function collect(v: string, prev: string[]): string[] {
  return [...prev, v];
}

interface Opts extends PublishFlags {
  inventory: string[];
  awsIpRanges?: string;
  format?: SinkFormat;
  output?: string;
  failOn: Severity;
  stats?: boolean;
}

export function cloudtrailCommand(): Command {
  const cmd = new Command('cloudtrail')
    .description(
      'Find instance credentials used away from their instance, IMDSv1-delivered credentials in use and reconnaissance ' +
        'with instance roles, in CloudTrail, GCP Cloud Audit Logs and Azure Activity Logs',
    )
    .argument(
      '[inputs...]',
      'files or directories (trail files, gzipped or not; JSON arrays; NDJSON); "-" or none reads stdin',
    )
    .option(
      '--inventory <file>',
      'inventory JSON naming instance addresses (describe-instances, describe-addresses, describe-nat-gateways, gcloud/az VM lists); repeatable',
      collect,
      [],
    )
    .option('--aws-ip-ranges <file>', "AWS's published ip-ranges.json, read offline, to tell addresses outside AWS")
    .addOption(formatOption())
    .option('-o, --output <file>', 'write records to FILE instead of stdout')
    .addOption(failOnOption())
    .option('--stats', 'print records read, records/s and findings to stderr');
  return addPublishOptions(cmd)
    .addHelpText(
      'after',
      `
Exit codes: 0 no finding at or above --fail-on; 1 findings; 2 usage or input error (every readable input is still
read and its findings written, -o included); 3 the output could not be written (or, with --publish-required, findings were left
unacknowledged); 128+n stopped by signal n.
Findings list the records they rest on in origin.event_ids (CloudTrail eventID, GCP insertId, Azure eventDataId).
Examples:
  imdsguard cloudtrail AWSLogs/123456789012/CloudTrail/ --inventory instances.json --inventory nat.json
  aws ec2 describe-instances > instances.json; imdsguard cloudtrail --aws-ip-ranges ip-ranges.json events.ndjson
  gcloud logging read 'logName:"cloudaudit"' --format=json | imdsguard cloudtrail --inventory gce.json -
  imdsguard cloudtrail --publish nats://hub:4222 --account 123456789012 --region eu-west-1 AWSLogs/
${PUBLISH_HELP}`,
    )
    .action(async (inputs: string[], opts: Opts) => {
      // Loaded when the command runs, not at every start of the CLI.
      const [{ openSink }, { runCloudtrail }] = await Promise.all([
        import('../../adapters/sinks/open-sink.ts'),
        import('../../app/cloudtrail.ts'),
      ]);
      await refuseOutputsAmongInputs([opts.output], inputs, [
        ...opts.inventory,
        ...(opts.awsIpRanges ? [opts.awsIpRanges] : []),
      ]);
      const publish = await publishSettings(opts, 'cloudtrail');
      const output = await openSink(opts.format, opts.output, { wholeRun: true });
      const publishing = publish
        ? (await import('../../app/fleet-publishing.ts')).FleetPublishing.start(publish, 'cloudtrail', (m) =>
            process.stderr.write(`imdsguard: ${m}\n`),
          )
        : undefined;
      const sink = publishing ? publishing.tee(output) : output;
      let worst = false;
      const { result: stats, problems } = await readInputsInto(
        sink,
        inputs,
        (hooks) =>
          runCloudtrail({
            inputs,
            inventory: opts.inventory,
            ...(opts.awsIpRanges ? { awsIpRanges: opts.awsIpRanges } : {}),
            emit: (f) => {
              if (atLeast(f.severity, opts.failOn)) worst = true;
              return sink.write(f);
            },
            ...hooks,
          }),
        { onAbort: async () => await publishing?.finish(), worst: () => worst },
      );
      for (const f of stats.unknownInventory)
        process.stderr.write(`imdsguard: warning: ${f}: no inventory shape recognised\n`);
      if (opts.stats) {
        const rate = stats.seconds > 0 ? Math.round(stats.records / stats.seconds) : stats.records;
        process.stderr.write(
          `imdsguard cloudtrail: ${stats.records} records (${stats.recognised} recognised, ${stats.instanceRecords} with instance credentials, ` +
            `${stats.serviceMade} service-made) in ${stats.seconds.toFixed(2)} s, ${rate} records/s, ${stats.findings} findings` +
            `${problems > 0 ? `, ${problems} input problem(s)` : ''}\n`,
        );
      } else if (stats.records > 0 && stats.recognised === 0) {
        process.stderr.write(
          'imdsguard: warning: no CloudTrail, Cloud Audit Logs or Activity Log record recognised in the input\n',
        );
      }
      const inputsCode = inputsExitCode(problems, worst);
      // What was found is in the outbox already; wait (bounded) for the server to acknowledge it.
      const published = publishing ? await publishing.finish() : undefined;
      if (published && publish) {
        const { describePublishOutcome } = await import('../../app/fleet-publishing.ts');
        process.stderr.write(describePublishOutcome(published, publish.outboxPath));
      }
      // An input error outranks findings (exit 2); the findings of every readable input were still written.
      process.exitCode = publish?.required && (published?.left ?? 0) > 0 ? EXIT.output : inputsCode;
    });
}
