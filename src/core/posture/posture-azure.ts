import type { PostureIssue } from './posture-finding.ts';
import type { InventoryResource } from './posture-inventory.ts';
import { cmd } from './posture-shell.ts';

export const AZURE_RULES = {
  msp: {
    id: 'posture-azure-metadata-security-protocol-off',
    name: 'Azure VM without the Metadata Security Protocol enforced',
  },
} as const;

/** `az vm show` / `az vm list`: is the Metadata Security Protocol (proxy agent) enforcing on IMDS? */
export function azureIssues(r: InventoryResource): PostureIssue[] {
  if (r.kind !== 'azure-vm') return [];
  const raw = r.raw.securityProfile as
    | { proxyAgentSettings?: { enabled?: boolean; mode?: string; imds?: { mode?: string } } }
    | null
    | undefined;
  const p = raw?.proxyAgentSettings;
  const mode = p?.imds?.mode ?? p?.mode ?? (p?.enabled ? 'Enforce' : undefined);
  if (p?.enabled === true && mode === 'Enforce') return [];
  const audit = p?.enabled === true;
  return [
    {
      rule: AZURE_RULES.msp,
      severity: audit ? 'low' : r.hasRole ? 'medium' : 'low',
      title: audit
        ? `${r.id} runs the Metadata Security Protocol in audit mode only`
        : `${r.id} has no Metadata Security Protocol${r.hasRole ? ' and holds a managed identity' : ''}`,
      description:
        'Without the Metadata Security Protocol any process (or SSRF) on the VM that sends the Metadata: true header gets managed identity tokens from IMDS.',
      commands: [
        cmd(
          'az',
          'vm',
          'update',
          ...(r.group ? ['--resource-group', r.group] : []),
          '--name',
          r.id,
          '--set',
          'securityProfile.proxyAgentSettings.enabled=true',
          'securityProfile.proxyAgentSettings.imds.mode=Enforce',
        ),
      ],
      evidence: {
        proxy_agent_enabled: p?.enabled ?? false,
        mode: mode ?? null,
        identity: r.options.identityType || null,
      },
    },
  ];
}
