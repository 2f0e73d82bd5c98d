// What makes two findings about one thing: a role is a role of one account, a line a line of one file on one host,
// a pid a process of one host; links go forward in time, more evidence never takes a link away, and an incident's
// id is made from what it is about, not from the other incidents or how a path was spelt.
import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { test } from 'node:test';
import { stepFromRecord } from './from-finding.ts';
import { buildIncidents } from './incident.ts';
import { linkSteps } from './links.ts';
import { remediationFor } from './remediation.ts';
import { normalIncidentId, selectIncidents } from './select.ts';
import type { Step } from './step.ts';

type Rec = Record<string, unknown>;

function step(f: Rec, source = { file: 'in.jsonl', line: 1 }): Step {
  const s = stepFromRecord(
    { type: 'finding', severity: 'high', confidence: 0.9, title: 't', ...f, rule: { id: f.rule, name: 'n' } },
    source,
    { fileKey: (p) => resolve('/srv/logs', p) },
  );
  assert.ok(s);
  return s;
}

const A = '111122223333';
const B = '444455556666';
const HASH = 'hmac-sha256:0123456789abcdef01234567';

const use = (id: string, time: string, principal: string, account: string, more: Rec = {}) =>
  step({
    id,
    rule: 'cloud-instance-credentials-outside-use',
    time,
    provider: 'aws',
    principal,
    client: { ip: '198.18.0.1' },
    resource: { id: 'i-0123456789abcdef0', kind: 'ec2-instance', account },
    origin: { event_ids: [`ev-${id}`] },
    ...more,
  });
const leak = (id: string, time: string, owner: string, more: Rec = {}, file = 'app.log') =>
  step({
    id,
    rule: 'credential-exposure-aws',
    time,
    provider: 'aws',
    secret: { kind: 'aws-secret-access-key', masked: 'Fake****abcd', hash: HASH, owner },
    origin: { file, line: 7 },
    ...more,
  });
const fetch = (id: string, time: string, role: string, more: Rec = {}) =>
  step({
    id,
    rule: 'imds-v1-use',
    time,
    provider: 'aws',
    origin: { sensor: 'imdsguard-agent' },
    process: { pid: 4242, exe: '/usr/bin/python3', uid: 1000 },
    destination: { ip: '169.254.169.254', port: 80 },
    http: { method: 'GET', path: `/latest/meta-data/iam/security-credentials/${role}` },
    imds_version: 1,
    ...more,
  });
const ssrf = (id: string, time: string, source: { file: string; line: number }, more: Rec = {}) =>
  step(
    {
      id,
      rule: 'ssrf-metadata',
      time,
      provider: 'aws',
      client: { ip: '192.0.2.7' },
      target: { raw: 'x', decoded: 'x', path: '/latest/meta-data/', path_class: 'index' },
      origin: { file: 'access.log', line: 3 },
      ...more,
    },
    source,
  );

const pairs = (steps: Step[]) => new Set(linkSteps(steps).map((l) => `${l.from}>${l.to}`));

test('a role is a role of one account: the same name in two accounts is not linked', () => {
  const fleet = (account: string) => ({ fleet: { host: { id: 'h1', name: 'web-1' }, account } });
  // A host fetched web-role's credentials in account A; web-role of account B was used.
  assert.deepEqual(
    [
      ...pairs([
        fetch('f1', '2026-11-21T09:00:00Z', 'web-role', fleet(A)),
        use('u1', '2026-11-21T09:20:00Z', 'web-role', B),
      ]),
    ],
    [],
  );
  // The leak's owner is a role ARN of account A.
  const arn = `arn:aws:iam::${A}:role/app/web-role`;
  const other = leak('l1', '2026-11-21T09:00:00Z', arn, {
    secret: { kind: 'aws-secret-access-key', masked: 'x', hash: 'hmac-sha256:aa', owner: arn },
  });
  assert.equal(other.account, A);
  assert.deepEqual(other.roles, ['web-role']);
  assert.deepEqual([...pairs([other, use('u1', '2026-11-21T09:20:00Z', 'web-role', B)])], []);
  // The same account (or an assumed-role ARN of it) is linked.
  assert.deepEqual([...pairs([other, use('u1', '2026-11-21T09:20:00Z', 'web-role', A)])], ['l1>u1']);
  const assumed = use('u2', '2026-11-21T09:20:00Z', `arn:aws:sts::${A}:assumed-role/web-role/i-0123456789abcdef0`, B);
  assert.equal(assumed.account, A, "the principal's ARN says its account");
  assert.deepEqual([...pairs([other, assumed])], ['l1>u2']);
});

