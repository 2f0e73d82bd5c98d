/**
 * Recall and false alarms per family, on our own corpora and on the public collections beside the project
 * (`../shared/corpora`: OWASP CRS cases and data list, PayloadsAllTheThings pages, the real Apache log).
 *
 *   npx tsx bench/detection-families.ts                      # this tree's classifier
 *   npx tsx bench/detection-families.ts --classifier DIR     # another tree's (e.g. a worktree of an older commit)
 *
 * The cases always come from this tree, so two runs compare classifiers on the same input.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { CRS_METADATA, type FtwStage, HARNESS_HEADERS, loadCrsFiles } from '../test/corpora/crs-cases.ts';
import { CORPORA } from '../test/corpora/shared.ts';
import { buildContextBenign, buildGrammarAttacks } from '../test/corpus/families.ts';
import {
  buildBenign,
  buildBenignTraffic,
  buildCompositions,
  buildCorpus,
  type CorpusCase,
} from '../test/corpus/ssrf-corpus.ts';

type Classify = (
  text: string,
  ctx?: { kind?: 'target' | 'host' | 'url' | 'text'; field?: string },
) => Array<{ verdict: string }>;

const at = process.argv.indexOf('--classifier');
const dir = at > 0 ? resolve(process.argv[at + 1] ?? '.') : resolve(import.meta.dirname, '..');
const { classify } = (await import(join(dir, 'src/core/classify.ts'))) as { classify: Classify };
const isMeta = (hits: Array<{ verdict: string }>) => hits.some((h) => h.verdict === 'metadata');

interface Row {
  set: string;
  family: string;
  kind: 'attack' | 'benign';
  total: number;
  wrong: string[];
}
const rows = new Map<string, Row>();
function score(set: string, family: string, kind: Row['kind'], text: string, flagged: boolean): void {
  const key = `${set}|${family}|${kind}`;
  const r = rows.get(key) ?? { set, family, kind, total: 0, wrong: [] };
  r.total++;
  if (flagged !== (kind === 'attack')) r.wrong.push(text);
  rows.set(key, r);
}
const own = (set: string, cases: CorpusCase[]) => {
  for (const c of cases)
    score(set, c.family, c.expect === 'metadata' ? 'attack' : 'benign', c.text, isMeta(classify(c.text)));
};

own('own', [...buildCorpus(), ...buildCompositions()]);
own('own', [...buildBenign(), ...buildBenignTraffic()]);
own('own-new', buildGrammarAttacks(200, 4242));
own('own-new', buildContextBenign(200, 2424));

if (existsSync(join(CORPORA, 'crs'))) {
  const stageHits = (s: FtwStage) => {
    const i = s.input;
    const hits = [...(i.uri ? classify(i.uri, { kind: 'target' }) : []), ...(i.data ? classify(i.data) : [])];
    for (const [k, v] of Object.entries(i.headers ?? {}))
      if (!HARNESS_HEADERS.has(k.toLowerCase())) hits.push(...classify(v, { field: k }));
    return hits;
  };
  for (const doc of loadCrsFiles())
    for (const t of doc.tests)
      for (const s of t.stages) {
        const kind = CRS_METADATA[doc.rule_id]?.has(t.test_id) ? 'attack' : 'benign';
        score(
          'crs',
          `rule-${doc.rule_id}`,
          kind,
          `${doc.rule_id}-${t.test_id} ${s.input.uri ?? ''}`,
          isMeta(stageHits(s)),
        );
      }
}
if (existsSync(join(CORPORA, 'patt'))) {
  const page = readFileSync(join(CORPORA, 'patt', 'SSRF-Cloud-Instances.md'), 'utf8');
  const docs =
    /^[a-z]+:\/\/(?:docs\.|[\w.-]*microsoft\.com|developers\.digitalocean\.com|rancher\.com|web\.archive\.org|www\.googleapis\.com|foo\/|\$\{AWS_LAMBDA|localhost:9001|127\.0\.0\.1|github\.com|cloud\.google\.com|learn\.microsoft\.com)/i;
  for (const m of page.matchAll(/\b(?:https?|gopher|dict):\/\/[^\s)`"'<>]+/g)) {
    const u = m[0].replace(/[.,;]+$/, '');
    score('patt', 'cloud-instances-page', docs.test(u) ? 'benign' : 'attack', u, isMeta(classify(u)));
    // The same URL as a request's parameter followed by another, as written and percent-encoded.
    if (!docs.test(u))
      for (const target of [`/fetch?url=${u}&format=json`, `/fetch?url=${encodeURIComponent(u)}&format=json`])
        score('patt', 'cloud-page-in-parameter', 'attack', target, isMeta(classify(target, { kind: 'target' })));
  }
}
if (existsSync(join(CORPORA, 'real-logs'))) {
  for (const line of readFileSync(join(CORPORA, 'real-logs', 'apache_logs'), 'utf8').split('\n')) {
    const target = /"[A-Z]+ (\S+) HTTP/.exec(line)?.[1];
    if (target) score('real-log', 'request-targets', 'benign', target, isMeta(classify(target, { kind: 'target' })));
  }
}

const pct = (a: number, b: number) => (b === 0 ? '-' : `${((100 * a) / b).toFixed(2)}%`);
console.log(`classifier: ${dir}`);
for (const kind of ['attack', 'benign'] as const) {
  console.log(
    kind === 'attack' ? '\nRECALL (attacks found as metadata)' : '\nFALSE ALARMS (benign reported as metadata)',
  );
  const list = [...rows.values()]
    .filter((r) => r.kind === kind)
    .sort((a, b) => `${a.set}${a.family}`.localeCompare(`${b.set}${b.family}`));
  let total = 0;
  let wrong = 0;
  for (const r of list) {
    total += r.total;
    wrong += r.wrong.length;
    const figure = kind === 'attack' ? pct(r.total - r.wrong.length, r.total) : pct(r.wrong.length, r.total);
    console.log(
      `  ${`${r.set}/${r.family}`.padEnd(42)} ${String(r.total).padStart(5)}  ${figure.padStart(8)}  ${r.wrong.slice(0, 1).join('').slice(0, 110)}`,
    );
  }
  console.log(
    `  ${'all'.padEnd(42)} ${String(total).padStart(5)}  ${(kind === 'attack' ? pct(total - wrong, total) : pct(wrong, total)).padStart(8)}`,
  );
}
