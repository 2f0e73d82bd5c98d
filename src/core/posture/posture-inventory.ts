/**
 * Inventory JSON as the cloud CLIs print it → normalised facts. One reader for `posture` and for the address
 * ownership `cloudtrail` needs. Shapes: `aws ec2 describe-instances`, `describe-launch-templates`,
 * `describe-launch-template-versions`, `get-instance-metadata-defaults`, `describe-nat-gateways`,
 * `describe-addresses`, `aws autoscaling describe-launch-configurations`, CloudWatch `MetadataNoToken`
 * statistics (`get-metric-statistics` / `get-metric-data`); `gcloud compute instances list --format=json`,
 * GKE node pools (`node-pools list`, or a cluster's `nodePools`); `az vm show` / `az vm list` (with `-d` for addresses).
 */

type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj | undefined =>
  v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : undefined;
const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

export type ResourceKind =
  | 'ec2-instance'
  | 'launch-template-version'
  | 'launch-configuration'
  | 'account-defaults'
  | 'gce-instance'
  | 'gke-node-pool'
  | 'azure-vm';

export interface InventoryResource {
  provider: 'aws' | 'gcp' | 'azure';
  kind: ResourceKind;
  /** InstanceId, LaunchTemplateId, launch configuration name, GCE instance name, node pool name, Azure VM name. */
  id: string;
  /** Extra naming the remediation needs (zone, cluster, resource group, template version). */
  region?: string;
  zone?: string;
  group?: string;
  cluster?: string;
  version?: number;
  vpcId?: string;
  state?: string;
  /** Full cloud id (Azure resource id, GCE self link). */
  fullId?: string;
  addresses: string[];
  /** The instance carries a role / service account / managed identity. */
  hasRole: boolean;
  roleName?: string;
  serviceAccounts: Array<{ email: string; scopes: string[] }>;
  /** Provider metadata options, as the CLI printed them. */
  options: Obj;
  /** Where it was read: file and JSON pointer. */
  file: string;
  pointer: string;
  raw: Obj;
}

export interface InventoryFacts {
  resources: InventoryResource[];
  /** NAT gateway public addresses by VPC id. */
  natByVpc: Map<string, string[]>;
  /** Elastic IP by instance id (lower case). */
  eipByInstance: Map<string, string[]>;
  /** Sum of CloudWatch MetadataNoToken by instance id (lower case). */
  noTokenByInstance: Map<string, number>;
  /** Inputs that matched no known shape. */
  unknown: string[];
}

export function emptyFacts(): InventoryFacts {
  return { resources: [], natByVpc: new Map(), eipByInstance: new Map(), noTokenByInstance: new Map(), unknown: [] };
}

/**
 * Wrapper keys whose arrays a streaming reader may cut into one record per element (a fleet's
 * `describe-instances` can be gigabytes). Each element is handed back with its key to `readInventoryRecord`.
 */
export const INVENTORY_RECORD_KEYS: ReadonlySet<string> = new Set([
  'Reservations',
  'LaunchTemplateVersions',
  'LaunchTemplates',
  'LaunchConfigurations',
  'NatGateways',
  'Addresses',
  'MetricDataResults',
  'nodePools',
]);

/**
 * Read one streamed inventory record: an element of a wrapper array (`key` set), an element of a top-level array,
 * or a whole top-level object.
 */
export function readInventoryRecord(
  value: unknown,
  key: string | undefined,
  file: string,
  facts: InventoryFacts,
): InventoryFacts {
  if (key) return readInventory({ [key]: [value] }, file, facts);
  return readInventory(value, file, facts);
}

const INSTANCE_ID = /\bi-[0-9a-f]{8,17}\b/i;

function push<K, V>(m: Map<K, V[]>, k: K, v: V): void {
  const a = m.get(k);
  if (a) a.push(v);
  else m.set(k, [v]);
}