test('a step that names no account, linked on its role alone to uses in two accounts, is linked to neither', () => {
  const bare = leak('l1', '2026-11-21T09:00:00Z', 'role web-role', {
    secret: { kind: 'aws-secret-access-key', masked: 'x', hash: 'hmac-sha256:bb', owner: 'role web-role' },
  });
  assert.deepEqual([...pairs([bare, use('u1', '2026-11-21T09:20:00Z', 'web-role', A)])], ['l1>u1']);
  const both = [
    bare,
    use('u1', '2026-11-21T09:20:00Z', 'web-role', A),
    use('u2', '2026-11-21T09:30:00Z', 'web-role', B),
  ];
  assert.deepEqual([...pairs(both)], []);
  // The same finding from the hub's store (with its host) and from a local file (without): one step.
  const stored = step({
    ...JSON.parse(JSON.stringify({ id: 'u1' })),
    rule: 'cloud-instance-credentials-outside-use',
    time: '2026-11-21T09:20:00Z',
    principal: 'web-role',
    resource: { id: 'i-0123456789abcdef0', kind: 'ec2-instance', account: A },
    origin: { event_ids: ['ev-u1'] },
    fleet: { host: { id: 'h1' } },
  });
  const incs = buildIncidents([bare, stored, use('u1', '2026-11-21T09:20:00Z', 'web-role', A)]);
  assert.deepEqual(
    incs.map((i) => i.steps.map((s) => s.finding_id)),
    [['l1', 'u1']],
  );
});

test('a known key or instance rules out a link on the role: a leak of one key is not tied to the use of another', () => {
  const OTHER = 'hmac-sha256:fedcba9876543210fedcba98';
  const l1 = leak('l1', '2026-11-21T09:00:00Z', 'role web-role');
  const mine = use('u1', '2026-11-21T09:20:00Z', 'web-role', A, { evidence: { access_key_hashes: [HASH] } });
  const theirs = use('u2', '2026-11-21T09:25:00Z', 'web-role', A, {
    client: { ip: '198.18.0.2' },
    resource: { id: 'i-0fedcba9876543210', kind: 'ec2-instance', account: A },
    evidence: { access_key_hashes: [OTHER] },
  });
  // The use of another key alone: the same role and window, but the leaked key's hash says it is not this one.
  assert.deepEqual([...pairs([l1, theirs])], []);
  const links = linkSteps([l1, mine, theirs]);
  assert.deepEqual(
    links.map((l) => `${l.from}>${l.to} ${l.reason}`),
    ['l1>u1 same-key-hash'],
  );
  // One fetch delivers one key of one instance: linked on its role alone to uses on two instances (keys unknown to
  // it), it is the source of neither, and the two are not joined through it.
  const f1 = fetch('f1', '2026-11-21T09:00:00Z', 'web-role');
  assert.deepEqual([...pairs([f1, mine])], ['f1>u1']);
  assert.deepEqual([...pairs([f1, mine, theirs])], []);
  assert.deepEqual(
    buildIncidents([f1, mine, theirs])
      .map((i) => i.steps.map((st) => st.finding_id))
      .sort(),
    [['f1'], ['u1'], ['u2']],
  );
  // A fetch that names its instance is tied only to uses of that instance's credentials.
  const onX = fetch('f2', '2026-11-21T09:00:00Z', 'web-role', {
    resource: { id: 'i-0fedcba9876543210', kind: 'ec2-instance', account: A },
  });
  assert.deepEqual([...pairs([onX, mine])], []);
  assert.deepEqual([...pairs([onX, theirs])].sort(), ['f2>u2']);
});

