import { ATTACK } from '../model/attack.ts';
import { type Finding, makeFinding } from '../model/finding.ts';
import { maxSeverity, raiseSeverity, type Severity } from '../model/severity.ts';
import type { CloudCall } from '../parse/cloud-call.ts';
import { mask, secretHash } from '../secrets/mask.ts';
import { type AddressBook, type AwsRanges, addressClass, canonicalIp } from './cloud-address-book.ts';
import { reconClass } from './cloud-recon.ts';

/** Why a use of instance credentials is not the instance's own. */
export type OutsideReason =
  /** Inventory knows the instance and the address is none of its own, Elastic or NAT addresses. */
  | 'not-instance-address'
  /** A public address outside every published AWS range. */
  | 'outside-aws'
  /** Through a VPC endpoint owned by an account that is neither the credential's nor the recipient's. */
  | 'foreign-vpc-endpoint'
  /** The key was first used from another address (lock to first address). */
  | 'address-change'
  /** The address also carried calls made with human or long-term credentials: a workstation, not the instance. */
  | 'address-of-other-principal';

const REASON_SEVERITY: Record<OutsideReason, Severity> = {
  'not-instance-address': 'high',
  'outside-aws': 'high',
  'foreign-vpc-endpoint': 'high',
  'address-change': 'medium',
  'address-of-other-principal': 'medium',
};
const REASON_CONFIDENCE: Record<OutsideReason, number> = {
  'not-instance-address': 0.9,
  'outside-aws': 0.9,
  'foreign-vpc-endpoint': 0.85,
  'address-change': 0.6,
  'address-of-other-principal': 0.65,
};

export const RULES = {
  outside: { id: 'cloud-instance-credentials-outside-use', name: 'Instance credentials used away from their instance' },
  imdsv1: { id: 'cloud-imdsv1-credentials-in-use', name: 'Credentials delivered by IMDSv1 in use' },
  recon: { id: 'cloud-instance-role-reconnaissance', name: 'Reconnaissance with instance credentials' },
} as const;

export interface CorrelatorOptions {
  book?: AddressBook;
  ranges?: AwsRanges;
  /**
   * Records per finding before a group is written out and restarted (default 1000): memory is bounded by groups ×
   * batch, not by input size.
   */
  batch?: number;
  /** Records kept per not-yet-suspicious address, in case later records make it suspicious. */
  pendingPerGroup?: number;
  /** Bound on tracked keys, addresses and groups. */
  maxTracked?: number;
  /**
   * Salt of the secret hashes: with it, findings list `evidence.access_key_hashes`, the same salted hashes leak
   * findings carry, so `investigate` can tie a key seen in a log to its use in the trail.
   */
  keySalt?: string;
}

interface Group {
  rule: keyof typeof RULES;
  provider: CloudCall['provider'];
  account: string;
  role: string;
  instanceId: string;
  instanceKey: string;
  address?: string;
  vpce?: string;
  vpceAccount?: string;
  ids: string[];
  count: number;
  firstTime: string;
  lastTime: string;
  reasons: Set<OutsideReason>;
  names: Map<string, number>;
  keys: Set<string>;
  errors: number;
  severity: Severity;
  part: number;
  unlisted: number;
  categories: Set<string>;
}

/** Access key ids are shown masked like every other credential: `ASIA****1FXV`. */
export const maskKeyId = mask;

const INSTANCE_KINDS = new Set<CloudCall['credentialKind']>([
  'aws-instance-profile',
  'aws-instance-identity',
  'gcp-service-account-token',
  'azure-vm-managed-identity',
]);

/**
 * Correlates cloud audit records about instance credentials: used away from their instance, delivered by IMDSv1,
 * used for reconnaissance. Feed every record to `observe` in any order, then call `finish`. Findings aggregate
 * per role and instance (and address) and list every record they rest on in `origin.event_ids`; a group is
 * written out every `batch` records so memory stays flat. Pure: time comes from the records.
 */
export class InstanceCredentialCorrelator {
  private readonly book: AddressBook | undefined;
  private readonly ranges: AwsRanges | undefined;
  private readonly batch: number;
  private readonly pendingPerGroup: number;
  private readonly maxTracked: number;
  private readonly maxPending: number;
  private readonly keySalt: string | undefined;
  private readonly groups = new Map<string, Group>();
  private readonly pending = new Map<string, Group>();
  private readonly keyToInstance = new Map<string, { instanceId: string; role?: string }>();
  private readonly firstAddress = new Map<string, string>();
  private readonly humanAddresses = new Set<string>();
  /** instanceKey → outside-use seen, to raise reconnaissance from the same credentials. */
  private readonly stolen = new Set<string>();
  stats = { records: 0, instanceRecords: 0, serviceMade: 0, dropped: 0 };

