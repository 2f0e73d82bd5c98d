import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  callerFinding,
  cloudtrailUse,
  envelope,
  leakFinding,
  ruleFinding,
} from '../../../test/fleet/support/envelopes.ts';
import type { FleetEnvelope } from './contract.ts';
import { callerIdentity, correlate, DEFAULT_CORRELATOR_OPTIONS, HUB_RULES, newCorrelatorState } from './correlate.ts';

const T = (min: number) => new Date(Date.UTC(2026, 11, 1, 10, min)).toISOString();

function run(envs: FleetEnvelope[]) {
  const state = newCorrelatorState();
  const out = envs.flatMap((e) => correlate(state, e, DEFAULT_CORRELATOR_OPTIONS));
  return { state, out };
}

/** Six hosts: web-1..3 share a campaign and a leaked key; web-4 runs an odd caller; db-1/db-2 are unrelated. */
function fleet(): { envs: FleetEnvelope[]; unrelated: Set<string> } {
  const envs: FleetEnvelope[] = [];
  const unrelated = new Set<string>();
  const keep = (e: FleetEnvelope, isUnrelated = false) => {
    envs.push(e);
    if (isUnrelated) unrelated.add(e.finding.id);
  };
  // The fleet baseline: the SSM agent on every web host.
  for (const h of ['web-1', 'web-2', 'web-3', 'web-4'])
    keep(envelope(h, 'agent', callerFinding('/usr/bin/amazon-ssm-agent', ['amazon-ssm-agent'], T(1))));
  // (a) one key leaked into logs on web-1 and web-2 (different files and lines).
  keep(envelope('web-1', 'scan', leakFinding('/var/log/app.log', 10, 'h:shared-key', T(2))));
  keep(envelope('web-2', 'scan', leakFinding('/srv/app/debug.log', 99, 'h:shared-key', T(3))));
  // (b) SSRF rule on three hosts within ten minutes.
  for (const [i, h] of ['web-1', 'web-2', 'web-3'].entries())
    keep(envelope(h, 'scan', ruleFinding('ssrf-metadata-credentials', i, T(4 + i))));
  // (c) a script only web-4 runs, fetching role credentials: (d) CloudTrail shows the role used from outside.
  keep(
    envelope(
      'web-4',
      'agent',
      callerFinding(
        '/usr/bin/python3',
        ['python3', '/tmp/.x/steal.py'],
        T(8),
        '/latest/meta-data/iam/security-credentials/web-role',
      ),
    ),
  );
  keep(envelope('cloudtrail-reader', 'cloudtrail', cloudtrailUse('web-role', '203.0.113.9', T(20))));
  // Unrelated: db hosts with their own secrets, a rule on one host only, another account's role use.
  keep(envelope('db-1', 'scan', leakFinding('/var/log/pg.log', 1, 'h:db1-only', T(5))), true);
  keep(envelope('db-2', 'scan', leakFinding('/var/log/pg.log', 1, 'h:db2-only', T(6))), true);
  keep(envelope('db-1', 'scan', ruleFinding('ssrf-metadata-token', 1, T(7))), true);
  keep(envelope('db-2', 'scan', ruleFinding('ssrf-metadata-token', 2, T(30))), true);
  keep(envelope('ct', 'cloudtrail', cloudtrailUse('db-role', '198.51.100.7', T(21), '999988887777')), true);
  return { envs, unrelated };
}

