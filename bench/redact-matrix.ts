// The encoding matrix of the masking engine: for every provider's credential document and every encoding (alone,
// and under two more random layers), in every log format, the share of cases where no 12-character piece of any
// secret is left, as written or once the encodings are undone. Usage: npx tsx bench/redact-matrix.ts [--samples N]
import fc from 'fast-check';
import { Masker } from '../src/core/secrets/masker.ts';
import { ENCODINGS, encode, LOG_FORMATS, leftOver, secretDoc } from '../test/support/secret-docs.ts';

const args = process.argv.slice(2);
const at = args.indexOf('--samples');
const samples = at >= 0 ? Number(args[at + 1]) : 12;
const docs = fc.sample(secretDoc, { numRuns: 400, seed: 20261205 });
const providers = [...new Set(docs.map((d) => d.provider))].sort();
const names = Object.keys(ENCODINGS);
const chains = fc.sample(fc.array(fc.constantFrom(...names), { minLength: 2, maxLength: 2 }), {
  numRuns: samples,
  seed: 7,
});

function masked(doc: (typeof docs)[number], chain: string[]): boolean {
  let ok = true;
  Object.values(LOG_FORMATS).forEach((fmt, i) => {
    const line = fmt(encode(doc.json, chain), i);
    const out = new Masker().line(line);
    for (const s of doc.secrets) if (leftOver(out, s, chain) !== null) ok = false;
  });
  return ok;
}

const rows: string[] = [`| encoding | ${providers.join(' | ')} |`, `|---|${providers.map(() => '---').join('|')}|`];
for (const name of names) {
  for (const deep of [false, true]) {
    const cells = providers.map((p) => {
      const ds = docs.filter((d) => d.provider === p).slice(0, samples);
      let pass = 0;
      let all = 0;
      ds.forEach((d, k) => {
        const chain = deep ? [...chains[k % chains.length]!, name] : [name];
        all++;
        if (masked(d, chain)) pass++;
      });
      return `${pass}/${all}`;
    });
    rows.push(`| ${deep ? `two random layers, then ${name}` : name} | ${cells.join(' | ')} |`);
  }
}
console.log(rows.join('\n'));
