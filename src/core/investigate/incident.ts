import { findingId } from '../model/finding.ts';
import { maxSeverity, type Severity, severityRank } from '../model/severity.ts';
import { separateSameNamedFiles } from './from-finding.ts';
import { type Link, type LinkOptions, linkSteps } from './links.ts';
import { type RemediationStep, remediationFor } from './remediation.ts';
import { type RecordSource, STEP_KINDS, STEP_LABEL, type Step, type StepKind, stageOf } from './step.ts';

export const INCIDENT_SCHEMA_VERSION = '1';

/** One step as an incident lists it (docs/investigate.md). */
export interface IncidentStep {
  finding_id: string;
  kind: StepKind;
  rule: string;
  severity: Severity;
  confidence: number;
  title: string;
  time?: string;
  /** Where the evidence is (the log line, sensor, or trail events), as in the finding. */
  origin: Step['origin'];
  /** Where the finding was read: the input of `investigate`, file and 1-based line (none for a finding made from many records). */
  source: RecordSource;
  facts: Record<string, string>;
}

/** An incident: linked steps of one attack, with why each link was made and what to do. */
export interface Incident {
  type: 'incident';
  schema_version: string;
  /**
   * Stable: a hash of what the incident's root finding is about (not of its id, which hashes the path as spelt), so
   * a re-run with more evidence, other incidents or another spelling of a path keeps the id.
   */
  id: string;
  title: string;
  severity: Severity;
  /** The weakest link's confidence (a chain is as sure as its weakest link); a single step's own confidence. */
  confidence: number;
  first_time?: string;
  last_time?: string;
  root_finding_id: string;
  stages: StepKind[];
  clients: string[];
  roles: string[];
  instances: string[];
  providers: string[];
  steps: IncidentStep[];
  links: Link[];
  remediation: RemediationStep[];
}

export interface BuildOptions extends LinkOptions {}

/** Groups of linked steps; iterative, since one client's chain of requests may be a million steps long. */
class UnionFind {
  private readonly parent = new Map<string, string>();
  find(x: string): string {
    let root = x;
    for (let p = this.parent.get(root); p !== undefined && p !== root; p = this.parent.get(root)) root = p;
    // Path compression: point every node on the way at the root.
    let n = x;
    while (n !== root) {
      const next = this.parent.get(n)!;
      this.parent.set(n, root);
      n = next;
    }
    return root;
  }
  union(a: string, b: string): void {
    const ra = this.find(a);
    const rb = this.find(b);
    // The smaller id is the root, so grouping does not depend on the order of the links.
    if (ra < rb) this.parent.set(rb, ra);
    else if (rb < ra) this.parent.set(ra, rb);
  }
}

const ATTACK_KINDS = new Set<StepKind>(['ssrf-success', 'credential-leak', 'host-fetch']);

/** A cloud finding whose records may be several actors': no address, and more than one key. */
function severalActors(s: Step): boolean {
  if ((s.kind !== 'cloud-use' && s.kind !== 'cloud-recon') || s.clientIp !== undefined) return false;
  return new Set(s.keyHashes).size > 1 || (s.keyHashes.length === 0 && new Set(s.maskedKeys).size > 1);
}

/** Incident ids: `inc-` and 20 hex digits of a hash of the root step's identity (`Step.identity`). */
export function incidentId(rootIdentity: string): string {
  return `inc-${findingId('incident', [rootIdentity]).slice(0, 20)}`;
}