  constructor(opts: CorrelatorOptions = {}) {
    this.book = opts.book;
    this.ranges = opts.ranges;
    this.batch = opts.batch ?? 1000;
    this.pendingPerGroup = opts.pendingPerGroup ?? 16;
    this.maxTracked = opts.maxTracked ?? 500_000;
    this.keySalt = opts.keySalt;
    // Pending groups hold record ids: fewer of them, so the worst case stays near 100 MiB.
    this.maxPending = Math.min(this.maxTracked, 100_000);
  }

  private bounded<K, V>(m: Map<K, V>, k: K, v: V): void {
    if (m.size >= this.maxTracked && !m.has(k)) {
      const oldest = m.keys().next();
      if (!oldest.done) m.delete(oldest.value);
    }
    m.set(k, v);
  }

  observe(c: CloudCall): Finding[] {
    this.stats.records++;
    const out: Finding[] = [];
    if (c.issuance) {
      this.bounded(this.keyToInstance, c.issuance.accessKeyId, {
        instanceId: c.issuance.instanceId,
        ...(c.issuance.role ? { role: c.issuance.role } : {}),
      });
      return out;
    }
    const ip = c.sourceIp ? canonicalIp(c.sourceIp) : undefined;
    const cls = addressClass(ip);
    if (c.credentialKind === 'human' && !c.serviceMade && ip && cls !== 'not-ip') {
      if (this.humanAddresses.size < this.maxTracked) this.humanAddresses.add(ip);
      return out;
    }
    let call = c;
    if (!INSTANCE_KINDS.has(c.credentialKind) && c.accessKeyId && this.keyToInstance.has(c.accessKeyId)) {
      // The key was issued to an instance by ec2.amazonaws.com: it is that instance's credential whatever the ARN says.
      const t = this.keyToInstance.get(c.accessKeyId) as { instanceId: string; role?: string };
      call = {
        ...c,
        credentialKind: 'aws-instance-profile',
        instanceId: t.instanceId,
        instanceKey: t.instanceId.toLowerCase(),
        ...(t.role ? { role: t.role } : {}),
      };
    }
    if (!INSTANCE_KINDS.has(call.credentialKind)) return out;
    this.stats.instanceRecords++;
    const base = {
      provider: call.provider,
      account: call.account ?? call.credentialAccount ?? '',
      role: call.role ?? '',
      instanceId: call.instanceId ?? '',
      instanceKey: call.instanceKey ?? call.role ?? '',
    };

    // IMDSv1 delivery and reconnaissance are grouped per address as well: the instance's own calls and each thief's
    // are separate findings, so no finding's events belong to two actors (one finding holding two attackers'
    // records would tie their incidents together in `investigate`).
    const from = ip && cls !== 'not-ip' ? ip : '';
    const at = from ? { address: from } : {};
    if (call.provider === 'aws' && call.roleDelivery === '1.0') {
      out.push(...this.add('imdsv1', `v1|${base.account}|${base.role}|${base.instanceKey}|${from}`, base, call, at));
    }
    if (call.serviceMade) {
      this.stats.serviceMade++;
      return out;
    }
    const reasons: OutsideReason[] = [];
    if (
      call.vpcEndpointAccountId &&
      call.vpcEndpointAccountId !== call.credentialAccount &&
      call.vpcEndpointAccountId !== call.recipientAccountId &&
      call.vpcEndpointAccountId !== 'AWS'
    ) {
      reasons.push('foreign-vpc-endpoint');
    }
    let owned: ReadonlySet<string> | undefined;
    if (this.book) {
      owned =
        call.provider === 'gcp'
          ? this.book.serviceAccount(base.role)
          : this.book.instance(call.provider, base.instanceKey);
    }
    const recon = reconClass(call);
    // Describe calls from the instance's own address are its software at work, not reconnaissance.
    if (recon && !(recon.category === 'describe' && ip !== undefined && owned?.has(ip))) {
      out.push(
        ...this.add('recon', `recon|${base.account}|${base.role}|${base.instanceKey}|${from}`, base, call, {
          severity: recon.severity,
          category: recon.category,
          ...at,
        }),
      );
    }

    if (ip && cls !== 'not-ip') {
      if (owned) {
        if (!owned.has(ip)) reasons.push('not-instance-address');
      } else {
        if (this.ranges && call.provider === 'aws' && cls === 'public' && !this.ranges.contains(ip))
          reasons.push('outside-aws');
        // Lock each credential to the first address it is used from, per channel (a VPC endpoint shows the private
        // address, the public endpoints the public one) and per address family.
        if (call.provider !== 'gcp') {
          const fam = ip.includes(':') ? '6' : '4';
          const lockKey = `${call.provider}|${call.accessKeyId ?? base.instanceKey}|${call.vpcEndpointId ? 'vpce' : 'direct'}|${fam}`;
          const first = this.firstAddress.get(lockKey);
          if (first === undefined) this.bounded(this.firstAddress, lockKey, ip);
          else if (first !== ip) reasons.push('address-change');
        }
        if (this.humanAddresses.has(ip)) reasons.push('address-of-other-principal');
      }
    }
    const gkey = `out|${base.account}|${base.role}|${base.instanceKey}|${ip ?? ''}|${call.vpcEndpointId ?? ''}`;
    const extra = {
      ...(ip ? { address: ip } : {}),
      ...(call.vpcEndpointId ? { vpce: call.vpcEndpointId } : {}),
      ...(call.vpcEndpointAccountId ? { vpceAccount: call.vpcEndpointAccountId } : {}),
    };
    if (reasons.length > 0) {
      this.stolen.add(`${base.account}|${base.instanceKey}`);
      const p = this.pending.get(gkey);
      if (p) {
        // Earlier records from the same address become evidence too.
        this.pending.delete(gkey);
        const g = this.groupFor('outside', gkey, base, extra, p.firstTime);
        g.ids.push(...p.ids);
        g.count += p.count;
        g.unlisted += p.unlisted;
        for (const [n, k] of p.names) g.names.set(n, (g.names.get(n) ?? 0) + k);
        for (const k of p.keys) g.keys.add(k);
      }
      out.push(...this.add('outside', gkey, base, call, { reasons, ...extra }));
    } else if (ip && cls !== 'not-ip' && !owned) {
      // Not suspicious yet: keep a few records in case the address turns out to be a workstation's.
      let p = this.pending.get(gkey);
      if (!p) {
        if (this.pending.size >= this.maxPending) {
          this.stats.dropped++;
          return out;
        }
        p = this.newGroup('outside', base, extra, call.time);
        this.pending.set(gkey, p);
      }
      p.count++;
      if (p.ids.length < this.pendingPerGroup) p.ids.push(call.eventId);
      else p.unlisted++;
      p.names.set(call.eventName, (p.names.get(call.eventName) ?? 0) + 1);
      if (call.accessKeyId && p.keys.size < 16) p.keys.add(call.accessKeyId);
      if (call.time && call.time > p.lastTime) p.lastTime = call.time;
    }
    return out;
  }

