import { Command, Option } from 'commander';
import { openOutput } from '../../adapters/sinks/output.ts';
import { VERSION } from '../../adapters/version.ts';
import { ImdsguardError } from '../../core/errors.ts';
import { EXPORT_TARGETS, type ExportTarget } from '../../core/export/index.ts';
import { EXIT } from '../exit-codes.ts';

export function exportCommand(): Command {
  return new Command('export')
    .description("Write imdsguard's detections in another engine's rule language")
    .addOption(new Option('--to <engine>', 'target engine').choices([...EXPORT_TARGETS]).makeOptionMandatory())
    .option(
      '-o, --output <dir>',
      'write one file per rule set into DIR (created if missing); default: one document on stdout',
    )
    .option(
      '--id-base <n>',
      'first rule id: ModSecurity ids (default 91000, local-use range) or Suricata sids (default 1910000)',
    )
    .addHelpText(
      'after',
      `
Engines:
  sigma        Sigma rules: web server and proxy logs, Linux network connections, CloudTrail
  falco        Falco rules: connections to metadata addresses from unexpected processes and containers
  modsecurity  ModSecurity v2/v3 and Coraza SecRules, with decoding transformations
  aws-waf      AWS WAF regex pattern sets and a rule group (CreateRegexPatternSet / CreateRuleGroup JSON)
  suricata     Suricata rules for HTTP to metadata addresses and SSRF payloads
Each file's header says what the engine's language cannot express.
Exit code: 0 written; 2 on a usage error; 3 the output could not be written.
Examples:
  imdsguard export --to modsecurity -o /etc/modsecurity/imdsguard
  imdsguard export --to sigma > imdsguard-sigma.yml`,
    )
    .action(async (opts: { to: ExportTarget; output?: string; idBase?: string }) => {
      let idBase: number | undefined;
      if (opts.idBase !== undefined) {
        idBase = Number(opts.idBase);
        if (!Number.isInteger(idBase) || idBase < 1)
          throw new ImdsguardError('E_USAGE', `Cannot use --id-base "${opts.idBase}" (expected a positive integer)`);
      }
      const out = opts.output ? undefined : await openOutput();
      const { runExport } = await import('../../app/export.ts');
      const written = await runExport(
        {
          target: opts.to,
          version: VERSION,
          ...(opts.output ? { dir: opts.output } : {}),
          ...(idBase !== undefined ? { idBase } : {}),
        },
        (s) => out?.write(s),
      );
      if (out) await out.close();
      for (const p of written) process.stderr.write(`imdsguard: wrote ${p}\n`);
      process.exitCode = EXIT.ok;
    });
}
