import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { ImdsguardError } from '../../../core/errors.ts';
import { which } from '../host/which.ts';

const run = promisify(execFile);
export const AUDIT_KEY = 'imdsguard';

/**
 * The audit rules the agent installs on request: connect() for inet and inet6 only. Audit cannot filter on the
 * destination address, so every such connect is logged and filtered in user space.
 */
export const AUDIT_RULES: string[][] = [
  ['always,exit', '-F', 'arch=b64', '-S', 'connect', '-F', 'saddr_fam=2', '-F', `key=${AUDIT_KEY}`],
  ['always,exit', '-F', 'arch=b64', '-S', 'connect', '-F', 'saddr_fam=10', '-F', `key=${AUDIT_KEY}`],
];

export async function auditctl(args: string[]): Promise<string> {
  try {
    // Resolved through the sbin directories too: a service or CI environment may not have them on PATH.
    const { stdout } = await run((await which('auditctl')) ?? 'auditctl', args);
    return stdout;
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw new ImdsguardError('E_SENSOR', `auditctl ${args.join(' ')} failed: ${(err.stderr ?? err.message).trim()}`, {
      cause: e,
    });
  }
}

/** Install our rules (skipping ones already present). Returns the rules this call added. */
export async function installAuditRules(): Promise<string[][]> {
  const present = await auditctl(['-l']);
  const added: string[][] = [];
  for (const r of AUDIT_RULES) {
    const fam = r[5] as string;
    if (present.includes(`key=${AUDIT_KEY}`) && present.includes(fam)) continue;
    await auditctl(['-a', ...r]);
    added.push(r);
  }
  return added;
}

/** Remove rules installed by installAuditRules. Errors are reported, not thrown: stopping must finish. */
export async function removeAuditRules(rules: string[][] = AUDIT_RULES): Promise<string[]> {
  const errors: string[] = [];
  for (const r of rules) {
    try {
      await auditctl(['-d', ...r]);
    } catch (e) {
      errors.push((e as Error).message);
    }
  }
  return errors;
}

/** The kernel's audit status: enabled flag, daemon pid (0 when no daemon receives records), records lost, backlog. */
export interface AuditStatus {
  enabled: number;
  pid: number;
  /** Records the kernel dropped since boot (backlog full or rate limit): each may be a connection never seen. */
  lost: number;
  backlogLimit: number;
}

export async function auditStatus(): Promise<AuditStatus> {
  const out = await auditctl(['-s']);
  const field = (name: string): number => Number(new RegExp(`^${name} (\\d+)`, 'm').exec(out)?.[1] ?? 0);
  return { enabled: field('enabled'), pid: field('pid'), lost: field('lost'), backlogLimit: field('backlog_limit') };
}