  /** Resolve what only the whole input can tell, and write every open group out. */
  finish(): Finding[] {
    const out: Finding[] = [];
    for (const [k, p] of this.pending) {
      if (p.address && this.humanAddresses.has(p.address)) {
        p.reasons.add('address-of-other-principal');
        p.severity = REASON_SEVERITY['address-of-other-principal'];
        this.stolen.add(`${p.account}|${p.instanceKey}`);
        this.groups.set(k, p);
      }
    }
    this.pending.clear();
    for (const g of this.groups.values()) {
      const f = g.count > 0 ? this.toFinding(g) : undefined;
      if (f) out.push(f);
    }
    this.groups.clear();
    return out;
  }

  private newGroup(
    rule: Group['rule'],
    base: Pick<Group, 'provider' | 'account' | 'role' | 'instanceId' | 'instanceKey'>,
    extra: Partial<Group>,
    time: string,
  ): Group {
    return {
      rule,
      ...base,
      ...extra,
      ids: [],
      count: 0,
      firstTime: time,
      lastTime: time,
      reasons: new Set(),
      names: new Map(),
      keys: new Set(),
      errors: 0,
      severity: 'info',
      part: 0,
      unlisted: 0,
      categories: new Set(),
    };
  }

  private groupFor(
    rule: Group['rule'],
    key: string,
    base: Pick<Group, 'provider' | 'account' | 'role' | 'instanceId' | 'instanceKey'>,
    extra: Partial<Group>,
    time: string,
  ): Group {
    let g = this.groups.get(key);
    if (!g) {
      g = this.newGroup(rule, base, extra, time);
      this.groups.set(key, g);
    }
    return g;
  }

