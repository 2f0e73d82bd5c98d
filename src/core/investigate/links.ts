import { logName, pathsAgree } from './from-finding.ts';
import type { Step } from './step.ts';
import { stageOf } from './step.ts';

/**
 * Why two steps were linked, strongest first. Every reason but `time-proximity` rests on a shared identifier; a
 * time-proximity link says it is a guess with its low confidence.
 */
export type LinkReason =
  | 'same-line'
  | 'leak-cause'
  | 'same-key-hash'
  | 'shared-events'
  | 'same-client'
  | 'same-client-ip'
  | 'same-process'
  | 'same-masked-key-and-role'
  | 'same-instance'
  | 'same-role-imdsv1'
  | 'same-role-time-window'
  | 'time-proximity';

/** A directed link from an earlier step of the story to a later one, with the evidence on both ends. */
export interface Link {
  from: string;
  to: string;
  reason: LinkReason;
  /** 0..1: how sure the link is, from the reason (a shared hash is near certain, time alone is a guess). */
  confidence: number;
  /** One sentence a responder can check. */
  explanation: string;
  /** The evidence on both ends: `file:line`, `finding <id>`, `event <id>`, a key hash. */
  evidence: string[];
}

export interface LinkOptions {
  /** SSRF requests from one client further apart than this start a new chain. Default 24 h. */
  clientGapMs?: number;
  /** How long after a fetch or a leak the credentials may be used. Default 12 h (instance credentials last ≤ 6 h, refreshed early). */
  credentialLifetimeMs?: number;
  /** The only window a link on time alone may span. Default 10 min. */
  proximityMs?: number;
  /** Host requests of one process further apart than this are not chained. Default 1 h. */
  processGapMs?: number;
  /**
   * How far the clocks of two sources may disagree. A link goes from cause to consequence: one whose consequence
   * is more than this before its cause is not made. Default 5 min.
   */
  clockSkewMs?: number;
}

const CONFIDENCE: Record<LinkReason, number> = {
  'same-line': 0.95,
  'leak-cause': 0.95,
  'same-key-hash': 0.95,
  'shared-events': 0.95,
  'same-client': 0.9,
  'same-client-ip': 0.9,
  'same-process': 0.85,
  'same-masked-key-and-role': 0.8,
  'same-instance': 0.8,
  'same-role-imdsv1': 0.75,
  'same-role-time-window': 0.6,
  'time-proximity': 0.3,
};

/** Where a step's evidence is, as a responder would look it up (with its host when the record names one). */
export function whereOf(s: Step): string {
  const on = s.host !== undefined ? ` on ${s.host}` : '';
  if (s.origin.file) return `${s.origin.line !== undefined ? `${s.origin.file}:${s.origin.line}` : s.origin.file}${on}`;
  if (s.origin.event_ids?.length)
    return `events ${s.origin.event_ids.slice(0, 3).join(', ')}${s.origin.event_ids.length > 3 ? ', …' : ''}`;
  if (s.origin.sensor) return `sensor ${s.origin.sensor}${s.processKey ? ` (${s.processKey.trim()})` : ''}`;
  return `finding ${s.findingId}`;
}

function gapText(ms: number): string {
  const s = Math.round(Math.abs(ms) / 1000);
  if (s < 120) return `${s} s`;
  if (s < 7200) return `${Math.round(s / 60)} min`;
  return `${(s / 3600).toFixed(1)} h`;
}

/** Time, then story order, then what the finding is about: never the order or the spelling of the inputs. */
const byTime = (a: Step, b: Step): number =>
  (a.timeMs ?? Number.POSITIVE_INFINITY) - (b.timeMs ?? Number.POSITIVE_INFINITY) ||
  stageOf(a.kind) - stageOf(b.kind) ||
  (a.identity < b.identity ? -1 : a.identity > b.identity ? 1 : 0);

/** Two steps may be about one role: the same name in two accounts is two roles. An unknown account agrees with any. */
export function sameAccount(a: Step, b: Step): boolean {
  return a.account === undefined || b.account === undefined || a.account === b.account;
}

/**
 * What two steps name in common, if anything: the host they were seen on, the account, the instance, a role of one
 * account, a key (salted hash) or a client address. A link on time alone needs one of them.
 */
