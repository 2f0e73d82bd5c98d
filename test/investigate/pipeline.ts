// Runs the real commands on composed raw inputs and labels each finding with the attacker it belongs to, so the
// tests can score the links investigate makes.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
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

/** The attacker a finding belongs to, from what it names (client, role, instance, process); noise gets its own label. */
export function labelOf(f: Rec, attackers: readonly Attacker[]): string {
  for (const a of attackers) {
    if (a.kind === 'ssrf' && f.client?.ip === a.client) return a.label;
    if (f.principal === a.role || f.resource?.id === a.instance) return a.label;
    if (f.secret?.owner === `role ${a.role}`) return a.label;
    if (new RegExp(`security-credentials/${a.role}$`).test(f.target?.path ?? f.http?.path ?? '')) return a.label;
    if (a.kind === 'host' && f.process?.pid === a.pid) return a.label;
  }
  if (f.principal === 'reporting-role') return 'unrelated';
  if (f.client?.ip) return `noise ${f.client.ip}`;
  return `noise ${f.id}`;
}

export interface Score {
  links: number;
  correctLinks: number;
  precision: number;
  /** Same-attacker pairs of findings that ended up in one incident, over all such pairs. */
  pairRecall: number;
  /** Required direct links found, over required. */
  linkRecall: number;
  missing: string[];
  wrong: string[];
}

/**
 * Score incidents against the labels: a link is right when both ends belong to one attacker (or one noise source);
 * the required links are the chain's steps — SSRF credentials request → leak, leak → key use (same key hash), key use
 * → reconnaissance, host fetch → key use.
 */
export function score(incidents: Rec[], findings: Rec[], attackers: readonly Attacker[]): Score {
  const label = new Map(findings.map((f) => [f.id as string, labelOf(f, attackers)]));
  const byId = new Map(findings.map((f) => [f.id as string, f]));
  let links = 0;
  let correct = 0;
  const wrong: string[] = [];
  const found = new Set<string>();
  for (const inc of incidents)
    for (const l of inc.links) {
      links++;
      const a = label.get(l.from);
      const b = label.get(l.to);
      if (a !== undefined && a === b) correct++;
      else wrong.push(`${a} → ${b} (${l.reason})`);
      const fa = byId.get(l.from);
      const fb = byId.get(l.to);
      found.add(`${a}|${kindOf(fa)}>${kindOf(fb)}|${l.reason}`);
      found.add(`${a}|${kindOf(fa)}>${kindOf(fb)}`);
    }
  const required: string[] = [];
  for (const a of attackers) {
    if (a.kind === 'ssrf') {
      required.push(`${a.label}|ssrf-credentials>leak`, `${a.label}|leak>cloud-use|same-key-hash`);
    } else required.push(`${a.label}|host-credentials>cloud-use`);
    required.push(`${a.label}|cloud-use>cloud-recon`);
  }
  const missing = required.filter((r) => !found.has(r));
  // Pairs: every two findings of one attacker should share an incident.
  const incidentOf = new Map<string, string>();
  for (const inc of incidents) for (const s of inc.steps) incidentOf.set(s.finding_id, inc.id);
  let pairs = 0;
  let together = 0;
  for (const a of attackers) {
    const mine = findings.filter((f) => label.get(f.id) === a.label).map((f) => incidentOf.get(f.id));
    for (let i = 0; i < mine.length; i++)
      for (let j = i + 1; j < mine.length; j++) {
        pairs++;
        if (mine[i] !== undefined && mine[i] === mine[j]) together++;
      }
  }
  return {
    links,
    correctLinks: correct,
    precision: links ? correct / links : 1,
    pairRecall: pairs ? together / pairs : 1,
    linkRecall: required.length ? (required.length - missing.length) / required.length : 1,
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
  if (f.process) return /security-credentials\/./.test(f.http?.path ?? '') ? 'host-credentials' : 'host';
  return 'other';
}