test('a masked key and a role link only inside one named account; a salted hash needs no account', () => {
  const noHash = (id: string, owner: string, more: Rec = {}) =>
    leak(id, '2026-11-21T09:00:00Z', owner, {
      secret: { kind: 'aws-access-key-id', masked: 'ASIA****QX7Z', hash: '', owner },
      evidence: { secrets: [{ kind: 'aws-access-key-id', masked: 'ASIA****QX7Z' }] },
      ...more,
    });
  const used = (account: string) =>
    use('u1', '2026-11-21T09:20:00Z', 'web-role', account, {
      evidence: { access_keys: ['ASIA****QX7Z'], first_time: '2026-11-21T09:20:00Z' },
    });
  const links = (steps: Step[]) => linkSteps(steps).map((l) => `${l.from}>${l.to} ${l.reason}`);
  // The leak names account A (a role ARN); the key of that mask and role was used in account B: not one key.
  const inA = noHash('l1', `arn:aws:iam::${A}:role/web-role`);
  assert.deepEqual(links([inA, used(B)]), []);
  // The leak names no account: the mask is no identity, no masked-key link is made.
  assert.ok(!links([noHash('l2', 'role web-role'), used(B)]).some((l) => l.includes('same-masked-key-and-role')));
  // One account on both ends: linked on the mask.
  assert.deepEqual(links([inA, used(A)]), ['l1>u1 same-masked-key-and-role']);
  // A salted hash is the key itself, in whatever account.
  const hashed = leak('l3', '2026-11-21T09:00:00Z', 'role other');
  const usedHashed = use('u2', '2026-11-21T09:20:00Z', 'web-role', B, { evidence: { access_key_hashes: [HASH] } });
  assert.deepEqual(links([hashed, used(B), usedHashed]), ['l3>u2 same-key-hash']);
});

test('one line is one line of one file on one host', () => {
  const onHost = (host: string) => ({ fleet: { host: { id: host, name: host }, account: A } });
  const src = { file: 'store.db', line: 1 };
  const request = (id: string, more: Rec) =>
    ssrf(id, '2026-11-21T09:00:00Z', src, { origin: { file: '/var/log/app.log', line: 12 }, ...more });
  const leaked = (id: string, more: Rec) => leak(id, '2026-11-21T09:00:00Z', 'role r', more, '/var/log/app.log');
  const at12 = { origin: { file: '/var/log/app.log', line: 12 } };
  // Two hosts' /var/log/app.log line 12, both read from the hub's store: two lines.
  assert.deepEqual([...pairs([request('s1', onHost('web-1')), leaked('l1', { ...onHost('web-2'), ...at12 })])], []);
  assert.deepEqual(
    [...pairs([request('s1', onHost('web-1')), leaked('l1', { ...onHost('web-1'), ...at12 })])],
    ['s1>l1'],
  );
  // No host in the records: two finding files (two hosts' scans collected side by side) are two logs.
  const r1 = ssrf('s1', '2026-11-21T09:00:00Z', { file: 'web-1.jsonl', line: 1 }, at12);
  const l1 = step(
    {
      id: 'l1',
      rule: 'credential-exposure-aws',
      time: '2026-11-21T09:00:00Z',
      secret: { kind: 'k', masked: 'm', hash: 'h', owner: 'role r' },
      ...at12,
    },
    { file: 'web-2.jsonl', line: 1 },
  );
  assert.deepEqual([...pairs([r1, l1])], []);
  const sameFile = { source: { file: 'web-1.jsonl', line: 2 }, readFrom: r1.readFrom };
  assert.deepEqual([...pairs([r1, { ...l1, ...sameFile }])], ['s1>l1']);
  // Different files on one line number: never; nor two files of one name in two directories, nor one line number
  // read at two times (a rotated log).
  assert.deepEqual([...pairs([r1, { ...l1, ...sameFile, fileKey: '/var/log/other.log' }])], []);
  assert.deepEqual([...pairs([r1, { ...l1, ...sameFile, fileKey: '/srv/old/app.log' }])], []);
  assert.deepEqual([...pairs([r1, { ...l1, ...sameFile, fileKey: 'app.log' }])], ['s1>l1'], 'a relative spelling');
  assert.deepEqual(
    [...pairs([r1, { ...l1, ...sameFile, time: '2026-11-22T09:00:00Z', timeMs: Date.parse('2026-11-22T09:00:00Z') }])],
    [],
  );
});