export function sharedEntity(a: Step, b: Step): string | undefined {
  if (a.host !== undefined && a.host === b.host) return `host ${a.host}`;
  if (a.account !== undefined && a.account === b.account) return `account ${a.account}`;
  if (a.instance !== undefined && a.instance === b.instance) return `instance ${a.instance}`;
  const role = sameAccount(a, b) ? a.roles.find((r) => b.roles.includes(r)) : undefined;
  if (role !== undefined) return `role ${role}`;
  const hash = a.keyHashes.find((h) => b.keyHashes.includes(h));
  if (hash !== undefined) return `key ${hash}`;
  if (a.clientIp !== undefined && a.clientIp === b.clientIp) return `client ${a.clientIp}`;
  return undefined;
}

function push<K, V>(m: Map<K, V[]>, k: K, v: V): void {
  const l = m.get(k);
  if (l) l.push(v);
  else m.set(k, [v]);
}

const isSsrf = (s: Step) => s.kind === 'ssrf-attempt' || s.kind === 'ssrf-success';
const isCloud = (s: Step) => s.kind === 'cloud-use' || s.kind === 'cloud-recon';

/** `later` happened within [0, window] after `earlier`; unknown when either has no time. */
function within(earlier: Step, later: Step, windowMs: number, slackMs = 0): boolean | undefined {
  if (earlier.timeMs === undefined || later.timeMs === undefined) return undefined;
  const d = later.timeMs - earlier.timeMs;
  return d >= -slackMs && d <= windowMs;
}

/**
 * Every link between the steps, each made on the strongest evidence the two share. Pure and deterministic: the
 * same steps give the same links in the same order.
 */
