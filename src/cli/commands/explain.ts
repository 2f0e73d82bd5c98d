import { Command, Option } from 'commander';
import { jsonText } from '../../adapters/sinks/json-text.ts';
import { openOutput, type TextOutput } from '../../adapters/sinks/output.ts';
import { sanitizeForTerminal } from '../../adapters/sinks/sanitize.ts';
import { textLines } from '../../adapters/sources/text-lines.ts';
import type { ExplainRecord } from '../../app/explain.ts';
import { Masker, maskRecord } from '../../core/secrets/masker.ts';
import { EXIT } from '../exit-codes.ts';

function renderBlock(r: ExplainRecord, masker: Masker): string {
  const t = (s: string) => sanitizeForTerminal(s, masker);
  const lines = [`${t(r.input)}`, `  verdict: ${r.verdict}`];
  for (const h of r.hits) {
    lines.push(
      `  - ${h.verdict}${h.provider ? ` ${h.provider}` : ''}${h.service ? `/${h.service}` : ''}${h.internal_kind ? ` (${h.internal_kind})` : ''}`,
      `    endpoint: ${t(h.endpoint.canonical)}${h.endpoint.port !== null ? `:${h.endpoint.port}` : ''} (written ${t(h.endpoint.written)})`,
      `    path: ${t(h.path || '/')}  class: ${h.path_class}  sensitivity: ${h.sensitivity}`,
      `    transforms: ${h.transforms.length > 0 ? t(h.transforms.join(' → ')) : '(none)'}`,
    );
    for (const d of h.disagreements) lines.push(`    note: ${t(d)}`);
  }
  for (const c of r.context) lines.push(`  context: ${t(c.endpoint)} read as ${c.reading} (${c.outcome}): ${t(c.why)}`);
  return `${lines.join('\n')}\n`;
}

/**
 * The input is pasted text and may hold a credential next to the address: every record is masked like any other
 * output, and the table masks again once escape sequences are stripped from each line it prints.
 */
async function emit(out: TextOutput, format: string, input: ExplainRecord, masker: Masker): Promise<void> {
  const r = maskRecord(input, masker);
  const s = format === 'table' ? renderBlock(r, masker) : `${jsonText(r)}\n`;
  await out.write(s);
}

export function explainCommand(): Command {
  return new Command('explain')
    .description('Say whether each input addresses a cloud metadata service once every encoding is undone, and how')
    .argument('[text...]', 'inputs to explain; without any, one input per line is read from stdin')
    .addOption(
      new Option('--format <format>', 'output format (default: table on a TTY, jsonl otherwise)').choices([
        'table',
        'jsonl',
      ]),
    )
    .option('--field <name>', 'treat each input as the value of this parameter (e.g. url)')
    .option('-o, --output <file>', 'write records to FILE instead of stdout')
    .addHelpText(
      'after',
      `
Exit code: 0 whatever the verdicts; 2 on a usage or input error; 3 the output could not be written.
Examples:
  imdsguard explain 'http://0xA9FEA9FE/latest/meta-data/iam/security-credentials/'
  imdsguard explain --format jsonl < payloads.txt`,
    )
    .action(async (texts: string[], opts: { format?: string; field?: string; output?: string }) => {
      // Loaded when the command runs, not at every start of the CLI.
      const [{ explain }, { refuseOutputAmongInputs, refuseStdoutAmongInputs }] = await Promise.all([
        import('../../app/explain.ts'),
        import('../../adapters/files/output-file.ts'),
      ]);
      if (texts.length === 0 && opts.output && opts.output !== '-') await refuseOutputAmongInputs(opts.output, ['-']);
      else if (texts.length === 0) await refuseStdoutAmongInputs(['-']);
      const out = await openOutput(opts.output, { wholeRun: true });
      const format = opts.format ?? (out.isTTY ? 'table' : 'jsonl');
      // One masker for the run: a secret seen in one input is masked wherever it shows up in a later one.
      const masker = new Masker();
      try {
        if (texts.length > 0) {
          for (const t of texts) await emit(out, format, explain(t, opts.field), masker);
        } else {
          for await (const line of textLines(process.stdin)) await emit(out, format, explain(line, opts.field), masker);
        }
        await out.close();
      } catch (e) {
        await out.abort?.();
        throw e;
      }
      process.exitCode = EXIT.ok;
    });
}