test('one process is one pid of one host: the same pid and executable on two hosts are two processes', () => {
  const on = (host: string) => ({ fleet: { host: { id: host, name: host } } });
  const reasons = (steps: Step[]) => linkSteps(steps).map((l) => l.reason);
  const a = fetch('f1', '2026-11-21T09:00:00Z', 'r1', on('web-1'));
  assert.deepEqual(reasons([a, fetch('f2', '2026-11-21T09:01:00Z', 'r2', on('web-2'))]), []);
  assert.deepEqual(reasons([a, fetch('f2', '2026-11-21T09:01:00Z', 'r2', on('web-1'))]), ['same-process']);
  // A pid reused by a later process (another start time) is another process.
  const started = (t: number) => ({ ...on('web-1'), process: { pid: 4242, exe: '/usr/bin/python3', start_time: t } });
  assert.deepEqual(
    reasons([
      fetch('f1', '2026-11-21T09:00:00Z', 'r1', started(100)),
      fetch('f2', '2026-11-21T09:01:00Z', 'r2', started(900)),
    ]),
    [],
  );
});

test('more evidence never takes a link away', () => {
  const base = [
    fetch('f1', '2026-11-21T09:00:00Z', 'batch'),
    use('u1', '2026-11-21T09:20:00Z', 'batch', A, { evidence: { access_key_hashes: [HASH] } }),
    leak('l1', '2026-11-21T09:05:00Z', 'role web', {}, 'app.log'),
    step({ id: 'p1', rule: 'posture-imdsv1-allowed', resource: { id: 'i-0123456789abcdef0', kind: 'ec2-instance' } }),
  ];
  const before = pairs(base);
  assert.ok(before.has('f1>u1') && before.has('l1>u1') && before.has('p1>u1'), [...before].join(' '));
  const more = [
    // The same key leaked into another log, read first.
    leak('l0', '2026-11-21T09:04:00Z', 'role web', {}, 'other.log'),
    // An earlier use of the instance's credentials: the setting keeps its link to the later one.
    use('u0', '2026-11-21T09:10:00Z', 'batch', A, { client: { ip: '198.18.0.2' } }),
    // Unrelated: another role, another account, another host.
    fetch('f9', '2026-11-21T09:00:00Z', 'reporting', { fleet: { host: { id: 'h9' } } }),
    use('u9', '2026-11-21T09:30:00Z', 'reporting', B, {
      resource: { id: 'i-0fedcba9876543210', kind: 'ec2-instance', account: B },
    }),
  ];
  for (let n = 1; n <= more.length; n++) {
    const after = pairs([...more.slice(0, n), ...base]);
    for (const p of before) assert.ok(after.has(p), `${p} kept with ${more.slice(0, n).map((s) => s.findingId)}`);
  }
});

test('links go forward in time: a consequence before its cause (beyond the clock skew) is not linked', () => {
  const hashed = {
    evidence: { access_key_hashes: [HASH], first_time: '2026-11-21T09:00:00Z', last_time: '2026-11-21T09:10:00Z' },
  };
  const l = leak('l1', '2026-11-21T10:00:00Z', 'role web');
  assert.deepEqual(
    [...pairs([l, use('u1', '2026-11-21T09:00:00Z', 'web', A, hashed)])],
    [],
    'used an hour before it leaked',
  );
  // Within the clock skew (5 min), or a use whose span reaches past the leak, is linked.
  assert.deepEqual(
    [...pairs([l, use('u2', '2026-11-21T09:57:00Z', 'web', A, { evidence: { access_key_hashes: [HASH] } })])],
    ['l1>u2'],
  );
  const spanning = {
    evidence: { access_key_hashes: [HASH], first_time: '2026-11-21T09:00:00Z', last_time: '2026-11-21T11:00:00Z' },
  };
  assert.deepEqual([...pairs([l, use('u3', '2026-11-21T09:00:00Z', 'web', A, spanning)])], ['l1>u3']);
  // A host fetch after the use is no cause of it.
  assert.deepEqual(
    [...pairs([fetch('f1', '2026-11-21T11:00:00Z', 'web'), use('u4', '2026-11-21T10:00:00Z', 'web', A)])],
    [],
  );
  // Cloud findings of one key are chained in time order.
  const recon = step({
    id: 'r1',
    rule: 'cloud-instance-role-reconnaissance',
    time: '2026-11-21T08:00:00Z',
    principal: 'web',
    resource: { id: 'i-0123456789abcdef0', kind: 'ec2-instance', account: A },
    origin: { event_ids: ['ev-r1'] },
    evidence: { access_key_hashes: [HASH] },
  });
  for (const link of linkSteps([
    recon,
    use('u5', '2026-11-21T09:00:00Z', 'web', A, { evidence: { access_key_hashes: [HASH] } }),
  ]))
    assert.deepEqual([link.from, link.to], ['r1', 'u5']);
});