  private add(
    rule: Group['rule'],
    key: string,
    base: Pick<Group, 'provider' | 'account' | 'role' | 'instanceId' | 'instanceKey'>,
    c: CloudCall,
    info: {
      reasons?: OutsideReason[];
      severity?: Severity;
      category?: string;
      address?: string;
      vpce?: string;
      vpceAccount?: string;
    },
  ): Finding[] {
    const { reasons, severity, category, ...extra } = info;
    const g = this.groupFor(rule, key, base, extra, c.time);
    g.count++;
    // Routine Describe calls only matter once the instance is suspected: until then keep a few, count the rest.
    if (
      category === 'describe' &&
      g.ids.length >= this.pendingPerGroup &&
      !this.stolen.has(`${base.account}|${base.instanceKey}`)
    ) {
      g.unlisted++;
    } else {
      g.ids.push(c.eventId);
    }
    if (c.time && (g.firstTime === '' || c.time < g.firstTime)) g.firstTime = c.time;
    if (c.time && c.time > g.lastTime) g.lastTime = c.time;
    if (g.names.size < 64 || g.names.has(c.eventName)) g.names.set(c.eventName, (g.names.get(c.eventName) ?? 0) + 1);
    if (c.accessKeyId && g.keys.size < 16) g.keys.add(c.accessKeyId);
    if (c.errorCode) g.errors++;
    for (const r of reasons ?? []) {
      g.reasons.add(r);
      g.severity = maxSeverity(g.severity, REASON_SEVERITY[r]);
    }
    if (severity) g.severity = maxSeverity(g.severity, severity);
    if (category) g.categories.add(category);
    if (rule === 'imdsv1') g.severity = 'medium';
    if (g.ids.length >= this.batch) {
      const f = this.toFinding(g);
      g.ids = [];
      g.count = 0;
      g.names = new Map();
      g.errors = 0;
      g.unlisted = 0;
      g.part++;
      g.firstTime = '';
      return f ? [f] : [];
    }
    return [];
  }

