// Runs the real commands on composed raw inputs and labels each finding with the attacker it belongs to, so the
// tests can score the links investigate makes.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { secretHash } from '../../src/core/secrets/mask.ts';
import { runCli } from '../e2e/helpers.ts';
import type { Attacker, Composed } from '../fixtures/investigate/compose.ts';

/** The records of a JSON lines text (a command's stdout). */
// biome-ignore lint/suspicious/noExplicitAny: records of every command, read as parsed JSON
export const jsonLines = (text: string): Record<string, any>[] =>
  text
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l));

export interface Findings {
  /** Finding files, one per command (and the agent's records). */
  files: string[];
  scan: string;
  trail: string;
  posture: string;
  agent: string;
}

/** Write the raw inputs into `dir` and make the findings with `scan`, `cloudtrail` and `posture`. */
export async function makeFindings(dir: string, c: Composed): Promise<Findings> {
  const raw = (name: string, text: string) => {
    const p = join(dir, name);
    writeFileSync(p, text);
    return p;
  };
  const web = raw('access.log', c.web);
  const app = raw('app.log', c.app);
  const trailIn = raw('trail.ndjson', c.trail);
  const inv = raw('instances.json', c.instances);
  const agent = raw('agent.jsonl', c.agent);
  const out = (n: string) => join(dir, n);
  const scan = await runCli(['scan', '--no-summary', '--format', 'jsonl', '-o', out('scan.jsonl'), web, app]);
  assert.ok(scan.status === 0 || scan.status === 1, scan.stderr);
  const trail = await runCli(['cloudtrail', '--format', 'jsonl', '-o', out('trail.jsonl'), trailIn]);
  assert.ok(trail.status === 0 || trail.status === 1, trail.stderr);
  const posture = await runCli([
    'posture',
    '--format',
    'jsonl',
    '-o',
    out('posture.jsonl'),
    '--readiness',
    out('r.txt'),
    inv,
  ]);
  assert.ok(posture.status === 0 || posture.status === 1, posture.stderr);
  return {
    files: [out('scan.jsonl'), out('trail.jsonl'), out('posture.jsonl'), agent],
    scan: out('scan.jsonl'),
    trail: out('trail.jsonl'),
    posture: out('posture.jsonl'),
    agent,
  };
}

// biome-ignore lint/suspicious/noExplicitAny: finding records of every command, read as parsed JSON
type Rec = Record<string, any>;

/** The salted hash the commands give a key (the default salt: the tests and benches set none). */
const keyHash = (key: string) => secretHash(key, process.env.IMDSGUARD_SECRET_SALT || 'imdsguard-secret-hash-v1');

/**
 * The attackers a finding is about, from what only one attacker has (client address, address of use, key hash,
 * process; a role or instance only when no other attacker shares it). An instance setting is about every attacker on
 * that instance; a finding whose evidence holds two attackers' events is about both (and then wrong wherever it is
 * linked). Noise gets a label of its own.
 */
export function actorsOf(f: Rec, attackers: readonly Attacker[]): string[] {
  const out = new Set<string>();
  const hashes = new Set<string>([
    ...(f.evidence?.access_key_hashes ?? []),
    ...((f.evidence?.secrets ?? []) as Rec[]).map((x) => x.hash),
    ...(f.secret?.hash ? [f.secret.hash] : []),
  ]);
  const isPosture = f.resource && !f.origin?.event_ids && !f.rule?.id?.startsWith('cloud-');
  for (const a of attackers) {
    if (isPosture) {
      if (f.resource.id === a.instance) out.add(a.label);
      continue;
    }
    if (a.kind === 'ssrf' && f.client?.ip === a.client) out.add(a.label);
    if (f.client?.ip === a.useIp) out.add(a.label);
    if (hashes.has(keyHash(a.key))) out.add(a.label);
    if (a.kind === 'host' && f.process?.pid === a.pid) out.add(a.label);
  }
  if (out.size === 0 && !isPosture) {
    const unique = (pred: (a: Attacker) => boolean) => {
      const m = attackers.filter(pred);
      return m.length === 1 ? m[0]!.label : undefined;
    };
    const path: string = f.target?.path ?? f.http?.path ?? '';
    const byRole = unique(
      (a) =>
        f.principal === a.role ||
        f.secret?.owner === `role ${a.role}` ||
        path.endsWith(`security-credentials/${a.role}`),
    );
    const byInstance = unique((a) => f.resource?.id === a.instance);
    const l = byRole ?? byInstance;
    if (l) out.add(l);
  }
  if (out.size > 0) return [...out].sort();
  if (f.principal === 'reporting-role') return ['unrelated'];
  if (f.client?.ip) return [`noise ${f.client.ip}`];
  return [`noise ${f.id}`];
}

/** One label per finding: its attacker, `a+b` when its evidence holds several. */
export function labelOf(f: Rec, attackers: readonly Attacker[]): string {
  return actorsOf(f, attackers).join('+');
}

export interface Score {
  links: number;
  correctLinks: number;
  precision: number;
  /** Same-attacker pairs of findings that ended up in one incident, over all such pairs. */
  pairRecall: number;
  /** Pairs of findings put in one incident that belong to one attacker, over all pairs put in one incident. */
  pairPrecision: number;
  /** Required direct links found, over required. */
  linkRecall: number;
  incidents: number;
  missing: string[];
  wrong: string[];
}

