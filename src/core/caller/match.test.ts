/**
 * One caller language: the same caller keys give the same answer whether they are written in a proxy policy rule
 * or in an agent allowlist entry (they used to differ: `exe: python3` matched /usr/bin/python3 in one and not the
 * other, `?` was a wildcard in one and a literal in the other).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { parseAllowlist } from '../../adapters/sources/host/allowlist.ts';
import { decide } from '../policy/decide.ts';
import { parsePolicy } from '../policy/load.ts';
import { newRateState } from '../policy/rate-limit.ts';
import type { CallerIdentity, PolicyRequest } from '../policy/types.ts';
import { callerGlob, compileCallerMatch } from './match.ts';

const REQUEST: PolicyRequest = {
  method: 'GET',
  target: '/latest/meta-data/',
  path: '/latest/meta-data',
  headers: {},
  provider: 'aws',
  service: 'ec2-imds',
  pathClass: 'index',
  token: 'none',
};

/** Does a proxy rule with these caller keys (YAML flow text) match the caller? */
function proxyMatches(keys: string, caller: CallerIdentity): boolean {
  const policy = parsePolicy(
    `defaults: { other_namespaces: allow }\nrules:\n  - name: r\n    match: ${keys}\n    action: allow\n`,
    'p.yaml',
  );
  return decide(policy, REQUEST, caller, { nowMs: 0, rate: newRateState() }).rule === 'r';
}

/** Does an allowlist entry with the same keys match? */
function allowlistMatches(keys: string, caller: CallerIdentity): boolean {
  const body = keys.replace(/^\{\s*|\s*\}$/g, '');
  const [entry] = parseAllowlist(`callers:\n  - { name: e, ${body} }\n`, 'a.yaml');
  return entry!.caller!(caller);
}

const caller = (c: Partial<CallerIdentity>): CallerIdentity => ({ known: true, otherNamespace: false, ...c });

describe('the caller language is one language', () => {
  const cases: Array<[string, Partial<CallerIdentity>, boolean]> = [
    ['{ exe: python3 }', { exe: '/usr/bin/python3' }, true],
    ['{ exe: python3 }', { exe: '/usr/bin/python3.11' }, false],
    ['{ exe: "python3*" }', { exe: '/usr/bin/python3.11' }, true],
    ['{ exe: "python3.1?" }', { exe: '/usr/bin/python3.11' }, true],
    ['{ exe: "/usr/bin/python3.1?" }', { exe: '/usr/bin/python3.11' }, true],
    ['{ exe: "/usr/bin/python?" }', { exe: '/usr/bin/python?' }, true],
    ['{ exe: "/usr/bin/*" }', { exe: '/usr/bin/x/y' }, false],
    ['{ exe: "/usr/**/curl" }', { exe: '/usr/local/bin/curl' }, true],
    ['{ exe: "/usr/bin/[cw]url" }', { exe: '/usr/bin/wurl' }, true],
    ['{ exe: /usr/bin/curl }', { exe: '/usr/local/bin/curl' }, false],
    ['{ argv: cloud-init }', { exe: '/usr/bin/python3', argv: ['python3', '/usr/bin/cloud-init', 'init'] }, true],
    ['{ argv: cloud-init }', { exe: '/usr/bin/cloud-init-helper' }, false],
    ['{ user: "back*" }', { user: 'backup' }, true],
    ['{ uid: [0, 1000] }', { uid: 1000 }, true],
    ['{ uid: 0 }', { uid: 1000 }, false],
    ['{ container: true }', { container: 'a'.repeat(64) }, true],
    ['{ container: false }', { container: 'a'.repeat(64) }, false],
    ['{ container: host }', {}, true],
    ['{ container: "abc*" }', { container: `abc${'0'.repeat(61)}` }, true],
    ['{ netns: 4026531840 }', { netns: 4026531840 }, true],
    ['{ netns: other }', { otherNamespace: true }, true],
    ['{ netns: host }', { otherNamespace: true }, false],
    ['{ exe: curl, user: root }', { exe: '/usr/bin/curl', user: 'nobody' }, false],
  ];
  for (const [keys, facts, want] of cases) {
    test(`${keys} ${want ? 'matches' : 'does not match'} ${JSON.stringify(facts)} in both`, () => {
      const c = caller(facts);
      assert.equal(proxyMatches(keys, c), want, 'proxy policy');
      assert.equal(allowlistMatches(keys, c), want, 'agent allowlist');
      assert.equal(compileCallerMatch(parseYaml(keys) as Record<string, never>)(c), want, 'compiled directly');
    });
  }

  test('a malformed glob is refused when the file loads, naming its line, in the policy and the allowlist alike', () => {
    for (const bad of ['/usr/bin/python[3', '[', 'x[]', '[z-a]']) {
      assert.throws(
        () =>
          parsePolicy(`rules:\n  - name: x\n    match: { exe: ${JSON.stringify(bad)} }\n    action: allow\n`, 'p.yaml'),
        /^(?:.*\n)?.*p\.yaml:3:\d+: Invalid policy at "rules\.0\.match\.exe": (?:unclosed "\[" in glob|invalid character class)/,
        bad,
      );
      assert.throws(
        () => parseAllowlist(`callers:\n  - name: x\n    exe: ${JSON.stringify(bad)}\n`, 'a.yaml'),
        /a\.yaml:3:\d+: Invalid allowlist at "callers\.0\.exe": (?:unclosed "\[" in glob|invalid character class)/,
        bad,
      );
    }
    assert.throws(
      () => parsePolicy('rules:\n  - name: x\n    match: { path: "/latest/[abc" }\n    action: deny\n', 'p.yaml'),
      /p\.yaml:3:\d+: Invalid policy at "rules\.0\.match\.path": unclosed/,
    );
    // A literal "[" is written as a class of one.
    const p = parsePolicy('rules:\n  - name: x\n    match: { argv: "--opt=[[]x]" }\n    action: allow\n', 'p.yaml');
    assert.equal(p.rules.length, 1);
    assert.equal(callerGlob('--opt=[[]x]')('--opt=[x]'), true);
  });

  test('callerGlob: a glob without "/" covers the base name, one with "/" the whole path', () => {
    assert.ok(callerGlob('curl')('/usr/bin/curl'));
    assert.ok(!callerGlob('curl')('/usr/bin/curlx'));
    assert.ok(!callerGlob('bin/curl')('/usr/bin/curl'));
    assert.ok(callerGlob('**/bin/curl')('/usr/bin/curl'));
  });
});
