// Distributed scanning against a plain scan: an archive of --files generated combined logs (--mib in all) scanned by
// `scan` in one process (the peer), and by 1 and by 2 `scan --worker --drain` processes after `scan --dispatch`, on a
// local nats-server (JetStream, file storage, loopback), in alternating runs. Before each distributed run the job,
// dead-letter and findings streams are deleted, so every job and finding is new. Reported: wall seconds of the
// plain scan, of the dispatch (it hashes every file), of the workers until the last one exits (a drained worker
// notices the empty queue within a second), and the ratios plain / workers. On a machine with N cores more than N
// workers cannot help; the workers also publish every finding and wait for its acknowledgement before each job's.
// Usage: npm run build && npm run bench -- --only scan-jobs [--mib N] [--files N] [--runs N]
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { FINDINGS_STREAM, SCAN_DEAD_STREAM, SCAN_JOBS_STREAM } from '../src/core/fleet/contract.ts';
import { createFindingsStream, NatsServer, natsUnavailable } from '../test/fleet/nats-server.ts';
import { generateUniqueLog } from './scan-gen-unique.ts';

const args = process.argv.slice(2);
const arg = (name: string, dflt: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1]! : dflt;
};
const mib = Number(arg('--mib', '200'));
const nFiles = Math.max(1, Number(arg('--files', '8')));
const runs = Math.max(1, Number(arg('--runs', '3')));
const root = join(import.meta.dirname, '..');
const BIN = join(root, 'dist', 'cli', 'main.js');

const unavailable = natsUnavailable();
if (unavailable) {
  console.error(`scan-jobs bench: ${unavailable}`);
  process.exit(0);
}

const median = (a: number[]) => {
  const s = [...a].sort((x, y) => x - y);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const spread = (a: number[], digits: number) =>
  `${median(a).toFixed(digits)} (${Math.min(...a).toFixed(digits)}–${Math.max(...a).toFixed(digits)})`;

/** Run the CLI; resolves with its wall seconds (exit 0 or 1 expected). */
function cli(argv: string[]): Promise<number> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, [BIN, ...argv], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    c.stderr.on('data', (b: Buffer) => {
      err += b.toString('utf8');
    });
    c.on('exit', (code) => {
      if (code === 0 || code === 1) resolve((performance.now() - t0) / 1000);
      else reject(new Error(`imdsguard ${argv.slice(0, 2).join(' ')} exited ${code}: ${err}`));
    });
  });
}

const dir = mkdtempSync(join(tmpdir(), 'imdsguard-bench-jobs-'));
const server = await NatsServer.create();
try {
  const archive = join(dir, 'archive');
  mkdirSync(archive);
  let bytes = 0;
  for (let i = 0; i < nFiles; i++) {
    const p = join(archive, `access-${i}.log`);
    await generateUniqueLog('combined', p, (mib * (1 << 20)) / nFiles, { seed: 100 + i, attackEvery: 20_000 });
    bytes += statSync(p).size;
  }
  const fresh = async () => {
    const nc = await connect({ servers: server.url });
    const jsm = await jetstreamManager(nc);
    for (const s of [SCAN_JOBS_STREAM, SCAN_DEAD_STREAM, FINDINGS_STREAM])
      await jsm.streams.delete(s).catch(() => false);
    await nc.close();
    await createFindingsStream(server.url);
  };
  const distributed = async (workers: number, k: number) => {
    await fresh();
    const dispatch = await cli(['scan', '--dispatch', '--publish', server.url, archive]);
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: workers }, (_, w) =>
        cli([
          'scan',
          '--worker',
          '--drain',
          '--publish',
          server.url,
          '--outbox',
          join(dir, `outbox-${workers}-${k}-${w}.sqlite`),
          '--log-format',
          'combined',
          '-o',
          '/dev/null',
        ]),
      ),
    );
    return { dispatch, work: (performance.now() - t0) / 1000 };
  };
  const plain: number[] = [];
  const dispatch: number[] = [];
  const one: number[] = [];
  const two: number[] = [];
  for (let k = 0; k < runs; k++) {
    // Alternate the order so that a drift of the machine's speed falls on every variant alike.
    const order = k % 2 === 0 ? ['plain', 1, 2] : [2, 1, 'plain'];
    for (const v of order) {
      if (v === 'plain')
        plain.push(await cli(['scan', '--log-format', 'combined', '--format', 'jsonl', '-o', '/dev/null', archive]));
      else {
        const r = await distributed(v as number, k);
        dispatch.push(r.dispatch);
        (v === 1 ? one : two).push(r.work);
      }
    }
  }
  const row = {
    archive: `${nFiles} files, ${(bytes / (1 << 20)).toFixed(0)} MiB`,
    cores: cpus().length,
    'plain scan s': spread(plain, 2),
    'dispatch s': spread(dispatch, 2),
    '1 worker s': spread(one, 2),
    '2 workers s': spread(two, 2),
    'plain / 1 worker': (median(plain) / median(one)).toFixed(2),
    'plain / 2 workers': (median(plain) / median(two)).toFixed(2),
  };
  console.log(JSON.stringify({ bench: 'scan-jobs', runs, ...row }));
  const cols = Object.keys(row);
  console.log(`\n| ${cols.join(' | ')} |\n|${cols.map(() => '---').join('|')}|`);
  console.log(`| ${cols.map((c) => row[c as keyof typeof row]).join(' | ')} |`);
} finally {
  await server.dispose();
  rmSync(dir, { recursive: true, force: true });
}