/**
 * Score incidents against the labels: a link is right when both ends belong to one attacker (or one noise source),
 * or when one end is an instance setting of the instance the other end's attacker used; the required links are the
 * chain's steps — SSRF credentials request → leak, leak → key use (same key hash), key use → reconnaissance, host
 * fetch → key use. Pairs are counted over findings that are no setting (settings are context, shown in every
 * incident about their instance).
 */
export function score(incidents: Rec[], findings: Rec[], attackers: readonly Attacker[]): Score {
  const actors = new Map(findings.map((f) => [f.id as string, actorsOf(f, attackers)]));
  // A finding that names no attacker (the app's own request for the role, on the line that logged its credentials)
  // is the attacker's whose other finding is about that line.
  const lineOf = (f: Rec) => (f.origin?.line !== undefined ? `${f.origin.file}:${f.origin.line}` : undefined);
  const byLine = new Map<string, string[]>();
  for (const f of findings) {
    const a = actors.get(f.id)!;
    const at = lineOf(f);
    if (at && !a[0]!.startsWith('noise') && !f.resource) byLine.set(at, a);
  }
  for (const f of findings) {
    const at = lineOf(f);
    if (at && actors.get(f.id)![0]!.startsWith('noise') && byLine.has(at)) actors.set(f.id, byLine.get(at)!);
  }
  const byId = new Map(findings.map((f) => [f.id as string, f]));
  const label = (id: string) => actors.get(id)?.join('+');
  let links = 0;
  let correct = 0;
  const wrong: string[] = [];
  const found = new Set<string>();
  for (const inc of incidents)
    for (const l of inc.links) {
      links++;
      const a = label(l.from);
      const b = label(l.to);
      const fa = byId.get(l.from);
      const fb = byId.get(l.to);
      const ka = kindOf(fa);
      const kb = kindOf(fb);
      const contextOk =
        (ka === 'posture' && b !== undefined && actors.get(l.from)!.includes(b)) ||
        (kb === 'posture' && a !== undefined && actors.get(l.to)!.includes(a));
      if ((a !== undefined && a === b && !a.includes('+')) || contextOk) correct++;
      else wrong.push(`${a} → ${b} (${l.reason})`);
      found.add(`${a}|${ka}>${kb}|${l.reason}`);
      found.add(`${a}|${ka}>${kb}`);
    }
  const required: string[] = [];
  for (const a of attackers) {
    if (a.kind === 'ssrf') {
      required.push(`${a.label}|ssrf-credentials>leak`, `${a.label}|leak>cloud-use|same-key-hash`);
    } else required.push(`${a.label}|host-credentials>cloud-use`);
    required.push(`${a.label}|cloud-use>cloud-recon`);
  }
  const missing = required.filter((r) => !found.has(r));
  // Pairs of findings (settings aside) in one incident, and every two findings of one attacker.
  const incidentOf = new Map<string, string>();
  let together = 0;
  let togetherRight = 0;
  for (const inc of incidents) {
    const counts = new Map<string, number>();
    let n = 0;
    for (const s of inc.steps) {
      if (s.kind === 'posture') continue;
      incidentOf.set(s.finding_id, inc.id);
      const l = label(s.finding_id) ?? `unknown ${s.finding_id}`;
      n++;
      counts.set(l, (counts.get(l) ?? 0) + 1);
    }
    together += (n * (n - 1)) / 2;
    for (const [l, k] of counts) if (!l.includes('+')) togetherRight += (k * (k - 1)) / 2;
  }
  let pairs = 0;
  let kept = 0;
  for (const a of attackers) {
    const mine = findings
      .filter((f) => kindOf(f) !== 'posture' && label(f.id)?.split('+').includes(a.label))
      .map((f) => incidentOf.get(f.id));
    for (let i = 0; i < mine.length; i++)
      for (let j = i + 1; j < mine.length; j++) {
        pairs++;
        if (mine[i] !== undefined && mine[i] === mine[j]) kept++;
      }
  }
  return {
    links,
    correctLinks: correct,
    precision: links ? correct / links : 1,
    pairRecall: pairs ? kept / pairs : 1,
    pairPrecision: together ? togetherRight / together : 1,
    linkRecall: required.length ? (required.length - missing.length) / required.length : 1,
    incidents: incidents.length,
    missing,
    wrong,
  };
}

function kindOf(f: Rec | undefined): string {
  if (!f) return '?';
  const rule: string = f.rule?.id ?? '';
  if (rule.startsWith('ssrf'))
    return f.client?.ip && /security-credentials\/./.test(f.target?.path ?? '') ? 'ssrf-credentials' : 'ssrf';
  if (rule.startsWith('credential-exposure')) return 'leak';
  if (rule === 'cloud-instance-role-reconnaissance') return 'cloud-recon';
  if (rule.startsWith('cloud-')) return 'cloud-use';
  if (f.resource && !f.origin?.event_ids) return 'posture';
  if (f.process) return /security-credentials\/./.test(f.http?.path ?? '') ? 'host-credentials' : 'host';
  return 'other';
}