export function linkSteps(steps: readonly Step[], opts: LinkOptions = {}): Link[] {
  const clientGap = opts.clientGapMs ?? 24 * 3600_000;
  const lifetime = opts.credentialLifetimeMs ?? 12 * 3600_000;
  const proximity = opts.proximityMs ?? 10 * 60_000;
  const processGap = opts.processGapMs ?? 3600_000;
  const skew = opts.clockSkewMs ?? 5 * 60_000;
  const links: Link[] = [];
  const seen = new Set<string>();
  const link = (from: Step, to: Step, reason: LinkReason, explanation: string, extra: string[] = [], conf?: number) => {
    if (from.findingId === to.findingId) return;
    // Cause before consequence: a consequence (its span, for a cloud finding) over before its cause began is none.
    if (from.timeMs !== undefined && to.timeMs !== undefined && (to.endMs ?? to.timeMs) < from.timeMs - skew) return;
    const key = `${from.findingId}>${to.findingId}`;
    const back = `${to.findingId}>${from.findingId}`;
    if (seen.has(key) || seen.has(back)) return;
    seen.add(key);
    links.push({
      from: from.findingId,
      to: to.findingId,
      reason,
      confidence: conf ?? CONFIDENCE[reason],
      explanation,
      evidence: [whereOf(from), whereOf(to), ...extra],
    });
  };

  const byId = new Map<string, Step>();
  const ssrfByClient = new Map<string, Step[]>();
  const leaks: Step[] = [];
  const clouds: Step[] = [];
  const hosts: Step[] = [];
  const postures: Step[] = [];
  const credentialSuccesses: Step[] = [];
  for (const s of steps) {
    byId.set(s.findingId, s);
    if (isSsrf(s) && s.clientIp) push(ssrfByClient, s.clientIp, s);
    if (s.kind === 'ssrf-success' && s.pathClass === 'credentials' && s.timeMs !== undefined)
      credentialSuccesses.push(s);
    if (s.kind === 'credential-leak') leaks.push(s);
    else if (isCloud(s)) clouds.push(s);
    else if (s.kind === 'host-fetch') hosts.push(s);
    else if (s.kind === 'posture') postures.push(s);
  }
  credentialSuccesses.sort(byTime);
  const byRole = (pool: readonly Step[]) => {
    const m = new Map<string, Step[]>();
    for (const s of pool) for (const r of s.roles) push(m, r, s);
    return m;
  };
  const successByRole = byRole(steps.filter((s) => s.kind === 'ssrf-success'));
  const leaksByRole = byRole(leaks);
  const hostsByRole = byRole(hosts.filter((h) => !h.denied));
  const credentialsByRole = byRole(credentialSuccesses);

  // 0. Findings about one line of one log (the app's own metadata request and the credentials it logged).
  // A line is one line of one file on one host: without a host in the records, of one input (two hosts' scans of
  // /var/log/app.log, collected side by side, are two logs). Grouped by the log's name, then each pair checked: the
  // two paths may name one file, and a line read at two times is a line of two files (a rotated log).
  const byLine = new Map<string, Step[]>();
  // An inventory's line is no log line: settings are linked to their instance's use only.
  for (const s of steps)
    if (s.fileKey !== undefined && s.origin.line !== undefined && s.kind !== 'posture')
      push(byLine, [s.host ?? '', logName(s.fileKey), s.origin.line].join('\u0000'), s);
  const oneLine = (a: Step, b: Step): boolean =>
    (a.host !== undefined || b.host !== undefined
      ? a.host === b.host
      : a.readFrom.some((f) => b.readFrom.includes(f))) &&
    pathsAgree(a.fileKey!, b.fileKey!) &&
    (a.timeMs === undefined || b.timeMs === undefined || Math.abs(a.timeMs - b.timeMs) <= 1000);
  for (const [, list] of [...byLine].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))) {
    if (list.length < 2) continue;
    list.sort((a, b) => stageOf(a.kind) - stageOf(b.kind) || (a.identity < b.identity ? -1 : 1));
    for (let i = 1; i < list.length; i++)
      for (let j = i - 1; j >= 0; j--)
        if (oneLine(list[j]!, list[i]!)) {
          link(list[j]!, list[i]!, 'same-line', `both are about ${whereOf(list[j]!)}`);
          break;
        }
  }

  // 1. The requests of one SSRF client, in order: attempts, then the one that worked.
  for (const [ip, list] of [...ssrfByClient].sort((a, b) => a[0].localeCompare(b[0]))) {
    list.sort(byTime);
    for (let i = 1; i < list.length; i++) {
      const a = list[i - 1]!;
      const b = list[i]!;
      const close = within(a, b, clientGap);
      if (close === false) continue;
      if (close === undefined && a.origin.file !== b.origin.file) continue;
      const gap = a.timeMs !== undefined && b.timeMs !== undefined ? `, ${gapText(b.timeMs - a.timeMs)} later` : '';
      link(a, b, 'same-client', `same client ${ip}${gap}`);
    }
  }

  // 2. The request that most likely caused each leak. Each rule is tried on its own, so evidence added for one
  // never withdraws the link another made.
  for (const leak of leaks) {
    // Every request a scan tied the leak to (a finding read from two outputs may name two): each is a claim made.
    const causes = leak.relatedFindings
      .map((id) => byId.get(id))
      .filter((s): s is Step => s !== undefined && isSsrf(s));
    for (const cause of causes)
      link(
        cause,
        leak,
        'leak-cause',
        'the scan tied the leak to this request (same client asked for credentials shortly before)',
        [`finding ${cause.findingId}`],
      );
    const cause = causes[0];
    const fetched = uniqueByRole(
      successByRole,
      leak,
      lifetime,
      0,
      'fetched the credentials of role',
      'before they leaked',
    );
    if (fetched) link(fetched.step, leak, 'same-role-time-window', fetched.why, [], fetched.confidence);
    // Time alone: only when nothing else ties the leak, a single client fetched credentials just before it, and the
    // two share something (the host they were seen on, the account): time never joins findings that share nothing.
    if (cause || fetched || leak.timeMs === undefined) continue;
    const near = credentialSuccesses.filter((s) => within(s, leak, proximity) === true && sharedEntity(s, leak));
    const clients = new Set(near.map((s) => s.clientIp ?? s.findingId));
    if (near.length > 0 && clients.size === 1) {
      const s = near[near.length - 1]!;
      link(
        s,
        leak,
        'time-proximity',
        `time only: the one credentials request that succeeded in the ${gapText(proximity)} before the leak (${gapText(leak.timeMs - s.timeMs!)} before), both on ${sharedEntity(s, leak)}; nothing else ties them`,
      );
    }
  }

  // 3. Cloud use of a credential: from the leak (same key), from the SSRF client (same address), from the host fetch.
  const leaksByHash = new Map<string, Step[]>();
  const leaksByMasked = new Map<string, Step[]>();
  for (const l of leaks) {
    for (const h of l.keyHashes) push(leaksByHash, h, l);
    for (const m of l.maskedKeys) push(leaksByMasked, m, l);
  }
  // Every rule is tried for every use (none stands back for a stronger one), so more evidence adds links and never
  // takes one away; only the links on a role or on time alone are withdrawn when a second candidate makes them a
  // guess.
  for (const c of clouds.slice().sort(byTime)) {
    let hashed = false;
    for (const h of c.keyHashes)
      for (const l of (leaksByHash.get(h) ?? []).slice().sort(byTime)) {
        hashed = true;
        link(l, c, 'same-key-hash', `the key used here is the key leaked there (same salted hash)`, [h]);
      }
    // A masked key id keeps 8 of 20 characters: with a role it is one key only inside one account, so both
    // ends must name that account (a salted hash needs no such help).
    if (!hashed)
      for (const m of c.maskedKeys)
        for (const l of (leaksByMasked.get(m) ?? []).slice().sort(byTime))
          if (
            l.account !== undefined &&
            l.account === c.account &&
            l.keyHashes.length === 0 &&
            l.roles.some((r) => c.roles.includes(r))
          )
            link(l, c, 'same-masked-key-and-role', `same masked key ${m}, same role in account ${c.account}`, [m]);
    if (c.clientIp) {
      const fromClient = (ssrfByClient.get(c.clientIp) ?? []).filter((s) => within(s, c, lifetime, skew) !== false);
      const successes = fromClient.filter((s) => s.kind === 'ssrf-success');
      for (const s of successes.length > 0 ? successes : fromClient.slice(-1))
        link(s, c, 'same-client-ip', `the key was used from ${c.clientIp}, the address that sent the SSRF requests`);
    }
    const leak = uniqueByRole(leaksByRole, c, lifetime, skew);
    if (leak) link(leak.step, c, 'same-role-time-window', leak.why, [], leak.confidence);
    const host = uniqueByRole(hostsByRole, c, lifetime, skew);
    if (host) {
      const v1 = host.step.imdsVersion === 1 && c.rule === 'cloud-imdsv1-credentials-in-use';
      link(
        host.step,
        c,
        v1 ? 'same-role-imdsv1' : 'same-role-time-window',
        v1 ? `${host.why}; fetched over IMDSv1 and the trail says IMDSv1 delivered it` : host.why,
        [],
        v1 ? CONFIDENCE['same-role-imdsv1'] : host.confidence,
      );
    }
    const ssrf = uniqueByRole(credentialsByRole, c, lifetime, skew);
    if (ssrf) link(ssrf.step, c, 'same-role-time-window', ssrf.why, [], ssrf.confidence);
  }

  // 4. Cloud findings about one credential: shared trail records, then the same key.
  const cloudByEvent = new Map<string, Step[]>();
  const cloudByHash = new Map<string, Step[]>();
  for (const c of clouds) {
    for (const e of c.origin.event_ids ?? []) push(cloudByEvent, e, c);
    for (const h of c.keyHashes) push(cloudByHash, h, c);
  }
  const chain = (
    groups: Map<string, Step[]>,
    reason: LinkReason,
    why: (k: string) => string,
    extra: (k: string) => string[],
  ) => {
    for (const [k, list] of [...groups].sort((a, b) => a[0].localeCompare(b[0]))) {
      if (list.length < 2) continue;
      // In time order, so that no link goes back in time.
      const ordered = [...new Set(list)].sort(byTime);
      for (let i = 1; i < ordered.length; i++) link(ordered[i - 1]!, ordered[i]!, reason, why(k), extra(k));
    }
  };
  chain(
    cloudByEvent,
    'shared-events',
    (e) => `both rest on trail record ${e}`,
    (e) => [`event ${e}`],
  );
  chain(
    cloudByHash,
    'same-key-hash',
    () => 'the same access key (same salted hash)',
    (h) => [h],
  );

  // 5. Requests of one process on a host.
  const byProcess = new Map<string, Step[]>();
  for (const h of hosts) if (h.processKey) push(byProcess, h.processKey, h);
  for (const [key, list] of [...byProcess].sort((a, b) => a[0].localeCompare(b[0]))) {
    list.sort(byTime);
    for (let i = 1; i < list.length; i++) {
      const a = list[i - 1]!;
      const b = list[i]!;
      if (within(a, b, processGap) === false) continue;
      link(a, b, 'same-process', `same process (${key.trim()})`);
    }
  }

  // 6. The instance's settings that let it happen.
  // Every use of the instance's credentials gets the setting (not only the earliest: an earlier use found later
  // must not take the link away from the one it had).
  const cloudByInstance = new Map<string, Step[]>();
  for (const c of clouds) if (c.instance) push(cloudByInstance, c.instance, c);
  for (const p of postures)
    for (const target of (cloudByInstance.get(p.instance ?? '') ?? []).slice().sort(byTime))
      if (sameAccount(p, target))
        link(p, target, 'same-instance', `setting of instance ${p.instance}, whose credentials were used`);
  return withoutSplitGuesses(withoutCrossAccountGuesses(links, byId), byId);
}

