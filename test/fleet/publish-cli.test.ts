import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { openSqlite } from '../../src/adapters/sqlite/sqlite-database.ts';
import { envelopeMsgId } from '../../src/core/fleet/contract.ts';
import type { Finding } from '../../src/core/model/finding.ts';
import { BIN, ROOT, runCli, skipUnbuilt } from '../e2e/helpers.ts';
import { createFindingsStream, NatsServer, natsUnavailable, streamMessages } from './nats-server.ts';

const skip = natsUnavailable() || skipUnbuilt;
const HOST = 'test-host-1';
const LEAKS = join(ROOT, 'test', 'fixtures', 'leaks', 'access-combined.log');
const CLOUD = join(ROOT, 'test', 'fixtures', 'cloud');

const findings = (jsonl: string): Finding[] =>
  jsonl
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Finding)
    .filter((r) => r.type === 'finding');
const msgIds = (fs: Finding[]) => fs.map((f) => envelopeMsgId({ host: { id: HOST }, finding: f }));
const outboxRows = (path: string): number => {
  const db = openSqlite(path, { readonly: true });
  try {
    return db.prepare<{ n: number }>('SELECT count(*) AS n FROM outbox').get()?.n ?? -1;
  } finally {
    db.close();
  }
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until<T>(what: string, f: () => Promise<T | undefined> | T | undefined, ms = 20_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

describe('--publish on scan and cloudtrail (real nats-server on loopback)', { skip }, () => {
  let dir: string;
  const servers: NatsServer[] = [];
  const children: ChildProcess[] = [];
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'imdsguard-pubcli-'));
  });
  after(async () => {
    // A failed assertion leaves a follower running: stop it before its server and directory go.
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    for (const s of servers) await s.dispose();
    rmSync(dir, { recursive: true, force: true });
  });
  const pub = (server: NatsServer, outbox: string, ...more: string[]) => [
    '--publish',
    server.url,
    '--host-id',
    HOST,
    '--account',
    '123456789012',
    '--region',
    'eu-west-1',
    '--outbox',
    join(dir, outbox),
    ...more,
  ];

  it('every sensor command documents the publishing options', async () => {
    for (const cmd of ['scan', 'cloudtrail', 'agent', 'proxy']) {
      const r = await runCli([cmd, '--help']);
      assert.equal(r.status, 0, r.stderr);
      for (const o of ['--publish <url>', '--nats-creds', '--outbox <file>', '--outbox-max', '--publish-required'])
        assert.ok(r.stdout.includes(o), `${cmd} --help lacks ${o}`);
    }
    const bad = await runCli(['scan', '--publish', 'http://x:1', LEAKS]);
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /not a NATS server address/);
    const notDb = join(dir, 'not-a-database.sqlite');
    writeFileSync(notDb, 'these are not SQLite pages\n');
    const broken = await runCli(['scan', '--publish', 'nats://127.0.0.1:1', '--outbox', notDb, LEAKS]);
    assert.equal(broken.status, 2);
    assert.match(broken.stderr, /Cannot open the outbox ".*not-a-database\.sqlite": file is not a database/);
  });

  it('scan publishes every finding it prints, masked, once; a second run adds nothing', async () => {
    const server = await NatsServer.create();
    servers.push(server);
    const r = await runCli(['scan', '--format', 'jsonl', ...pub(server, 'scan.sqlite', '--create-stream'), LEAKS]);
    assert.equal(r.status, 1, r.stderr);
    const printed = findings(r.stdout);
    assert.ok(printed.length >= 5, `findings printed: ${printed.length}`);
    assert.ok(printed.some((f) => f.rule.id === 'credential-exposure-aws'));
    assert.match(r.stderr, new RegExp(`published ${printed.length} finding\\(s\\): ${printed.length} acknowledged`));
    assert.match(r.stderr, /outbox empty/);
    let msgs = await streamMessages(server.url);
    assert.deepEqual(msgs.map((m) => m.msgId).sort(), msgIds(printed).sort());
    // The leaked key, secret and token of line 4 appear nowhere in the stream.
    const line = decodeURIComponent(readFileSync(LEAKS, 'utf8').split('\n')[3]!);
    const doc = JSON.parse(/d=(\{.*\}) HTTP/.exec(line)![1]!) as Record<string, string>;
    const all = msgs.map((m) => m.body).join('\n');
    for (const secret of [doc.AccessKeyId!, doc.SecretAccessKey!, doc.Token!.slice(0, 40), doc.Token!.slice(-40)])
      assert.ok(!all.includes(secret), `stream holds ${secret.slice(0, 8)}…`);
    const env = JSON.parse(msgs.find((m) => m.body.includes('credential-exposure-aws'))!.body);
    assert.equal(env.host.id, HOST);
    assert.equal(env.source, 'scan');
    assert.ok(env.finding.secret.masked.includes('*'));

    const again = await runCli(['scan', '--format', 'jsonl', ...pub(server, 'scan.sqlite'), LEAKS]);
    assert.equal(again.status, 1, again.stderr);
    assert.match(again.stderr, new RegExp(`${printed.length} already in the stream`));
    msgs = await streamMessages(server.url);
    assert.equal(msgs.length, printed.length);
  });

  it('cloudtrail with the broker down keeps its findings, --publish-required says so, the next run sends them once', async () => {
    const server = await NatsServer.create(false);
    servers.push(server);
    const args = [
      'cloudtrail',
      '--format',
      'jsonl',
      '--inventory',
      join(CLOUD, 'aws-describe-instances.json'),
      join(CLOUD, 'AWSLogs'),
    ];
    const plain = await runCli(args);
    const down = await runCli([...args, ...pub(server, 'ct.sqlite', '--publish-timeout', '1')]);
    assert.equal(down.status, plain.status, 'publishing problems leave the exit code alone');
    assert.equal(down.stdout, plain.stdout, 'the output is the same with --publish');
    const printed = findings(down.stdout);
    assert.ok(printed.length > 0);
    assert.match(down.stderr, new RegExp(`${printed.length} left in the outbox`));
    assert.equal(outboxRows(join(dir, 'ct.sqlite')), printed.length);
    const required = await runCli([
      ...args,
      ...pub(server, 'ct.sqlite', '--publish-timeout', '1', '--publish-required'),
    ]);
    assert.equal(required.status, 3, required.stderr);

    await server.start();
    await createFindingsStream(server.url);
    const up = await runCli([...args, ...pub(server, 'ct.sqlite', '--publish-required')]);
    assert.equal(up.status, plain.status, up.stderr);
    assert.match(up.stderr, /outbox empty/);
    const msgs = await streamMessages(server.url);
    assert.deepEqual(msgs.map((m) => m.msgId).sort(), msgIds(printed).sort());
    assert.equal(outboxRows(join(dir, 'ct.sqlite')), 0);
  });

  it('the outbox bound drops the oldest and counts them', async () => {
    const server = await NatsServer.create(false);
    servers.push(server);
    const r = await runCli([
      'scan',
      '--format',
      'jsonl',
      ...pub(server, 'small.sqlite', '--outbox-max', '3', '--publish-timeout', '0.5'),
      LEAKS,
    ]);
    const printed = findings(r.stdout);
    assert.ok(printed.length > 3);
    assert.match(r.stderr, new RegExp(`${printed.length - 3} dropped by --outbox-max, 3 left in the outbox`));
    assert.equal(outboxRows(join(dir, 'small.sqlite')), 3);
  });

  it('scan --follow started while the broker is down fills the outbox, then publishes it, and a restart doubles nothing', async () => {
    const server = await NatsServer.create(false);
    servers.push(server);
    const log = join(dir, 'follow.log');
    writeFileSync(log, '');
    const outbox = join(dir, 'follow.sqlite');
    const attack = (i: number) =>
      `203.0.113.9 - - [23/Nov/2026:05:10:0${i % 10} +0000] "GET /fetch?url=http://169.254.169.254/latest/meta-data/iam/security-credentials/role-${i} HTTP/1.1" 200 512 "-" "curl/8"\n`;
    const follow = (...more: string[]) => {
      const child = spawn(
        process.execPath,
        [
          BIN,
          'scan',
          '--follow',
          ...more,
          '--format',
          'jsonl',
          '--log-format',
          'combined',
          ...pub(server, 'follow.sqlite', '--publish-timeout', '5'),
          log,
        ],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      children.push(child);
      let out = '';
      let err = '';
      child.stdout.on('data', (b: Buffer) => {
        out += b.toString();
      });
      child.stderr.on('data', (b: Buffer) => {
        err += b.toString();
      });
      const done = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
      return { child, out: () => out, err: () => err, done };
    };

    const first = follow();
    await until('the sensor to follow the log', () => (first.err().includes('following from') ? true : undefined));
    for (let i = 0; i < 5; i++) appendFileSync(log, attack(i));
    await until('the outbox to fill', () => (findings(first.out()).length === 5 ? true : undefined));
    await until('5 rows in the outbox', () => (outboxRows(outbox) === 5 ? true : undefined));

    await server.start();
    await createFindingsStream(server.url);
    await until('the replay', async () => ((await streamMessages(server.url)).length === 5 ? true : undefined));
    for (let i = 5; i < 8; i++) appendFileSync(log, attack(i));
    await until('new findings published', async () =>
      (await streamMessages(server.url)).length === 8 ? true : undefined,
    );
    first.child.kill('SIGTERM');
    assert.equal(await first.done, 1, first.err());
    assert.match(first.err(), /published 8 finding\(s\): 8 acknowledged/);

    // A restarted sensor reading the file from the start finds the same 8 again: the stream still holds 8.
    const second = follow('--from-start');
    await until('the restarted sensor to find the 8 again', () =>
      findings(second.out()).length === 8 ? true : undefined,
    );
    await until('its acknowledgements', async () =>
      (await streamMessages(server.url)).length === 8 && outboxRows(outbox) === 0 ? true : undefined,
    );
    second.child.kill('SIGTERM');
    assert.equal(await second.done, 1, second.err());
    assert.match(second.err(), /8 already in the stream/);
    const msgs = await streamMessages(server.url);
    const ids = msgs.map((m) => m.msgId);
    assert.equal(new Set(ids).size, 8);
    assert.deepEqual(ids.sort(), msgIds(findings(first.out())).sort());
  });
});
