/** Recall and false alarms of the classifier on our own corpus, per decoding family (the figures in the notes). */
import {
  buildBenign,
  buildBenignTraffic,
  buildCompositions,
  buildCorpus,
  scoreByFamily,
} from '../test/corpus/ssrf-corpus.ts';

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

/** The 18 literal strings of Elastic's web-server IMDS SSRF rule, matched case-insensitively, for comparison. */
const ELASTIC = [
  '169.254.169.254',
  '169%2e254%2e169%2e254',
  '0xa9fea9fe',
  '0xa9.0xfe.0xa9.0xfe',
  '2852039166',
  '0251.0376.0251.0376',
  '::ffff:169.254.169.254',
  '::ffff:a9fe:a9fe',
  'fd00:ec2::254',
  '100.100.100.200',
  '169.254.170.2',
  'metadata.google.internal',
  'metadata.goog',
  'computemetadata/v1',
  'meta-data/iam/security-credentials',
  'meta-data%2fiam%2fsecurity-credentials',
  'latest/meta-data',
  'latest/api/token',
];
const elastic = (t: string) => ELASTIC.some((s) => t.toLowerCase().includes(s));
const attacks = [...buildCorpus(), ...buildCompositions()];
const benign = [...buildBenign(), ...buildBenignTraffic()];
const caught = attacks.filter((c) => elastic(c.text)).length;
const fired = benign.filter((c) => elastic(c.text)).length;
console.log(
  `\nfor comparison, Elastic's 18 strings: recall ${caught}/${attacks.length} (${((100 * caught) / attacks.length).toFixed(1)}%), false alarms ${fired}/${benign.length} (${((100 * fired) / benign.length).toFixed(2)}%)`,
);