const ROLE_ONLY = new Set<LinkReason>(['same-role-time-window', 'same-role-imdsv1']);

/**
 * A step that names no account (a leak whose owner is a bare role name, a host fetch) agrees with any account; but
 * one such step linked on its role alone to uses in two accounts cannot be the source of both (a key is of one
 * account): which one it was would be a guess, so neither link is kept.
 */
function withoutCrossAccountGuesses(links: Link[], byId: ReadonlyMap<string, Step>): Link[] {
  const accounts = new Map<string, Set<string>>();
  for (const l of links) {
    if (!ROLE_ONLY.has(l.reason) || byId.get(l.from)?.account !== undefined) continue;
    const to = byId.get(l.to)?.account;
    if (to === undefined) continue;
    const set = accounts.get(l.from) ?? new Set<string>();
    set.add(to);
    accounts.set(l.from, set);
  }
  const split = new Set([...accounts].filter(([, set]) => set.size > 1).map(([from]) => from));
  return split.size === 0 ? links : links.filter((l) => !(ROLE_ONLY.has(l.reason) && split.has(l.from)));
}

/**
 * What two steps say of the credentials rules them out as one: each names its keys and they share none (a leak's
 * salted hashes and the keys a trail saw), or each names its instance and they differ (credentials are an
 * instance's own). A shared role is then no tie.
 */
