import { Command } from 'commander';
import { VERSION } from '../adapters/version.ts';
import { agentCommand } from './commands/agent.ts';
import { cloudtrailCommand } from './commands/cloudtrail.ts';
import { explainCommand } from './commands/explain.ts';
import { exportCommand } from './commands/export.ts';
import { findingsCommand } from './commands/findings.ts';
import { hubCommand } from './commands/hub.ts';
import { investigateCommand } from './commands/investigate.ts';
import { postureCommand } from './commands/posture.ts';
import { proxyCommand } from './commands/proxy.ts';
import { redactCommand } from './commands/redact.ts';
import { scanCommand } from './commands/scan.ts';

/** The commands, one file each under commands/. */
const COMMANDS: Array<() => Command> = [
  explainCommand,
  cloudtrailCommand,
  postureCommand,
  scanCommand,
  agentCommand,
  redactCommand,
  exportCommand,
  investigateCommand,
  proxyCommand,
  findingsCommand,
  hubCommand,
];

/** Every command, nested ones (`proxy redirect`) too, throws on a usage error instead of exiting 1: main answers 2. */
function throwOnUsageError(c: Command): Command {
  c.exitOverride();
  for (const sub of c.commands) throwOnUsageError(sub);
  return c;
}

export function buildProgram(): Command {
  const program = new Command('imdsguard')
    .description('Detect and prevent abuse of cloud instance metadata services')
    .version(VERSION, '-V, --version')
    .showHelpAfterError()
    .exitOverride();
  for (const make of COMMANDS) program.addCommand(throwOnUsageError(make()));
  return program;
}
