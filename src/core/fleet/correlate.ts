/**
 * Cross-host correlation: what no single sensor can see. Pure: the state is a plain JSON object the caller stores
 * (the hub keeps it in SQLite), time comes from the findings, and observing the same envelope twice changes nothing
 * and yields nothing new, so a redelivered message after a hub restart cannot produce a second hub finding.
 *
 * Four joins:
 *  - the same leaked secret (by its salted hash, never the value) on two or more hosts;
 *  - one rule firing on many hosts within a window (a campaign, or a shared image), for findings that are not
 *    leaks or callers, which have their own, sharper joins;
 *  - a metadata caller (executable, or interpreter + script) never seen on any other host of the fleet, against one
 *    seen on many (the fleet baseline: what runs everywhere is usually the cloud agent or the SDK);
 *  - a host fetching a role's credentials from the metadata service, joined with CloudTrail findings of that role's
 *    credentials used away from the instance.
 */
import { ATTACK } from '../model/attack.ts';
import { type Finding, makeFinding } from '../model/finding.ts';
import { maxSeverity, raiseSeverity, type Severity } from '../model/severity.ts';
import { envelopeMsgId, type FleetEnvelope } from './contract.ts';

export const HUB_RULES = {
  sharedSecret: { id: 'fleet-secret-on-many-hosts', name: 'The same leaked secret on several hosts' },
  ruleSpread: { id: 'fleet-rule-on-many-hosts', name: 'One rule firing on many hosts within a window' },
  uniqueCaller: { id: 'fleet-caller-unique', name: 'Metadata caller seen on no other host of the fleet' },
  commonCaller: { id: 'fleet-caller-common', name: 'Metadata caller seen on many hosts of the fleet' },
  credentialsElsewhere: {
    id: 'fleet-credentials-fetched-then-used-elsewhere',
    name: "A host's metadata credential fetch, then the role's credentials used away from it",
  },
} as const;

export interface CorrelatorOptions {
  /** Distinct hosts one rule must fire on within `ruleWindowMs` (default 3). */
  ruleHosts: number;
  ruleWindowMs: number;
  /** Hosts a caller must be seen on to count as common (default 3). */
  commonCallerHosts: number;
  /** Hosts the fleet must have reported from before a caller can be called unique (default 3): no baseline before. */
  minFleetHosts: number;
  /** How long fetched credentials can be in use (default 12 h: the longest instance-role session). */
  credentialWindowMs: number;
  /** Bounds on remembered keys per table; the oldest go first. */
  maxKeys: number;
  maxHostsPerKey: number;
}

export const DEFAULT_CORRELATOR_OPTIONS: CorrelatorOptions = {
  ruleHosts: 3,
  ruleWindowMs: 10 * 60_000,
  commonCallerHosts: 3,
  minFleetHosts: 3,
  credentialWindowMs: 12 * 3_600_000,
  maxKeys: 50_000,
  maxHostsPerKey: 1_000,
};

/** One finding as the correlator remembers it: who, when, which. */
interface Seen {
  host: string;
  ms: number;
  /** The finding id cited in `related`. */
  fid: string;
}

interface Fetch extends Seen {
  account: string;
  role: string;
}

interface Use extends Seen {
  account: string;
  role: string;
  ip?: string;
}

export interface CorrelatorState {
  v: 1;
  /** Envelope message ids already observed: what makes observing idempotent. key → ms. */
  seen: Record<string, number>;
  hosts: Record<string, number>;
  secrets: Record<string, { kind: string; masked: string; hosts: Record<string, Seen> }>;
  rules: Record<string, { name: string; severity: Severity; hits: Seen[]; episodeUntil: number }>;
  callers: Record<string, { hosts: Record<string, Seen>; common: boolean }>;
  fetches: Record<string, Fetch[]>;
  uses: Record<string, Use[]>;
  /** Hub finding ids already produced. */
  emitted: Record<string, number>;
}

export function newCorrelatorState(): CorrelatorState {
  return { v: 1, seen: {}, hosts: {}, secrets: {}, rules: {}, callers: {}, fetches: {}, uses: {}, emitted: {} };
}

function findingMs(e: FleetEnvelope): number {
  const t = Date.parse(e.finding.time ?? '');
  if (Number.isFinite(t)) return t;
  const s = Date.parse(e.sent_at);
  return Number.isFinite(s) ? s : 0;
}

/**
 * Drop the oldest keys of a table beyond `max` (by the newest time each holds), down to 90% of it, so that the
 * sort runs once per tenth of the table rather than on every new key.
 */