function awsInstance(i: Obj, file: string, pointer: string): InventoryResource | undefined {
  const id = str(i.InstanceId);
  if (!id) return undefined;
  const addrs = new Set<string>();
  for (const k of ['PrivateIpAddress', 'PublicIpAddress', 'Ipv6Address']) {
    const v = str(i[k]);
    if (v) addrs.add(v);
  }
  for (const ni of arr(i.NetworkInterfaces)) {
    const n = obj(ni) ?? {};
    const pub = str(obj(n.Association)?.PublicIp);
    if (pub) addrs.add(pub);
    for (const p of arr(n.PrivateIpAddresses)) {
      const po = obj(p) ?? {};
      const a = str(po.PrivateIpAddress);
      if (a) addrs.add(a);
      const ap = str(obj(po.Association)?.PublicIp);
      if (ap) addrs.add(ap);
    }
    for (const p of arr(n.Ipv6Addresses)) {
      const a = str(obj(p)?.Ipv6Address);
      if (a) addrs.add(a);
    }
  }
  const profile = str(obj(i.IamInstanceProfile)?.Arn);
  const az = str(obj(i.Placement)?.AvailabilityZone);
  const r: InventoryResource = {
    provider: 'aws',
    kind: 'ec2-instance',
    id,
    addresses: [...addrs],
    hasRole: profile !== undefined,
    serviceAccounts: [],
    options: obj(i.MetadataOptions) ?? {},
    file,
    pointer,
    raw: i,
  };
  if (profile) r.roleName = profile.replace(/^.*:instance-profile\/(?:.*\/)?/, '');
  if (az) {
    r.zone = az;
    r.region = az.replace(/[a-z]$/, '');
  }
  const vpc = str(i.VpcId);
  if (vpc) r.vpcId = vpc;
  const state = str(obj(i.State)?.Name);
  if (state) r.state = state;
  return r;
}

