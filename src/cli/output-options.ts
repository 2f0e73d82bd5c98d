import { Option } from 'commander';
import { SINK_FORMATS } from '../adapters/sinks/formats.ts';
import { SEVERITIES } from '../core/model/severity.ts';

/** `--format`, the same for every command that writes records (table on a TTY, jsonl otherwise). */
export function formatOption(what = 'output format', formats: readonly string[] = SINK_FORMATS): Option {
  return new Option('--format <format>', `${what} (default: table on a TTY, jsonl otherwise)`).choices([...formats]);
}

/** `--fail-on`, the threshold behind exit code 1 (default medium, as the output contract says). */
export function failOnOption(): Option {
  return new Option('--fail-on <severity>', 'exit 1 when a finding is at or above this severity')
    .choices([...SEVERITIES])
    .default('medium');
}