function contradicts(a: Step, b: Step): boolean {
  if (a.keyHashes.length > 0 && b.keyHashes.length > 0 && !a.keyHashes.some((h) => b.keyHashes.includes(h)))
    return true;
  return a.instance !== undefined && b.instance !== undefined && a.instance !== b.instance;
}

/**
 * One fetch or leak delivers one key of one instance: a step linked on its role alone to uses of two keys, or of
 * keys of two instances, cannot be the source of both, and which one it was would be a guess, so neither is kept.
 */
function withoutSplitGuesses(links: Link[], byId: ReadonlyMap<string, Step>): Link[] {
  // Hashes and masked ids are compared each with its own kind (a finding written without hashes names its key
  // masked only).
  const hashes = new Map<string, Set<string>>();
  const masked = new Map<string, Set<string>>();
  const instances = new Map<string, Set<string>>();
  const add = (m: Map<string, Set<string>>, from: string, v: string) => {
    const set = m.get(from) ?? new Set<string>();
    set.add(v);
    m.set(from, set);
  };
  for (const l of links) {
    if (!ROLE_ONLY.has(l.reason)) continue;
    const to = byId.get(l.to);
    if (!to || !isCloud(to)) continue;
    if (to.keyHashes.length > 0) add(hashes, l.from, [...to.keyHashes].sort().join(','));
    if (to.maskedKeys.length > 0) add(masked, l.from, [...to.maskedKeys].sort().join(','));
    if (to.instance !== undefined) add(instances, l.from, to.instance);
  }
  const split = new Set<string>();
  for (const m of [hashes, masked, instances]) for (const [from, set] of m) if (set.size > 1) split.add(from);
  return split.size === 0 ? links : links.filter((l) => !(ROLE_ONLY.has(l.reason) && split.has(l.from)));
}

interface Candidate {
  step: Step;
  why: string;
  confidence: number;
}

/** The one step of `pool` naming a role of `c` before it within the credential lifetime; none when ambiguous. */
function uniqueByRole(
  pool: ReadonlyMap<string, Step[]>,
  c: Step,
  lifetime: number,
  slackMs = 5 * 60_000,
  what = 'same role',
  tail = 'and the use falls within the credentials lifetime',
): Candidate | undefined {
  const list = [...new Set(c.roles.flatMap((r) => pool.get(r) ?? []))].filter(
    (s) =>
      s.findingId !== c.findingId &&
      sameAccount(s, c) &&
      !contradicts(s, c) &&
      within(s, c, lifetime, slackMs) !== false,
  );
  return unique(list, c, what, tail);
}

function unique(list: Step[], to: Step, what: string, tail: string): Candidate | undefined {
  if (list.length === 0) return undefined;
  // Several sources (different clients, processes or leaks) for one role: which one is a guess, so none is linked.
  const sources = new Set(list.map((s) => s.clientIp ?? s.processKey ?? s.findingId));
  if (sources.size > 1) return undefined;
  const sorted = list.slice().sort(byTime);
  const step = sorted[sorted.length - 1]!;
  const role = step.roles.find((r) => to.roles.includes(r))!;
  const timed = step.timeMs !== undefined && to.timeMs !== undefined;
  return {
    step,
    why: timed
      ? `${what} ${role}, ${gapText(to.timeMs! - step.timeMs!)} earlier, ${tail}`
      : `${what} ${role} (no time on one side: role only)`,
    confidence: timed ? CONFIDENCE['same-role-time-window'] : 0.5,
  };
}