function gceInstance(i: Obj, file: string, pointer: string): InventoryResource | undefined {
  const name = str(i.name);
  if (!name) return undefined;
  const addrs: string[] = [];
  for (const ni of arr(i.networkInterfaces)) {
    const n = obj(ni) ?? {};
    const ip = str(n.networkIP);
    if (ip) addrs.push(ip);
    for (const ac of [...arr(n.accessConfigs), ...arr(n.ipv6AccessConfigs)]) {
      const a = obj(ac) ?? {};
      const nat = str(a.natIP) ?? str(a.externalIpv6);
      if (nat) addrs.push(nat);
    }
  }
  const sas = arr(i.serviceAccounts).map((s) => {
    const o = obj(s) ?? {};
    return { email: str(o.email) ?? '', scopes: arr(o.scopes).filter((x): x is string => typeof x === 'string') };
  });
  const items: Obj = {};
  for (const it of arr(obj(i.metadata)?.items)) {
    const o = obj(it) ?? {};
    const k = str(o.key);
    if (k) items[k] = o.value;
  }
  const zone = str(i.zone)?.replace(/^.*\//, '');
  const r: InventoryResource = {
    provider: 'gcp',
    kind: 'gce-instance',
    id: name,
    addresses: addrs,
    hasRole: sas.some((s) => s.email !== ''),
    serviceAccounts: sas,
    options: items,
    file,
    pointer,
    raw: i,
  };
  if (zone) {
    r.zone = zone;
    r.region = zone.replace(/-[a-z]$/, '');
  }
  const self = str(i.selfLink);
  if (self) r.fullId = self;
  const status = str(i.status);
  if (status) r.state = status;
  return r;
}

function gkeNodePool(
  p: Obj,
  file: string,
  pointer: string,
  cluster?: string,
  location?: string,
): InventoryResource | undefined {
  const name = str(p.name);
  const cfg = obj(p.config);
  if (!name || !cfg) return undefined;
  const self = str(p.selfLink) ?? '';
  const m = /\/(?:locations|zones)\/([^/]+)\/clusters\/([^/]+)\/nodePools\//.exec(self);
  const r: InventoryResource = {
    provider: 'gcp',
    kind: 'gke-node-pool',
    id: name,
    addresses: [],
    hasRole: true,
    serviceAccounts: [
      {
        email: str(cfg.serviceAccount) ?? 'default',
        scopes: arr(cfg.oauthScopes).filter((x): x is string => typeof x === 'string'),
      },
    ],
    options: {
      workloadMetadataMode:
        str(obj(cfg.workloadMetadataConfig)?.mode) ?? str(obj(cfg.workloadMetadataConfig)?.nodeMetadata),
      ...(obj(cfg.metadata) ?? {}),
    },
    file,
    pointer,
    raw: p,
  };
  const c = cluster ?? m?.[2];
  const loc = location ?? m?.[1];
  if (c) r.cluster = c;
  if (loc) r.zone = loc;
  return r;
}

function azureVm(v: Obj, file: string, pointer: string): InventoryResource | undefined {
  const name = str(v.name);
  if (!name) return undefined;
  const addrs: string[] = [];
  for (const k of ['publicIps', 'privateIps']) {
    for (const a of (str(v[k]) ?? '').split(',')) if (a.trim()) addrs.push(a.trim());
  }
  const identity = obj(v.identity);
  const idType = str(identity?.type) ?? '';
  const sec = obj(v.securityProfile) ?? {};
  const proxy = obj(sec.proxyAgentSettings) ?? {};
  const r: InventoryResource = {
    provider: 'azure',
    kind: 'azure-vm',
    id: name,
    addresses: addrs,
    hasRole: idType !== '' && idType.toLowerCase() !== 'none',
    serviceAccounts: [],
    options: { proxyAgentEnabled: proxy.enabled, proxyAgentMode: proxy.mode, identityType: idType },
    file,
    pointer,
    raw: v,
  };
  const rg = str(v.resourceGroup) ?? /\/resourceGroups\/([^/]+)\//i.exec(str(v.id) ?? '')?.[1];
  if (rg) r.group = rg;
  const id = str(v.id);
  if (id) r.fullId = id;
  const loc = str(v.location);
  if (loc) r.region = loc;
  return r;
}

function noTokenSum(points: unknown[]): number {
  let s = 0;
  for (const p of points) {
    const o = obj(p) ?? {};
    const v =
      typeof o.Sum === 'number'
        ? o.Sum
        : typeof o.Maximum === 'number'
          ? o.Maximum
          : typeof o.Average === 'number'
            ? o.Average
            : 0;
    s += v;
  }
  return s;
}

/**
 * Read one parsed inventory document into `facts`.
 * @example readInventory({ Reservations: [{ Instances: [{ InstanceId: 'i-0abc12345678', MetadataOptions: { HttpTokens: 'optional' } }] }] }, 'inv.json', emptyFacts())
 */
export function readInventory(doc: unknown, file: string, facts: InventoryFacts): InventoryFacts {
  const before = facts.resources.length + facts.natByVpc.size + facts.eipByInstance.size + facts.noTokenByInstance.size;
  const o = obj(doc);
  if (o) readObject(o, file, '', facts);
  else if (Array.isArray(doc)) {
    doc.forEach((x, i) => {
      const e = obj(x);
      if (e) readObject(e, file, `/${i}`, facts, true);
    });
  }
  const after = facts.resources.length + facts.natByVpc.size + facts.eipByInstance.size + facts.noTokenByInstance.size;
  if (after === before && !(Array.isArray(doc) && doc.length === 0) && !facts.unknown.includes(file))
    facts.unknown.push(file);
  return facts;
}

function readObject(o: Obj, file: string, ptr: string, facts: InventoryFacts, inArray = false): void {
  if (Array.isArray(o.Reservations)) {
    arr(o.Reservations).forEach((res, ri) => {
      arr(obj(res)?.Instances).forEach((inst, ii) => {
        const r = awsInstance(obj(inst) ?? {}, file, `${ptr}/Reservations/${ri}/Instances/${ii}`);
        if (r) facts.resources.push(r);
      });
    });
    return;
  }
  if (Array.isArray(o.Instances) && !inArray) {
    arr(o.Instances).forEach((inst, ii) => {
      const r = awsInstance(obj(inst) ?? {}, file, `${ptr}/Instances/${ii}`);
      if (r) facts.resources.push(r);
    });
    return;
  }
  if (str(o.InstanceId) && obj(o.MetadataOptions)) {
    const r = awsInstance(o, file, ptr);
    if (r) facts.resources.push(r);
    return;
  }
  if (Array.isArray(o.LaunchTemplateVersions)) {
    arr(o.LaunchTemplateVersions).forEach((v, i) => {
      const lv = obj(v) ?? {};
      const id = str(lv.LaunchTemplateId);
      if (!id) return;
      const data = obj(lv.LaunchTemplateData) ?? {};
      const r: InventoryResource = {
        provider: 'aws',
        kind: 'launch-template-version',
        id,
        addresses: [],
        hasRole: obj(data.IamInstanceProfile) !== undefined,
        serviceAccounts: [],
        options: obj(data.MetadataOptions) ?? {},
        file,
        pointer: `${ptr}/LaunchTemplateVersions/${i}`,
        raw: lv,
      };
      if (typeof lv.VersionNumber === 'number') r.version = lv.VersionNumber;
      if (lv.DefaultVersion === true) r.state = 'default';
      facts.resources.push(r);
    });
    return;
  }
  if (Array.isArray(o.LaunchTemplates)) {
    // describe-launch-templates names templates but carries no metadata options: they are read from versions.
    facts.resources.push(
      ...arr(o.LaunchTemplates).flatMap((t, i): InventoryResource[] => {
        const lt = obj(t) ?? {};
        const id = str(lt.LaunchTemplateId);
        if (!id) return [];
        return [
          {
            provider: 'aws',
            kind: 'launch-template-version',
            id,
            addresses: [],
            hasRole: false,
            serviceAccounts: [],
            options: {},
            file,
            pointer: `${ptr}/LaunchTemplates/${i}`,
            raw: lt,
            state: 'unknown-options',
            ...(typeof lt.DefaultVersionNumber === 'number' ? { version: lt.DefaultVersionNumber } : {}),
          },
        ];
      }),
    );
    return;
  }
  if (Array.isArray(o.LaunchConfigurations)) {
    arr(o.LaunchConfigurations).forEach((c, i) => {
      const lc = obj(c) ?? {};
      const id = str(lc.LaunchConfigurationName);
      if (!id) return;
      facts.resources.push({
        provider: 'aws',
        kind: 'launch-configuration',
        id,
        addresses: [],
        hasRole: str(lc.IamInstanceProfile) !== undefined,
        serviceAccounts: [],
        options: obj(lc.MetadataOptions) ?? {},
        file,
        pointer: `${ptr}/LaunchConfigurations/${i}`,
        raw: lc,
      });
    });
    return;
  }
  if (obj(o.AccountLevel)) {
    facts.resources.push({
      provider: 'aws',
      kind: 'account-defaults',
      id: 'account-defaults',
      addresses: [],
      hasRole: false,
      serviceAccounts: [],
      options: obj(o.AccountLevel) ?? {},
      file,
      pointer: `${ptr}/AccountLevel`,
      raw: o,
    });
    return;
  }
  if (Array.isArray(o.NatGateways)) {
    for (const n of arr(o.NatGateways)) {
      const ng = obj(n) ?? {};
      const vpc = str(ng.VpcId);
      if (!vpc) continue;
      for (const a of arr(ng.NatGatewayAddresses)) {
        const ao = obj(a) ?? {};
        for (const k of ['PublicIp', 'PrivateIp']) {
          const ip = str(ao[k]);
          if (ip) push(facts.natByVpc, vpc, ip);
        }
      }
    }
    return;
  }
  if (Array.isArray(o.Addresses)) {
    for (const a of arr(o.Addresses)) {
      const ao = obj(a) ?? {};
      const inst = str(ao.InstanceId);
      const ip = str(ao.PublicIp);
      if (inst && ip) push(facts.eipByInstance, inst.toLowerCase(), ip);
    }
    return;
  }
  if (Array.isArray(o.Datapoints) || Array.isArray(o.MetricDataResults)) {
    if (Array.isArray(o.Datapoints)) {
      const id = INSTANCE_ID.exec(str(o.Label) ?? '')?.[0] ?? INSTANCE_ID.exec(file)?.[0];
      if (id)
        facts.noTokenByInstance.set(
          id.toLowerCase(),
          (facts.noTokenByInstance.get(id.toLowerCase()) ?? 0) + noTokenSum(arr(o.Datapoints)),
        );
    }
    for (const m of arr(o.MetricDataResults)) {
      const mo = obj(m) ?? {};
      const label = `${str(mo.Label) ?? ''} ${(str(mo.Id) ?? '').replace(/_/g, '-')}`;
      const id = INSTANCE_ID.exec(label)?.[0];
      if (!id) continue;
      const s = arr(mo.Values).reduce<number>((a, v) => a + (typeof v === 'number' ? v : 0), 0);
      facts.noTokenByInstance.set(id.toLowerCase(), (facts.noTokenByInstance.get(id.toLowerCase()) ?? 0) + s);
    }
    return;
  }
  if (Array.isArray(o.nodePools)) {
    const loc = str(o.location) ?? str(o.zone);
    arr(o.nodePools).forEach((p, i) => {
      const r = gkeNodePool(obj(p) ?? {}, file, `${ptr}/nodePools/${i}`, str(o.name), loc);
      if (r) facts.resources.push(r);
    });
    return;
  }
  const kind = str(o.kind);
  if (kind === 'compute#instance') {
    const r = gceInstance(o, file, ptr);
    if (r) facts.resources.push(r);
    return;
  }
  if (
    obj(o.config) &&
    (str(o.selfLink)?.includes('/nodePools/') || o.initialNodeCount !== undefined || obj(o.management))
  ) {
    const r = gkeNodePool(o, file, ptr);
    if (r) facts.resources.push(r);
    return;
  }
  if (str(o.type)?.toLowerCase() === 'microsoft.compute/virtualmachines') {
    const r = azureVm(o, file, ptr);
    if (r) facts.resources.push(r);
  }
}