test('incident ids come from the incident itself: not from other incidents, the input order or how a path was spelt', () => {
  const chain = (file: string, idSuffix: string) => [
    ssrf(
      `s-${idSuffix}`,
      '2026-11-21T09:00:00Z',
      { file: `${idSuffix}.jsonl`, line: 4 },
      { origin: { file, line: 3 } },
    ),
    ssrf(
      `t-${idSuffix}`,
      '2026-11-21T09:00:00Z',
      { file: `${idSuffix}.jsonl`, line: 2 },
      {
        origin: { file, line: 4 },
        target: { raw: 'y', decoded: 'y', path: '/latest/meta-data/iam/', path_class: 'index' },
      },
    ),
  ];
  const idOf = (steps: Step[]) => buildIncidents(steps).map((i) => i.id);
  // Finding ids hash the path as written: each spelling gives other finding ids, the same incident.
  const plain = idOf(chain('access.log', 'a'));
  assert.equal(plain.length, 1);
  assert.deepEqual(idOf(chain('./access.log', 'b')), plain);
  assert.deepEqual(idOf(chain('/srv/logs/access.log', 'c')), plain);
  // Both spellings read at once: one finding, one step.
  const both = buildIncidents([...chain('access.log', 'a'), ...chain('./access.log', 'b')]);
  assert.deepEqual(
    both.map((i) => [i.id, i.steps.length]),
    [[plain[0], 2]],
  );
  // Unrelated incidents added before and after, in any order: the id stays.
  const unrelated = [
    ssrf(
      'z1',
      '2026-11-21T08:00:00Z',
      { file: 'z.jsonl', line: 1 },
      { client: { ip: '192.0.2.99' }, origin: { file: 'access.log', line: 1 } },
    ),
    use('u1', '2026-11-21T09:00:00Z', 'other', B),
  ];
  const withOthers = buildIncidents([...unrelated, ...chain('access.log', 'a').reverse()]);
  assert.ok(withOthers.some((i) => i.id === plain[0]));
  assert.equal(withOthers.length, 3);
});

test('--since/--until: a step whose span meets the window keeps its incident, edges included', () => {
  const spanning = use('u1', '2026-11-21T09:00:00Z', 'web', A, {
    evidence: { first_time: '2026-11-21T09:00:00Z', last_time: '2026-11-21T11:00:00Z' },
  });
  const [inc] = buildIncidents([spanning]);
  assert.ok(inc);
  assert.equal(inc.last_time, '2026-11-21T11:00:00Z', 'the incident lasts as long as its records');
  const keep = (since: string, until?: string) =>
    selectIncidents([inc], { sinceMs: Date.parse(since), ...(until ? { untilMs: Date.parse(until) } : {}) }).length;
  assert.equal(keep('2026-11-21T10:00:00Z'), 1, 'the use goes on inside the window');
  assert.equal(keep('2026-11-21T11:00:00Z'), 1, 'the window begins at its last record');
  assert.equal(keep('2026-11-21T11:00:01Z'), 0);
  assert.equal(keep('2026-11-21T08:00:00Z', '2026-11-21T09:00:00Z'), 1, 'the window ends at its first record');
  assert.equal(keep('2026-11-21T08:00:00Z', '2026-11-21T08:59:59Z'), 0);
});

test('remediation: a log named like an option stays a file; any valid role name is a role; id prefixes from 8 characters', () => {
  const steps = [
    leak('l1', '2026-11-21T09:00:00Z', 'role javascript', {}, '-q.log'),
    use('u1', '2026-11-21T09:20:00Z', 'javascript', A, { evidence: { access_key_hashes: [HASH] } }),
  ];
  const cmds = remediationFor(steps).flatMap((r) => r.commands);
  assert.ok(cmds.includes('imdsguard redact -o ./-q.log.redacted ./-q.log'), cmds.join('\n'));
  assert.ok(cmds.some((c) => c.startsWith('aws iam put-role-policy --role-name javascript ')));
  assert.equal(normalIncidentId('inc-5828'), 'inc-5828');
  assert.equal(normalIncidentId('5828'), 'inc-5828');
  assert.equal(normalIncidentId('INC-5828ABCD'), 'inc-5828abcd');
  assert.equal(normalIncidentId('inc-582'), undefined);
  assert.equal(normalIncidentId('inc-5828;rm'), undefined);
});

