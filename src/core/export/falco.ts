/**
 * Falco rules: connections to any metadata address from processes that are not cloud agents (on the host), and
 * from containers. Syscall-level, so they see every client, whatever its language or HTTP library.
 */
import { stringify } from 'yaml';
import { type ExportOptions, type ExportResult, REFERENCE } from './export-file.ts';
import { exportedIPv4, exportedIPv6 } from './patterns.ts';

const HEADER = (
  o: ExportOptions,
) => `# imdsguard ${o.version}: Falco rules for connections to cloud instance metadata services.
# Not loaded into Falco here (Falco is not installable on the build machines); the test suite checks the file
# against Falco's rule schema (rule/macro/list items and their required keys, priorities), its documented field
# names and operators, and that every list and macro used is defined.
# What Falco cannot express that imdsguard does: the HTTP request itself (path, IMDSv1 vs v2 token header) is not
# visible at connect(); names are not resolved (metadata.google.internal is reached by its address, matched
# here); TLS and proxies hide the final destination; an in-process allowlist of SDK callers needs the
# in-process guard (imdsguard/guard/register).
`;

interface FalcoItem {
  [k: string]: unknown;
}

/** Programs that legitimately talk to the metadata service on a host. Extend with an append: true list. */
const EXPECTED_PROCS = [
  'amazon-ssm-agent',
  'ssm-agent-worker',
  'ssm-session-worker',
  'ec2-instance-connect',
  'eic_run_authorized_keys',
  'google_guest_agent',
  'google_metadata_script_runner',
  'google_osconfig_agent',
  'waagent',
  'WALinuxAgent',
  'cloud-init',
  'aws-node',
  'eks-pod-identity-agent',
  'kubelet',
  'containerd',
  'dockerd',
  'chronyd',
  'systemd-networkd',
  'dhclient',
  'nm-dispatcher',
];

export function falcoItems(): FalcoItem[] {
  const addrs = [...exportedIPv4(), ...exportedIPv6()];
  const output =
    'connection to cloud metadata service (dest=%fd.sip:%fd.sport proc=%proc.name exe=%proc.exepath cmdline=%proc.cmdline pid=%proc.pid ppid=%proc.ppid user=%user.name uid=%user.uid container=%container.id image=%container.image.repository k8s_ns=%k8s.ns.name k8s_pod=%k8s.pod.name)';
  return [
    { list: 'imdsguard_metadata_addresses', items: addrs },
    { list: 'imdsguard_expected_metadata_procs', items: EXPECTED_PROCS },
    { list: 'imdsguard_expected_metadata_images', items: [] },
    {
      macro: 'imdsguard_outbound_connect',
      condition:
        'evt.type = connect and evt.dir = < and (fd.typechar = 4 or fd.typechar = 6) and (evt.rawres >= 0 or evt.res = EINPROGRESS)',
    },
    {
      macro: 'imdsguard_metadata_destination',
      condition: '(fd.sip in (imdsguard_metadata_addresses) or (fd.sip in ("127.0.0.1", "::1") and fd.sport = 40342))',
    },
    {
      rule: 'imdsguard: metadata service contacted by unexpected process',
      desc: 'A host process other than the cloud agents connected to a cloud instance metadata address. Shells, interpreters and download tools doing so are typical of credential theft (T1552.005). Applications that use a cloud SDK belong in imdsguard_expected_metadata_procs.',
      condition:
        'imdsguard_outbound_connect and imdsguard_metadata_destination and container.id = host and not proc.name in (imdsguard_expected_metadata_procs)',
      output: `Unexpected process made a ${output}`,
      priority: 'WARNING',
      tags: ['network', 'host', 'mitre_credential_access', 'T1552.005'],
    },
    {
      rule: 'imdsguard: metadata service contacted from a container',
      desc: 'A container connected to a cloud instance metadata address. Containers should get credentials from their orchestrator (IRSA, Pod Identity, Workload Identity), not the node role; with IMDSv2 and a hop limit of 1 this connection cannot succeed on AWS.',
      condition:
        'imdsguard_outbound_connect and imdsguard_metadata_destination and container.id != host and not container.image.repository in (imdsguard_expected_metadata_images)',
      output: `Container made a ${output}`,
      priority: 'WARNING',
      tags: ['network', 'container', 'mitre_credential_access', 'T1552.005'],
    },
  ];
}

export function exportFalco(o: ExportOptions): ExportResult {
  const content = `${HEADER(o)}# Reference: ${REFERENCE}\n${stringify(falcoItems(), { lineWidth: 0 })}`;
  return { files: [{ name: 'imdsguard-falco-rules.yaml', content }], combined: content };
}
