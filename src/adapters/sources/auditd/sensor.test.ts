import assert from 'node:assert/strict';
import { appendFile, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { SensorEvent } from '../host/sensor-event.ts';
import { AuditdSensor } from './sensor.ts';

const FIXTURE = fileURLToPath(new URL('../../../../test/fixtures/agent/audit-connect.log', import.meta.url));
const quiet = { info() {}, warn() {}, error() {} };

async function until(pred: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!pred() && Date.now() < end) await new Promise((r) => setTimeout(r, 25));
}

describe('AuditdSensor (a real audit log, followed)', () => {
  let dir: string | undefined;
  after(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('starts at the end, keeps only metadata connects, and follows the log across a rename rotation', async () => {
    dir = await mkdtemp(join(tmpdir(), 'imdsguard-audit-'));
    const log = join(dir, 'audit.log');
    const real = (await readFile(FIXTURE, 'utf8')).split('\n').filter(Boolean);
    // Already in the log before the agent starts: not reported.
    await writeFile(log, `${real.slice(0, 3).join('\n')}\n`);
    const events: SensorEvent[] = [];
    const sensor = new AuditdSensor({ logPath: log, installRule: false, preflight: false, pollMs: 20 });
    await sensor.start((e) => events.push(e), quiet);
    try {
      // A connect to a non-metadata address (the AF_INET record rewritten to 127.0.0.1:18080), then a metadata one.
      const other = real
        .slice(0, 3)
        .map((l) =>
          l
            .replace('msg=audit(1795412346.032:5)', 'msg=audit(1795412350.000:90)')
            .replace('02000050A9FEA9FE', '020046A07F000001'),
        );
      await appendFile(log, `${other.join('\n')}\n${real.slice(3).join('\n')}\n`);
      await until(() => events.length >= 1, 5000);
      // logrotate: rename, new file, the daemon writes on.
      await rename(log, `${log}.1`);
      const next = real
        .slice(0, 3)
        .map((l) => l.replace('msg=audit(1795412346.032:5)', 'msg=audit(1795412400.000:91)'));
      await writeFile(log, `${next.join('\n')}\n`);
      await until(() => events.length >= 2, 5000);
    } finally {
      await sensor.stop();
    }
    assert.equal(events.length, 2, JSON.stringify(events));
    assert.deepEqual(events[0]?.destination, { ip: 'fd00:ec2::254', port: 80 });
    assert.match(events[0]?.exe ?? '', /python3/);
    assert.equal(events[1]?.pid, 29678);
    assert.equal(events[1]?.exe, '/usr/bin/curl');
    assert.equal(events[1]?.timeMs, 1795412400000);
    assert.deepEqual(events[1]?.destination, { ip: '169.254.169.254', port: 80 });
    assert.equal(events[1]?.http, undefined);
    assert.equal(sensor.stats().connects, 3);
  });

  it('groups records by serial when two events interleave in the log', async () => {
    const d = await mkdtemp(join(tmpdir(), 'imdsguard-audit-'));
    try {
      const log = join(d, 'audit.log');
      await writeFile(log, '');
      const real = (await readFile(FIXTURE, 'utf8')).split('\n').filter(Boolean);
      const [a, b] = [real.slice(0, 3), real.slice(3, 6)];
      // Two tasks on two CPUs: their records alternate; a grouping by adjacency would lose both events.
      const mixed = [a[0], b[0], a[1], b[1], a[2], b[2]];
      const events: SensorEvent[] = [];
      const sensor = new AuditdSensor({ logPath: log, installRule: false, preflight: false, pollMs: 20 });
      await sensor.start((e) => events.push(e), quiet);
      try {
        await appendFile(log, `${mixed.join('\n')}\n`);
        await until(() => events.length >= 2, 5000);
      } finally {
        await sensor.stop();
      }
      assert.deepEqual(
        events.map((e) => e.destination.ip),
        ['169.254.169.254', 'fd00:ec2::254'],
      );
      assert.equal(events[0]?.exe, '/usr/bin/curl');
      assert.match(events[1]?.exe ?? '', /python3/);
      assert.equal(sensor.stats().connects, 2);
    } finally {
      await rm(d, { recursive: true, force: true });
    }
  });
});
