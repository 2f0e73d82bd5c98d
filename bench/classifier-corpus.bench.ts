/** Recall and false alarms of the classifier on our own corpus, per decoding family (the figures in the notes). */
import {
  buildBenign,
  buildBenignTraffic,
  buildCompositions,
  buildCorpus,
  scoreByFamily,
} from '../test/corpus/ssrf-corpus.ts';
import { ELASTIC_STRINGS } from './elastic-strings.ts';

function table(title: string, rows: ReturnType<typeof scoreByFamily>, wrongIs: string): void {
  const total = rows.reduce((a, r) => a + r.total, 0);
  const correct = rows.reduce((a, r) => a + r.correct, 0);
  console.log(`\n${title}: ${correct}/${total} correct (${((100 * correct) / total).toFixed(2)}%)`);
  for (const r of rows.sort((a, b) => a.family.localeCompare(b.family))) {
    console.log(
      `  ${r.family.padEnd(34)} ${String(r.correct).padStart(5)}/${String(r.total).padEnd(5)} ${r.wrong.length ? `${wrongIs}: ${r.wrong.slice(0, 2).join(' | ')}` : ''}`,
    );
  }
}

table('attacks (recall: verdict metadata)', scoreByFamily([...buildCorpus(), ...buildCompositions()]), 'missed');
table('hard benign (no metadata verdict)', scoreByFamily([...buildBenign(), ...buildBenignTraffic()]), 'false alarm');

const elastic = (t: string) => ELASTIC_STRINGS.some((s) => t.toLowerCase().includes(s.toLowerCase()));
const attacks = [...buildCorpus(), ...buildCompositions()];
const benign = [...buildBenign(), ...buildBenignTraffic()];
const caught = attacks.filter((c) => elastic(c.text)).length;
const fired = benign.filter((c) => elastic(c.text)).length;
console.log(
  `\nfor comparison, Elastic's 18 strings: recall ${caught}/${attacks.length} (${((100 * caught) / attacks.length).toFixed(1)}%), false alarms ${fired}/${benign.length} (${((100 * fired) / benign.length).toFixed(2)}%)`,
);