test('each kind of cross-host link is found on composed fixtures, and nothing links unrelated hosts', () => {
  const { envs, unrelated } = fleet();
  const { out } = run(envs);
  const byRule = (id: string) => out.filter((f) => f.rule.id === id);

  const [secret, ...moreSecrets] = byRule(HUB_RULES.sharedSecret.id);
  assert.equal(moreSecrets.length, 0);
  assert.deepEqual(secret?.evidence?.hosts, ['web-1', 'web-2']);
  assert.equal(secret?.secret?.hash, 'h:shared-key');
  assert.equal(secret?.related?.length, 2);

  const spread = byRule(HUB_RULES.ruleSpread.id);
  assert.equal(spread.length, 1, JSON.stringify(spread.map((f) => f.title)));
  assert.deepEqual(spread[0]?.evidence?.hosts, ['web-1', 'web-2', 'web-3']);
  assert.equal(spread[0]?.evidence?.rule, 'ssrf-metadata-credentials');

  const common = byRule(HUB_RULES.commonCaller.id);
  assert.equal(common.length, 1);
  assert.equal(common[0]?.evidence?.caller, '/usr/bin/amazon-ssm-agent');
  const unique = byRule(HUB_RULES.uniqueCaller.id);
  assert.equal(unique.length, 1, JSON.stringify(unique.map((f) => f.title)));
  assert.equal(unique[0]?.evidence?.caller, '/usr/bin/python3 /tmp/.x/steal.py');
  assert.equal(unique[0]?.evidence?.host, 'web-4');

  const elsewhere = byRule(HUB_RULES.credentialsElsewhere.id);
  assert.equal(elsewhere.length, 1);
  assert.equal(elsewhere[0]?.principal, 'web-role');
  assert.equal(elsewhere[0]?.evidence?.host, 'web-4');
  const fetch = envs.find((e) => e.finding.process?.argv?.includes('/tmp/.x/steal.py'))!;
  const use = envs.find((e) => e.finding.client?.ip === '203.0.113.9')!;
  assert.deepEqual(
    elsewhere[0]?.related?.map((r) => r.finding_id),
    [fetch.finding.id, use.finding.id],
  );

  // Every cited finding exists, and none of the unrelated hosts' findings is cited.
  const ids = new Set(envs.map((e) => e.finding.id));
  for (const f of out)
    for (const r of f.related ?? []) {
      assert.ok(ids.has(r.finding_id!), `${f.rule.id} cites an unknown finding`);
      assert.ok(!unrelated.has(r.finding_id!), `${f.rule.id} links an unrelated host: ${f.title}`);
    }
  assert.equal(out.length, 5);
});

test('observing is idempotent: a redelivered envelope or a second pass yields nothing new', () => {
  const { envs } = fleet();
  const { state, out } = run(envs);
  assert.ok(out.length > 0);
  const again = envs.flatMap((e) => correlate(state, e));
  assert.deepEqual(again, []);
  // Through JSON (how the hub stores it) too.
  const stored = JSON.parse(JSON.stringify(state));
  assert.deepEqual(
    envs.flatMap((e) => correlate(stored, e)),
    [],
  );
});

test('the same inputs give the same hub finding ids (stable across replays into a fresh state)', () => {
  const a = run(fleet().envs).out.map((f) => f.id);
  const b = run(fleet().envs).out.map((f) => f.id);
  assert.deepEqual(a, b);
});

test('a rule on many hosts outside the window, hub findings, and a role use in another account do not link', () => {
  const envs = [
    envelope('a', 'scan', ruleFinding('r1', 1, T(0))),
    envelope('b', 'scan', ruleFinding('r1', 2, T(20))),
    envelope('c', 'scan', ruleFinding('r1', 3, T(40))),
    envelope('hub', 'hub', leakFinding('x', 1, 'h:k', T(1))),
    envelope('f', 'scan', leakFinding('x', 1, 'h:other', T(1))),
    envelope('d', 'hub', leakFinding('y', 1, 'h:k', T(1))),
    envelope('e', 'agent', callerFinding('/bin/curl', ['curl'], T(1), '/latest/meta-data/iam/security-credentials/r')),
    envelope('ct', 'cloudtrail', cloudtrailUse('r', '192.0.2.1', T(2), '444455556666'), { account: '444455556666' }),
  ];
  // Hosts a, b, c, f and e make a fleet of five: the curl on e alone is a unique caller, and that is all.
  assert.deepEqual(
    run(envs).out.map((f) => f.rule.id),
    [HUB_RULES.uniqueCaller.id],
  );
});

test('caller identity: the executable, plus the script for interpreters', () => {
  const f = (exe: string, argv: string[]) => callerFinding(exe, argv, T(0));
  assert.equal(callerIdentity(f('/usr/bin/curl', ['curl', '-s', 'http://x'])), '/usr/bin/curl');
  assert.equal(callerIdentity(f('/usr/bin/python3.11', ['python3', '-u', 'app.py'])), '/usr/bin/python3.11 app.py');
});