function titleOf(steps: readonly Step[], clients: string[], roles: string[]): string {
  const kinds = new Set(steps.map((s) => s.kind));
  const parts: string[] = [];
  const count = (k: StepKind) => steps.filter((s) => s.kind === k).length;
  const who = clients.length > 0 ? ` from ${clients.slice(0, 2).join(', ')}${clients.length > 2 ? ', …' : ''}` : '';
  if (kinds.has('ssrf-success')) parts.push(`SSRF${who} reached the metadata service`);
  else if (kinds.has('ssrf-attempt')) parts.push(`${count('ssrf-attempt')} SSRF attempt(s)${who}`);
  if (kinds.has('host-fetch')) parts.push('a host process fetched from the metadata service');
  const role = roles.length > 0 ? ` of ${roles.slice(0, 2).join(', ')}` : '';
  if (kinds.has('credential-leak')) parts.push(`credentials${role} leaked into a log`);
  if (kinds.has('cloud-use')) parts.push(`the key${kinds.has('credential-leak') ? '' : role} was used in the cloud`);
  if (kinds.has('cloud-recon')) parts.push('reconnaissance followed');
  if (parts.length === 0) return steps[0]?.title ?? 'incident';
  const text = parts.join(' → ');
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/**
 * Build incidents from steps: link them, take each connected group as one incident (groups made only of instance
 * settings are not incidents), order its steps in time, and say what to do. Pure and deterministic.
 */
export function buildIncidents(input: readonly Step[], opts: BuildOptions = {}): Incident[] {
  const steps = separateSameNamedFiles(input);
  const unique = new Map<string, Step>();
  // The same finding read twice (two outputs of one run, or one log named `./a.log` and `a.log`) is one step: the
  // one whose id sorts first, whatever the order of the inputs. Its other ids still name it for `related`.
  // One id read twice (a finding in the hub's store, with its host, and in a local file, without) is one step too.
  const byId = new Map<string, Step>();
  for (const s of steps) {
    const had = byId.get(s.findingId);
    if (!had || s.identity < had.identity) byId.set(s.findingId, s);
  }
  const ids = new Set(byId.keys());
  for (const s of byId.values()) {
    const had = unique.get(s.identity);
    if (!had || s.findingId < had.findingId) unique.set(s.identity, s);
  }
  // Every input a kept step was read from (its copies' too): findings and the raw log they were made from are read
  // from both, and a line of that log is then one line whichever copy was kept.
  const readFrom = new Map<string, Set<string>>();
  for (const s of steps) {
    const identity = byId.get(s.findingId)!.identity;
    const set = readFrom.get(identity) ?? new Set<string>();
    for (const f of s.readFrom) set.add(f);
    readFrom.set(identity, set);
  }
  // What the copies name as related (the leak's cause, as each run that wrote it chose) is all kept, in one order.
  const related = new Map<string, Set<string>>();
  for (const s of steps) {
    if (s.relatedFindings.length === 0) continue;
    const identity = byId.get(s.findingId)!.identity;
    const set = related.get(identity) ?? new Set<string>();
    for (const r of s.relatedFindings) set.add(r);
    related.set(identity, set);
  }
  // In one order whatever the order the inputs were read in (logs are read side by side): by what each step is about.
  const all = [...unique.values()]
    .sort((a, b) => (a.identity < b.identity ? -1 : a.identity > b.identity ? 1 : 0))
    .map((s) => {
      const from = [...readFrom.get(s.identity)!].sort();
      const rel = [...(related.get(s.identity) ?? [])].sort();
      const sameFrom = from.length === s.readFrom.length;
      const sameRel = rel.length === s.relatedFindings.length && rel.every((r, i) => r === s.relatedFindings[i]);
      return sameFrom && sameRel ? s : { ...s, readFrom: from, relatedFindings: rel };
    });
  const kept = new Map(all.map((s) => [s.identity, s.findingId]));
  const alias = new Map<string, string>();
  if (ids.size > all.length) for (const s of byId.values()) alias.set(s.findingId, kept.get(s.identity)!);
  const links = linkSteps(
    alias.size > 0 ? all.map((s) => ({ ...s, relatedFindings: s.relatedFindings.map((r) => alias.get(r) ?? r) })) : all,
    opts,
  );
  // An instance setting is context: shown in every incident about its instance, never the bridge that merges two
  // (ten thieves of one instance allowing IMDSv1 are ten incidents). So is a cloud finding that names no address but
  // several keys (one written before such findings were grouped per address): its records may be several actors',
  // and whom it joins would be a guess. Only links between other steps join groups.
  const stepById = new Map(all.map((s) => [s.findingId, s]));
  const isContext = (id: string) => {
    const s = stepById.get(id);
    return s !== undefined && (s.kind === 'posture' || severalActors(s));
  };
  const uf = new UnionFind();
  for (const l of links) if (!isContext(l.from) && !isContext(l.to)) uf.union(l.from, l.to);
  const groups = new Map<string, Step[]>();
  for (const s of all) {
    if (isContext(s.findingId)) continue;
    const r = uf.find(s.findingId);
    const g = groups.get(r);
    if (g) g.push(s);
    else groups.set(r, [s]);
  }
  // Each setting joins the group of every step it is linked to; links between settings follow where both went.
  const attached = new Map<string, Set<string>>();
  for (const l of links) {
    const [ctx, other] = isContext(l.from) ? [l.from, l.to] : [l.to, l.from];
    if (!isContext(ctx) || isContext(other)) continue;
    const set = attached.get(ctx) ?? new Set<string>();
    set.add(uf.find(other));
    attached.set(ctx, set);
  }
  for (const [ctx, roots] of [...attached].sort((a, b) => (a[0] < b[0] ? -1 : 1)))
    for (const r of roots) groups.get(r)!.push(stepById.get(ctx)!);
  const linksByGroup = new Map<string, Link[]>();
  const add = (r: string, l: Link) => {
    const g = linksByGroup.get(r);
    if (g) g.push(l);
    else linksByGroup.set(r, [l]);
  };
  for (const l of links) {
    const cf = isContext(l.from);
    const ct = isContext(l.to);
    if (!cf && !ct) add(uf.find(l.from), l);
    else if (cf && !ct) add(uf.find(l.to), l);
    else if (!cf && ct) add(uf.find(l.from), l);
    else for (const r of attached.get(l.from) ?? []) if (attached.get(l.to)?.has(r)) add(r, l);
  }
  // Settings linked to nothing else are no incident (groups of settings alone never were); a cloud finding of
  // several actors linked to nothing else is one of its own, with the settings linked to it.
  for (const s of all) {
    if (!isContext(s.findingId) || s.kind === 'posture' || attached.has(s.findingId)) continue;
    const own = [s];
    const ownLinks: Link[] = [];
    for (const l of links) {
      const other = l.from === s.findingId ? l.to : l.to === s.findingId ? l.from : undefined;
      if (other === undefined || stepById.get(other)?.kind !== 'posture') continue;
      own.push(stepById.get(other)!);
      ownLinks.push(l);
    }
    groups.set(s.findingId, own);
    linksByGroup.set(s.findingId, ownLinks);
  }
  const out: Incident[] = [];
  for (const [root, group] of groups) out.push(toIncident(group, linksByGroup.get(root) ?? []));
  return out.sort(
    (a, b) =>
      severityRank(b.severity) - severityRank(a.severity) ||
      (a.first_time ?? '\uffff').localeCompare(b.first_time ?? '\uffff') ||
      a.id.localeCompare(b.id),
  );
}

function toIncident(group: Step[], links: Link[]): Incident {
  // A step without a time sits right after what it was linked from.
  const effective = new Map<string, number>();
  for (const s of group) if (s.timeMs !== undefined) effective.set(s.findingId, s.timeMs);
  for (let pass = 0; pass < 3; pass++)
    for (const l of links) {
      if (effective.has(l.to)) continue;
      const t = effective.get(l.from);
      if (t !== undefined) effective.set(l.to, t);
    }
  const ordered = group.slice().sort((a, b) => {
    const ta = effective.get(a.findingId) ?? Number.POSITIVE_INFINITY;
    const tb = effective.get(b.findingId) ?? Number.POSITIVE_INFINITY;
    // Ties go by what the findings are about, never by the inputs' order or names: the root, and so the id, is the
    // same however the inputs are given.
    return (
      ta - tb ||
      stageOf(a.kind) - stageOf(b.kind) ||
      (a.identity < b.identity ? -1 : a.identity > b.identity ? 1 : 0) ||
      (a.findingId < b.findingId ? -1 : a.findingId > b.findingId ? 1 : 0)
    );
  });
  const rootStep = ordered.find((s) => s.kind !== 'posture') ?? ordered[0]!;
  let severity: Severity = 'info';
  for (const s of ordered) severity = maxSeverity(severity, s.severity);
  const kinds = new Set(ordered.map((s) => s.kind));
  const used = kinds.has('cloud-use') || kinds.has('cloud-recon');
  if (used && [...kinds].some((k) => ATTACK_KINDS.has(k))) severity = 'critical';
  const confidence =
    links.length > 0
      ? links.reduce((m, l) => Math.min(m, l.confidence), 1)
      : ordered.reduce((m, s) => Math.max(m, s.confidence), 0);
  const timed = ordered.filter((s) => s.timeMs !== undefined).sort((a, b) => a.timeMs! - b.timeMs!);
  // The incident lasts until its last step ends (a cloud finding spans its records).
  const last = timed.reduce<Step | undefined>(
    (m, s) => (m === undefined || (s.endMs ?? s.timeMs!) > (m.endMs ?? m.timeMs!) ? s : m),
    undefined,
  );
  const clients = [
    ...new Set(ordered.filter((s) => s.kind === 'ssrf-attempt' || s.kind === 'ssrf-success').map((s) => s.clientIp)),
  ].filter((c): c is string => Boolean(c));
  const roles = [...new Set(ordered.flatMap((s) => s.roles))].sort();
  const instances = [...new Set(ordered.map((s) => s.instance).filter((i): i is string => Boolean(i)))].sort();
  const providers = [...new Set(ordered.map((s) => s.provider).filter((p): p is string => Boolean(p)))].sort();
  const stages = STEP_KINDS.filter((k) => kinds.has(k));
  const orderIndex = new Map(ordered.map((s, i) => [s.findingId, i]));
  const sortedLinks = links
    .slice()
    .sort((a, b) => orderIndex.get(a.to)! - orderIndex.get(b.to)! || orderIndex.get(a.from)! - orderIndex.get(b.from)!);
  return {
    type: 'incident',
    schema_version: INCIDENT_SCHEMA_VERSION,
    id: incidentId(rootStep.identity),
    title: titleOf(ordered, clients, roles),
    severity,
    confidence: Math.round(confidence * 100) / 100,
    ...(timed.length > 0 && last ? { first_time: timed[0]!.time!, last_time: last.endTime ?? last.time! } : {}),
    root_finding_id: rootStep.findingId,
    stages,
    clients,
    roles,
    instances,
    providers,
    steps: ordered.map((s) => ({
      finding_id: s.findingId,
      kind: s.kind,
      rule: s.rule,
      severity: s.severity,
      confidence: s.confidence,
      title: s.title,
      ...(s.time ? { time: s.time } : {}),
      origin: s.origin,
      source: s.source,
      facts: Object.fromEntries(s.facts),
    })),
    links: sortedLinks,
    remediation: remediationFor(ordered),
  };
}

/** Label of a step kind for people. */
export function stepLabel(kind: StepKind): string {
  return STEP_LABEL[kind];
}