  /** The group's finding, or undefined when it is not worth one (routine Describe calls from unsuspected instances). */
  private toFinding(g: Group): Finding | undefined {
    const who =
      g.provider === 'aws'
        ? `instance ${g.instanceId}`
        : g.provider === 'gcp'
          ? `service account ${g.role}`
          : `VM ${g.instanceId.replace(/^.*\//, '')}`;
    const roleText = g.provider === 'aws' ? ` (role ${g.role})` : '';
    const names = [...g.names.entries()].sort((a, b) => b[1] - a[1]);
    const evidence: Record<string, unknown> = {
      records: g.count,
      event_names: Object.fromEntries(names),
      first_time: g.firstTime || undefined,
      last_time: g.lastTime || undefined,
    };
    if (g.keys.size > 0) evidence.access_keys = [...g.keys].map(maskKeyId);
    const salt = this.keySalt;
    if (g.keys.size > 0 && salt !== undefined) evidence.access_key_hashes = [...g.keys].map((k) => secretHash(k, salt));
    if (g.errors > 0) evidence.errors = g.errors;
    if (g.part > 0) evidence.part = g.part + 1;
    if (g.unlisted > 0) evidence.records_not_listed = g.unlisted;
    const resource = {
      id: g.provider === 'gcp' ? g.role : g.instanceId,
      kind: g.provider === 'aws' ? 'ec2-instance' : g.provider === 'gcp' ? 'gcp-service-account' : 'azure-vm',
      ...(g.account ? { account: g.account } : {}),
    };
    const common = {
      attack: [ATTACK.cloudInstanceMetadataApi, ATTACK.validAccountsCloud],
      origin: { event_ids: [...g.ids], format: `${g.provider}-audit` },
      provider: g.provider,
      resource,
      principal: g.role,
      ...(g.firstTime ? { time: g.firstTime } : {}),
    };
    const idEv = [g.account, g.role, g.instanceKey, g.address, g.vpce, g.ids[0]];
    if (g.rule === 'outside') {
      const reasons = [...g.reasons];
      let sev = g.severity;
      if ([...g.names.keys()].some((n) => n === 'ConsoleLogin' || n === 'GetSigninToken' || n === 'GetFederationToken'))
        sev = 'critical';
      const confidence = Math.max(...reasons.map((r) => REASON_CONFIDENCE[r]), 0.5);
      evidence.reasons = reasons;
      if (g.vpce) evidence.vpc_endpoint_id = g.vpce;
      if (g.vpceAccount) evidence.vpc_endpoint_account_id = g.vpceAccount;
      const where = g.address ?? g.vpce ?? 'an unknown address';
      return makeFinding({
        rule: RULES.outside,
        severity: sev,
        confidence,
        title: `Credentials of ${who}${roleText} used from ${where}${g.vpce ? ` through ${g.vpce}` : ''} (${reasons.join(', ')})`,
        remediation: outsideRemediation(g),
        ...common,
        ...(g.address ? { client: { ip: g.address } } : {}),
        evidence,
        idEvidence: idEv,
      });
    }
    if (g.rule === 'imdsv1') {
      return makeFinding({
        rule: RULES.imdsv1,
        severity: 'medium',
        confidence: 0.95,
        title: `Role ${g.role} on ${who} uses credentials served by IMDSv1 (ec2RoleDelivery 1.0)${g.address ? ` from ${g.address}` : ''}`,
        remediation:
          `Require IMDSv2 on the instance once nothing on it still calls without a token (check MetadataNoToken with ` +
          `'imdsguard posture --readiness'): aws ec2 modify-instance-metadata-options --instance-id ${g.instanceId} ` +
          `--http-tokens required --http-put-response-hop-limit 1`,
        ...common,
        ...(g.address ? { client: { ip: g.address } } : {}),
        evidence,
        idEvidence: idEv,
      });
    }
    const suspected = this.stolen.has(`${g.account}|${g.instanceKey}`);
    // Instances describe their own world all day; Describe calls only count next to other evidence.
    if (!suspected && [...g.categories].every((c) => c === 'describe')) return undefined;
    let sev = g.severity;
    if (suspected) sev = raiseSeverity(sev);
    if (g.errors >= 3) sev = raiseSeverity(sev);
    evidence.categories = [...g.categories];
    return makeFinding({
      rule: RULES.recon,
      severity: sev,
      confidence: this.stolen.has(`${g.account}|${g.instanceKey}`) ? 0.85 : 0.5,
      title: `Reconnaissance calls with the credentials of ${who}${roleText}${g.address ? ` from ${g.address}` : ''}: ${names
        .slice(0, 4)
        .map(([n]) => n)
        .join(', ')}`,
      remediation:
        'Check whether software on the instance makes these calls; if not, treat the credentials as stolen: revoke the ' +
        "role's sessions, require IMDSv2 and look for the SSRF or code execution that reached the metadata service.",
      ...common,
      ...(g.address ? { client: { ip: g.address } } : {}),
      evidence,
      idEvidence: [...idEv, 'recon'],
    });
  }
}

function outsideRemediation(g: Group): string {
  if (g.provider === 'aws') {
    const policy = JSON.stringify({
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Deny',
          Action: '*',
          Resource: '*',
          Condition: { DateLessThan: { 'aws:TokenIssueTime': g.lastTime || 'NOW' } },
        },
      ],
    });
    return (
      `Revoke the role's active sessions: aws iam put-role-policy --role-name ${g.role} --policy-name AWSRevokeOlderSessions ` +
      `--policy-document '${policy}'; require IMDSv2 with hop limit 1 on ${g.instanceId}; limit where the role's ` +
      'credentials work with the aws:ec2InstanceSourceVpc and aws:ec2InstanceSourcePrivateIPv4 condition keys; find how the ' +
      'metadata service was reached (SSRF, code execution).'
    );
  }
  if (g.provider === 'gcp') {
    return (
      `Treat the tokens of ${g.role} as stolen: find the VM whose metadata server was reached, remove or narrow the roles ` +
      'bound to the service account, and restrict it with VPC Service Controls; disable it if needed: ' +
      `gcloud iam service-accounts disable ${g.role}`
    );
  }
  return (
    `Treat the managed identity of ${g.instanceId} as stolen: remove its role assignments ` +
    `(az role assignment list --assignee <principal-id>), find how the VM's IMDS was reached, and restrict with ` +
    'conditional access for workload identities where available.'
  );
}