function bound<T>(table: Record<string, T>, max: number, newest: (v: T) => number): void {
  const keys = Object.keys(table);
  if (keys.length <= max) return;
  keys.sort((a, b) => newest(table[a]!) - newest(table[b]!));
  for (const k of keys.slice(0, keys.length - Math.floor(max * 0.9))) delete table[k];
}

const INTERPRETERS = /^(?:python[0-9.]*|node|nodejs|perl|ruby|bash|sh|dash|zsh|php[0-9.]*|java)$/;

function base(p: string): string {
  const i = p.lastIndexOf('/');
  return i >= 0 ? p.slice(i + 1) : p;
}

/**
 * A caller's fleet identity: its executable path, plus the script for interpreters (every Python caller shares
 * /usr/bin/python3). Pids and arguments beyond the script differ between hosts and are left out.
 */
export function callerIdentity(f: Finding): string | undefined {
  const p = f.process;
  if (!p) return undefined;
  const exe = p.exe ?? p.argv?.[0];
  if (!exe) return undefined;
  if (INTERPRETERS.test(base(exe))) {
    const script = p.argv?.slice(1).find((a) => a !== '' && !a.startsWith('-'));
    if (script) return `${exe} ${script}`;
  }
  return exe;
}

const CREDENTIALS_PATH = /\/meta-data\/iam\/security-credentials\/([^/?#\s]+)/;

/** The role whose credentials a host or proxy finding fetched, from the request path. */
export function fetchedRole(f: Finding): string | undefined {
  for (const p of [f.http?.path, f.target?.path, f.target?.decoded]) {
    const m = p ? CREDENTIALS_PATH.exec(p) : null;
    if (m) return decodeURIComponent(m[1]!);
  }
  return undefined;
}

/**
 * The role a CloudTrail finding is about: its principal, which is a role name or an assumed-role ARN
 * (arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION).
 */
export function principalRole(f: Finding): string | undefined {
  const p = f.principal;
  if (!p) return undefined;
  const m = /:assumed-role\/([^/]+)/.exec(p) ?? /:role\/(?:.*\/)?([^/]+)$/.exec(p);
  return m ? m[1] : p;
}

/** CloudTrail rules that mean a role's credentials were used where the instance is not. */
const USED_ELSEWHERE_RULES = new Set(['cloud-instance-credentials-outside-use', 'cloud-instance-role-reconnaissance']);

/** The table's entry for `key`, made when absent. */
function entry<T>(table: Record<string, T>, key: string, make: () => NoInfer<T>): T {
  let v = table[key];
  if (v === undefined) {
    v = make();
    table[key] = v;
  }
  return v;
}

function accountsMatch(a: string, b: string): boolean {
  return a === '_' || b === '_' || a === b;
}

function related(seen: Iterable<Seen>): NonNullable<Finding['related']> {
  return [...seen].map((s) => ({ finding_id: s.fid, note: `host ${s.host}` }));
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

/**
 * Observe one envelope; returns the hub findings it completes (usually none). Hub findings themselves are not
 * correlated again. Changes `state` in place.
 */
export function correlate(
  state: CorrelatorState,
  e: FleetEnvelope,
  opts: CorrelatorOptions = DEFAULT_CORRELATOR_OPTIONS,
): Finding[] {
  if (e.source === 'hub') return [];
  const key = envelopeMsgId(e);
  if (state.seen[key] !== undefined) return [];
  const ms = findingMs(e);
  state.seen[key] = ms;
  const host = e.host.id;
  const f = e.finding;
  state.hosts[host] = Math.max(state.hosts[host] ?? 0, ms);
  const me: Seen = { host, ms, fid: f.id };
  const out: Finding[] = [];
  const emit = (x: Finding) => {
    if (state.emitted[x.id] !== undefined) return;
    state.emitted[x.id] = ms;
    out.push(x);
  };

  // (a) the same secret on several hosts.
  if (f.secret?.hash) {
    const secret = f.secret;
    const s = entry(state.secrets, secret.hash, () => ({ kind: secret.kind, masked: secret.masked, hosts: {} }));
    if (!s.hosts[host] && Object.keys(s.hosts).length < opts.maxHostsPerKey) {
      s.hosts[host] = me;
      const hosts = Object.values(s.hosts);
      if (hosts.length >= 2) {
        const names = hosts.map((h) => h.host).sort();
        emit(
          makeFinding({
            rule: HUB_RULES.sharedSecret,
            severity: 'critical',
            confidence: 0.95,
            attack: [ATTACK.unsecuredCredentials, ATTACK.credentialsInFiles],
            title: `The same ${s.kind} secret ${s.masked} appears on ${hosts.length} hosts: ${names.join(', ')}`,
            remediation:
              'Rotate the secret once, everywhere it is used; then find how it reached each host (an image, a config ' +
              'management template, a shared log) and remove it from the source.',
            origin: { sensor: 'hub' },
            time: iso(ms),
            secret: { kind: s.kind, masked: s.masked, hash: f.secret.hash },
            evidence: { hosts: names },
            related: related(hosts),
            idEvidence: ['secret', f.secret.hash, ...names],
          }),
        );
      }
    }
  }

  // (b) one rule on many hosts within a window. Leaks are joined by their secret and callers by their identity
  // (below): the same rule on different secrets or different callers says nothing shared.
  const caller = e.source === 'agent' || e.source === 'proxy' ? callerIdentity(f) : undefined;
  if (!f.secret?.hash && !caller) {
    const r = entry(state.rules, f.rule.id, () => ({
      name: f.rule.name,
      severity: f.severity,
      hits: [],
      episodeUntil: 0,
    }));
    r.severity = maxSeverity(r.severity, f.severity);
    r.hits = r.hits.filter((h) => ms - h.ms <= opts.ruleWindowMs && h.ms - ms <= opts.ruleWindowMs);
    r.hits.push(me);
    if (r.hits.length > opts.maxHostsPerKey * 4) r.hits.splice(0, r.hits.length - opts.maxHostsPerKey * 4);
    const byHost = new Map<string, Seen>();
    for (const h of r.hits) if (!byHost.has(h.host)) byHost.set(h.host, h);
    if (byHost.size >= opts.ruleHosts && ms > r.episodeUntil) {
      const first = Math.min(...r.hits.map((h) => h.ms));
      r.episodeUntil = ms + opts.ruleWindowMs;
      const names = [...byHost.keys()].sort();
      emit(
        makeFinding({
          rule: HUB_RULES.ruleSpread,
          severity: raiseSeverity(r.severity === 'info' ? 'low' : r.severity),
          confidence: 0.8,
          attack: f.attack,
          title: `${f.rule.id} fired on ${byHost.size} hosts within ${Math.round(opts.ruleWindowMs / 60_000)} min: ${names.slice(0, 8).join(', ')}${names.length > 8 ? ', …' : ''}`,
          remediation:
            'A rule firing across hosts at once points to one cause: a campaign against a shared entry point, or a ' +
            'shared image or configuration. Look at what the hosts have in common before treating them one by one.',
          origin: { sensor: 'hub' },
          time: iso(ms),
          evidence: { rule: f.rule.id, hosts: names, first_time: iso(first), window_ms: opts.ruleWindowMs },
          related: related(byHost.values()),
          idEvidence: ['rule-spread', f.rule.id, first, ...names],
        }),
      );
    }
  }

  // (c) fleet baseline of metadata callers.
  if (caller) {
    const c = entry(state.callers, caller, () => ({ hosts: {}, common: false }));
    const isNewHost = !c.hosts[host];
    if (isNewHost && Object.keys(c.hosts).length < opts.maxHostsPerKey) c.hosts[host] = me;
    const hosts = Object.values(c.hosts);
    const fleet = Object.keys(state.hosts).length;
    if (isNewHost && hosts.length === 1 && fleet >= opts.minFleetHosts) {
      emit(
        makeFinding({
          rule: HUB_RULES.uniqueCaller,
          severity: raiseSeverity(f.severity === 'info' ? 'low' : f.severity),
          confidence: 0.7,
          attack: [ATTACK.cloudInstanceMetadataApi],
          title: `${caller} called the metadata service on ${host} and on none of the other ${fleet - 1} hosts`,
          remediation:
            'A caller that runs on one host only is not the cloud agent or the SDK the fleet shares: find who ' +
            'installed it and what it did with the answers.',
          origin: { sensor: 'hub' },
          time: iso(ms),
          ...(f.process ? { process: f.process } : {}),
          evidence: { caller, host, fleet_hosts: fleet },
          related: related([me]),
          idEvidence: ['caller-unique', caller, host],
        }),
      );
    }
    if (!c.common && hosts.length >= opts.commonCallerHosts) {
      c.common = true;
      const names = hosts.map((h) => h.host).sort();
      emit(
        makeFinding({
          rule: HUB_RULES.commonCaller,
          severity: 'info',
          confidence: 0.8,
          attack: [ATTACK.cloudInstanceMetadataApi],
          title: `${caller} calls the metadata service on ${hosts.length} hosts: part of the fleet baseline`,
          remediation:
            'Usually a cloud agent or an SDK every host runs; if so, allow it in the agent allowlist or proxy policy ' +
            'so that its findings stop, and keep the rare callers in view.',
          origin: { sensor: 'hub' },
          time: iso(ms),
          evidence: { caller, hosts: names },
          related: related(hosts),
          idEvidence: ['caller-common', caller],
        }),
      );
    }
  }

  // (d) credential fetch on a host, then the role's credentials used elsewhere.
  const role =
    e.source === 'agent' || e.source === 'proxy'
      ? fetchedRole(f)
      : e.source === 'cloudtrail' && USED_ELSEWHERE_RULES.has(f.rule.id)
        ? principalRole(f)
        : undefined;
  if (role) {
    const near = (a: number, b: number) => Math.abs(a - b) <= opts.credentialWindowMs;
    let pairs: Array<[Fetch, Use]> = [];
    if (e.source === 'cloudtrail') {
      const use: Use = { ...me, account: e.account, role, ...(f.client?.ip ? { ip: f.client.ip } : {}) };
      const list = entry(state.uses, role, () => []);
      list.push(use);
      if (list.length > opts.maxHostsPerKey) list.splice(0, list.length - opts.maxHostsPerKey);
      pairs = (state.fetches[role] ?? [])
        .filter((x) => near(x.ms, use.ms) && accountsMatch(x.account, use.account))
        .map((x) => [x, use]);
    } else {
      const fetch: Fetch = { ...me, account: e.account, role };
      const list = entry(state.fetches, role, () => []);
      list.push(fetch);
      if (list.length > opts.maxHostsPerKey) list.splice(0, list.length - opts.maxHostsPerKey);
      pairs = (state.uses[role] ?? [])
        .filter((x) => near(x.ms, fetch.ms) && accountsMatch(x.account, fetch.account))
        .map((x) => [fetch, x]);
    }
    for (const [fe, use] of pairs) {
      emit(
        makeFinding({
          rule: HUB_RULES.credentialsElsewhere,
          severity: 'critical',
          confidence: 0.85,
          attack: [ATTACK.cloudInstanceMetadataApi, ATTACK.validAccountsCloud],
          title: `${fe.host} fetched credentials of role ${role} from the metadata service; CloudTrail shows them used${use.ip ? ` from ${use.ip}` : ' away from the instance'}`,
          remediation:
            "Revoke the role's active sessions, then find the process on the host that fetched the credentials (the " +
            'cited host finding names it) and how it was reached.',
          origin: { sensor: 'hub' },
          time: iso(Math.max(fe.ms, use.ms)),
          principal: role,
          ...(use.ip ? { client: { ip: use.ip } } : {}),
          evidence: { role, host: fe.host, fetched_at: iso(fe.ms), used_at: iso(use.ms) },
          related: [
            { finding_id: fe.fid, note: `credential fetch on host ${fe.host}` },
            { finding_id: use.fid, note: 'CloudTrail use away from the instance' },
          ],
          idEvidence: ['credentials-elsewhere', fe.host, fe.fid, use.fid],
        }),
      );
    }
  }

  return out;
}

/**
 * Keep every table within its bound, the oldest entries going first. Run after each batch rather than after each
 * envelope: counting a table's keys is linear in its size.
 */
export function boundCorrelatorState(
  state: CorrelatorState,
  opts: CorrelatorOptions = DEFAULT_CORRELATOR_OPTIONS,
): void {
  bound(state.callers, opts.maxKeys, (v) => Math.max(...Object.values(v.hosts).map((h) => h.ms)));
  bound(state.fetches, opts.maxKeys, (v) => v[v.length - 1]?.ms ?? 0);
  bound(state.uses, opts.maxKeys, (v) => v[v.length - 1]?.ms ?? 0);
  bound(state.secrets, opts.maxKeys, (v) => Math.max(...Object.values(v.hosts).map((h) => h.ms)));
  bound(state.rules, opts.maxKeys, (v) => v.hits[v.hits.length - 1]?.ms ?? 0);
  bound(state.seen, opts.maxKeys * 4, (v) => v);
  bound(state.hosts, opts.maxKeys, (v) => v);
  bound(state.emitted, opts.maxKeys, (v) => v);
}
