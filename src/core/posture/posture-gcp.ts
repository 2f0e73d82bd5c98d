import type { PostureIssue } from './posture-finding.ts';
import type { InventoryResource } from './posture-inventory.ts';
import { cmd } from './posture-shell.ts';

export const GCP_RULES = {
  legacy: { id: 'posture-gcp-legacy-endpoints', name: 'Legacy metadata endpoints not disabled' },
  defaultSa: {
    id: 'posture-gcp-default-service-account-broad-scope',
    name: 'Default compute service account with broad scopes',
  },
  gkeMetadata: { id: 'posture-gke-metadata-server-off', name: 'GKE node pool without the GKE metadata server' },
} as const;

const CLOUD_PLATFORM = 'https://www.googleapis.com/auth/cloud-platform';
const isDefaultSa = (email: string) => email === 'default' || /-compute@developer\.gserviceaccount\.com$/i.test(email);

/** GCE instances (`gcloud compute instances list --format=json`) and GKE node pools. */
export function gcpIssues(r: InventoryResource): PostureIssue[] {
  const out: PostureIssue[] = [];
  if (r.kind === 'gce-instance') {
    if (r.state === 'TERMINATED') return out;
    if (String(r.options['disable-legacy-endpoints'] ?? '').toLowerCase() !== 'true') {
      out.push({
        rule: GCP_RULES.legacy,
        severity: 'medium',
        title: `${r.id} does not disable the legacy metadata endpoints`,
        description:
          'The v0.1 and v1beta1 endpoints answer without the Metadata-Flavor header, so a plain SSRF GET reaches them where they still run.',
        commands: [
          cmd(
            'gcloud',
            'compute',
            'instances',
            'add-metadata',
            r.id,
            ...(r.zone ? ['--zone', r.zone] : []),
            '--metadata',
            'disable-legacy-endpoints=TRUE',
          ),
        ],
      });
    }
    for (const sa of r.serviceAccounts) {
      if (!isDefaultSa(sa.email)) continue;
      const broad = sa.scopes.includes(CLOUD_PLATFORM);
      out.push({
        rule: GCP_RULES.defaultSa,
        severity: broad ? 'high' : 'low',
        title: `${r.id} runs as the default compute service account${broad ? ' with the cloud-platform scope' : ''}`,
        description:
          'The default compute service account holds project Editor in many projects; with the cloud-platform scope a token from the metadata ' +
          'server can use all of it. Run the VM as a dedicated service account with only the roles it needs.',
        commands: [
          cmd('gcloud', 'compute', 'instances', 'stop', r.id, ...(r.zone ? ['--zone', r.zone] : [])),
          `${cmd('gcloud', 'compute', 'instances', 'set-service-account', r.id, ...(r.zone ? ['--zone', r.zone] : []))} --service-account "\${SERVICE_ACCOUNT:?set a dedicated service account}" --scopes cloud-platform`,
          cmd('gcloud', 'compute', 'instances', 'start', r.id, ...(r.zone ? ['--zone', r.zone] : [])),
        ],
        evidence: { service_account: sa.email, scopes: sa.scopes },
      });
    }
    return out;
  }
  if (r.kind === 'gke-node-pool') {
    const loc = r.zone ? ['--location', r.zone] : [];
    const cluster = r.cluster ? ['--cluster', r.cluster] : [];
    const mode = String(r.options.workloadMetadataMode ?? '');
    if (mode !== 'GKE_METADATA') {
      out.push({
        rule: GCP_RULES.gkeMetadata,
        severity: 'high',
        title: `Node pool ${r.id}${r.cluster ? ` of cluster ${r.cluster}` : ''} exposes the node's metadata server to pods (mode ${mode || 'unset'})`,
        description:
          "Without the GKE metadata server every pod can read the node service account's token and the kube-env attributes.",
        commands: [
          `${cmd('gcloud', 'container', 'clusters', 'update', r.cluster ?? 'CLUSTER', ...loc)} --workload-pool="\${PROJECT_ID:?set the project id}.svc.id.goog"`,
          cmd(
            'gcloud',
            'container',
            'node-pools',
            'update',
            r.id,
            ...cluster,
            ...loc,
            '--workload-metadata=GKE_METADATA',
          ),
        ],
        evidence: { workload_metadata_mode: mode || null },
      });
    }
    if (String(r.options['disable-legacy-endpoints'] ?? '').toLowerCase() !== 'true') {
      out.push({
        rule: GCP_RULES.legacy,
        severity: 'medium',
        title: `Node pool ${r.id} does not disable the legacy metadata endpoints`,
        description:
          'Node pool metadata can only be set at creation: create a replacement pool and move the workloads.',
        commands: [
          cmd(
            'gcloud',
            'container',
            'node-pools',
            'create',
            `${r.id}-v2`,
            ...cluster,
            ...loc,
            '--metadata',
            'disable-legacy-endpoints=true',
            '--workload-metadata=GKE_METADATA',
          ),
        ],
      });
    }
    for (const sa of r.serviceAccounts) {
      if (!isDefaultSa(sa.email) || !sa.scopes.includes(CLOUD_PLATFORM)) continue;
      out.push({
        rule: GCP_RULES.defaultSa,
        severity: 'high',
        title: `Node pool ${r.id} runs as the default compute service account with the cloud-platform scope`,
        description:
          'Node service accounts cannot be changed in place: create a pool with a minimal dedicated service account and move the workloads.',
        commands: [
          `${cmd('gcloud', 'container', 'node-pools', 'create', `${r.id}-v2`, ...cluster, ...loc)} --service-account "\${SERVICE_ACCOUNT:?set a dedicated service account}" --workload-metadata=GKE_METADATA`,
        ],
        evidence: { service_account: sa.email, scopes: sa.scopes },
      });
    }
  }
  return out;
}
