/**
 * A worker given a file it can read only in part (a truncated gzip) ends as `scan` does on that file: the findings
 * before the cut published, the job done (another try would read the same bytes), and exit 2 (real nats-server on
 * loopback, the built CLI).
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { findingIds, runCli, skipUnbuilt } from '../e2e/helpers.ts';
import { createFindingsStream, NatsServer, natsUnavailable, streamMessages } from './nats-server.ts';

const skip = natsUnavailable() || skipUnbuilt;
const SSRF = (i: number) =>
  `192.0.2.${i % 250} - - [21/Nov/2026:09:14:04 +0000] "GET /fetch?url=http://169.254.169.254/latest/meta-data/iam/security-credentials/r${i} HTTP/1.1" 200 512 "-" "curl/8"\n`;

describe('scan --worker on a truncated gzip', { skip, timeout: 120_000 }, () => {
  let dir: string;
  let server: NatsServer;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'imdsguard-workercut-'));
    server = await NatsServer.create();
    await createFindingsStream(server.url);
  });
  after(async () => {
    await server?.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  it('publishes the findings before the cut, finishes the job and exits 2, as scan does', async () => {
    const archive = join(dir, 'archive');
    mkdirSync(archive);
    const gz = gzipSync(Array.from({ length: 3000 }, (_, i) => SSRF(i)).join(''));
    const cut = join(archive, 'access.log.gz');
    writeFileSync(cut, gz.subarray(0, Math.floor(gz.length * 0.6)));
    const d = await runCli(['scan', '--dispatch', '--publish', server.url, archive]);
    assert.equal(d.status, 0, d.stderr);

    const plain = await runCli(['scan', '--format', 'jsonl', cut]);
    assert.equal(plain.status, 2, plain.stderr);
    const expected = findingIds(plain.stdout);
    assert.ok(expected.length > 100 && expected.length < 3000, String(expected.length));

    const w = await runCli([
      'scan',
      '--worker',
      '--drain',
      '--max-tries',
      '2',
      '--publish',
      server.url,
      '--outbox',
      join(dir, 'w.sqlite'),
      '--format',
      'jsonl',
    ]);
    assert.equal(w.status, 2, w.stderr);
    assert.match(w.stderr, /access\.log\.gz: truncated gzip after line \d+/);
    assert.match(w.stderr, /worker: 1 job\(s\) done, 1 read in part/);
    assert.doesNotMatch(w.stderr, /dead-lettered|try 1 of 2 failed/);
    assert.deepEqual(findingIds(w.stdout), expected);
    const published = (await streamMessages(server.url)).map(
      (m) => (JSON.parse(m.body) as { finding: { id: string } }).finding.id,
    );
    assert.deepEqual(published.sort(), expected);
  });
});