test('an instance setting is context: shown in each incident about its instance, never the bridge between them', () => {
  const setting = step(
    {
      id: 'p1',
      rule: 'posture-aws-imdsv1-allowed',
      resource: { id: 'i-0123456789abcdef0', kind: 'ec2-instance', account: A },
      origin: { file: 'instances.json', line: 3 },
    },
    { file: 'posture.jsonl', line: 1 },
  );
  const thieves = Array.from({ length: 10 }, (_, i) =>
    use(`u${i}`, `2026-11-21T09:${String(10 + i).padStart(2, '0')}:00Z`, 'web-role', A, {
      client: { ip: `198.18.0.${10 + i}` },
      evidence: { access_key_hashes: [`hmac-sha256:${String(i).padStart(24, '0')}`] },
    }),
  );
  const incidents = buildIncidents([setting, ...thieves]);
  assert.equal(incidents.length, 10, 'one incident per thief');
  for (const inc of incidents) {
    assert.deepEqual(inc.steps.map((s) => s.kind).sort(), ['cloud-use', 'posture']);
    assert.equal(inc.links.length, 1);
    assert.equal(inc.links[0]!.reason, 'same-instance');
  }
  // A setting linked to nothing is no incident.
  assert.deepEqual(buildIncidents([setting]), []);
});

test('a host is a host however the record writes it: fleet.host as an object or a plain string, or a top-level host', () => {
  const at12 = { origin: { file: '/var/log/app.log', line: 12 } };
  const src = { file: 'store.db', line: 1 };
  for (const [one, two] of [
    [{ fleet: { host: 'web-1' } }, { fleet: { host: 'web-2' } }],
    [{ fleet: { host: { id: 'web-1' } } }, { fleet: { host: 'web-2' } }],
    [{ host: 'web-1' }, { host: { name: 'web-2' } }],
  ] as Rec[][]) {
    const r = ssrf('s1', '2026-11-21T09:00:00Z', src, { ...at12, ...one });
    assert.equal(r.host, 'web-1');
    const other = leak('l1', '2026-11-21T09:00:00Z', 'role r', { ...two, ...at12 }, '/var/log/app.log');
    assert.equal(other.host, 'web-2');
    assert.deepEqual([...pairs([r, other])], [], "two hosts' line 12 are two lines");
  }
});

test('a cloud finding with no address and two keys (records of two actors) is shown with each, joining neither', () => {
  const k = (i: number) => `hmac-sha256:${String(i).padStart(24, '0')}`;
  const thief = (i: number) =>
    use(`u${i}`, `2026-11-21T09:1${i}:00Z`, 'web-role', A, {
      client: { ip: `198.18.0.${10 + i}` },
      origin: { event_ids: [`ev-${i}a`, `ev-${i}b`] },
      evidence: { access_key_hashes: [k(i)] },
    });
  // Reconnaissance grouped per role and instance only (as written before it was grouped per address).
  const recon = step({
    id: 'r1',
    rule: 'cloud-instance-role-reconnaissance',
    time: '2026-11-21T09:11:00Z',
    provider: 'aws',
    principal: 'web-role',
    resource: { id: 'i-0123456789abcdef0', kind: 'ec2-instance', account: A },
    origin: { event_ids: ['ev-1a', 'ev-1b', 'ev-2a', 'ev-2b'] },
    evidence: { access_key_hashes: [k(1), k(2)] },
  });
  const incidents = buildIncidents([thief(1), thief(2), recon]);
  assert.equal(incidents.length, 2, 'two thieves, two incidents');
  for (const inc of incidents)
    assert.ok(
      inc.steps.some((s) => s.finding_id === 'r1'),
      'the reconnaissance is shown',
    );
  // Alone, it is an incident of its own.
  assert.equal(buildIncidents([recon]).length, 1);
  // Grouped per address, each is one actor's and joins that actor's chain.
  const own = {
    ...recon,
    clientIp: '198.18.0.11',
    keyHashes: [k(1)],
    origin: { event_ids: ['ev-1a', 'ev-1b'] },
  };
  const split = buildIncidents([thief(1), thief(2), own]);
  assert.equal(split.length, 2);
  assert.deepEqual(
    split
      .find((i) => i.steps.some((s) => s.finding_id === 'r1'))!
      .steps.map((s) => s.finding_id)
      .sort(),
    ['r1', 'u1'],
  );
});
