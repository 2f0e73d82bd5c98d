/**
 * `explain` throughput: classify() over a mix of attack and benign request targets, in process (no start-up cost),
 * and the heap after a long run (memory must stay flat). Prints one line per figure.
 */
import { explain } from '../src/app/explain.ts';

const MIX = [
  '/fetch?url=http%3A%2F%2F0xA9FEA9FE%2Flatest%2Fmeta-data%2F',
  '/orders/2852039166',
  '/search?q=shoes&page=2',
  '/img?src=https://cdn.example.com/a.png',
  'http://[::ffff:a9fe:a9fe]/computeMetadata/v1/',
  '/api/v1/items?id=123456&sort=asc',
  '/login?next=%2Faccount%2Fsettings&ref=mail',
  '/static/app.3f2a1b.js',
  '/proxy?target=http://169-254-169-254.nip.io/metadata/identity/oauth2/token?api-version=2018-02-01',
  '',
];

function run(n: number): number {
  const t0 = performance.now();
  let hits = 0;
  for (let i = 0; i < n; i++) hits += explain(MIX[i % MIX.length]!).hits.length;
  const dt = performance.now() - t0;
  if (hits === 0) throw new Error('no hits: the benchmark input is wrong');
  return dt;
}

run(2000); // warm-up
const n = 10_000;
const dt = run(n);
console.log(
  `explain: ${n} inputs in ${dt.toFixed(0)} ms (${((dt * 1000) / n).toFixed(1)} µs/input, ${Math.round((n / dt) * 1000)} inputs/s)`,
);
const before = process.memoryUsage().heapUsed;
run(200_000);
const after = process.memoryUsage().heapUsed;
console.log(
  `explain: heap before ${(before / 2 ** 20).toFixed(1)} MiB, after 200k more inputs ${(after / 2 ** 20).toFixed(1)} MiB`,
);
