import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { matchEndpoint } from '../endpoints/lookup.ts';
import { InputSyntaxError } from '../errors.ts';
import { decide } from './decide.ts';
import { globToRegExp } from './glob.ts';
import { parsePolicy } from './load.ts';
import { newRateState, take } from './rate-limit.ts';
import { policyPath, targetProblem } from './target-check.ts';
import type { CallerIdentity, PolicyRequest } from './types.ts';

const EXAMPLE = readFileSync('test/fixtures/proxy/example-policy.yaml', 'utf8');

function request(
  method: string,
  target: string,
  headers: Record<string, string> = {},
  token?: PolicyRequest['token'],
): PolicyRequest {
  const path = policyPath(target);
  const m = matchEndpoint('169.254.169.254', 'ipv4', 80, path)!;
  return {
    method,
    target,
    path,
    headers,
    provider: m.provider,
    service: m.service,
    pathClass: m.pathClass,
    token: token ?? (headers['x-aws-ec2-metadata-token'] ? 'valid' : 'none'),
  };
}

const root = (exe: string, extra: Partial<CallerIdentity> = {}): CallerIdentity => ({
  known: true,
  pid: 100,
  exe,
  uid: 0,
  user: 'root',
  netns: 4026531840,
  otherNamespace: false,
  ...extra,
});
const nobody = (exe: string): CallerIdentity => root(exe, { uid: 65534, user: 'nobody' });
const TOKEN = { 'x-aws-ec2-metadata-token': 'AQAE' };
const ctx = () => ({ nowMs: 0, rate: newRateState() });

describe('decide() with the example policy', () => {
  const policy = parsePolicy(EXAMPLE, 'example-policy.yaml');
  const run = (r: PolicyRequest, c: CallerIdentity) => decide(policy, r, c, ctx());

  test("root's curl may read everything, credentials included, with a token", () => {
    const d = run(request('GET', '/latest/meta-data/iam/security-credentials/role', TOKEN), root('/usr/bin/curl'));
    assert.equal(d.action, 'allow');
    assert.equal(d.rule, 'curl may read everything');
    assert.equal(d.status, undefined);
  });

  test('a GET without a token gets 401 (imdsv2_only), even for curl', () => {
    const d = run(request('GET', '/latest/meta-data/'), root('/usr/bin/curl'));
    assert.deepEqual([d.action, d.status, d.rule], ['deny', 401, 'defaults.imdsv2_only']);
    const bad = run(request('GET', '/latest/meta-data/', TOKEN, 'invalid'), root('/usr/bin/curl'));
    assert.equal(bad.status, 401);
    assert.match(bad.reason, /invalid or expired/);
  });

  test('curl run by nobody is refused, token PUT included', () => {
    const d = run(request('GET', '/latest/meta-data/', TOKEN), nobody('/usr/bin/curl'));
    assert.deepEqual([d.action, d.status, d.rule], ['deny', 403, 'no service account reads metadata']);
    const t = run(
      request('PUT', '/latest/api/token', { 'x-aws-ec2-metadata-token-ttl-seconds': '60' }),
      nobody('/usr/bin/curl'),
    );
    assert.deepEqual([t.action, t.status], ['deny', 403]);
  });

  test('python may read /latest/meta-data/ (audited) but not credentials, and gets a token', () => {
    const py = root('/usr/local/bin/python3.11');
    const idx = run(request('GET', '/latest/meta-data/', TOKEN), py);
    assert.deepEqual([idx.action, idx.rule, idx.report], ['audit', 'python may read the index only', true]);
    const cred = run(request('GET', '/latest/meta-data/iam/security-credentials/', TOKEN), py);
    assert.deepEqual([cred.action, cred.status, cred.rule], ['deny', 403, 'everything else is refused']);
    const tok = run(request('PUT', '/latest/api/token', { 'x-aws-ec2-metadata-token-ttl-seconds': '21600' }), py);
    assert.equal(tok.status, undefined);
    assert.equal(tok.action, 'audit');
  });

  test('a token PUT from a caller no rule lets through is refused', () => {
    const t = run(
      request('PUT', '/latest/api/token', { 'x-aws-ec2-metadata-token-ttl-seconds': '60' }),
      root('/usr/bin/node'),
    );
    assert.deepEqual([t.action, t.status, t.rule], ['deny', 403, 'everything else is refused']);
  });

  test('curl in another network namespace is refused whatever the rules say', () => {
    const d = run(
      request('GET', '/latest/meta-data/', TOKEN),
      root('/usr/bin/curl', { otherNamespace: true, netns: 4026532999 }),
    );
    assert.deepEqual([d.action, d.status, d.rule], ['deny', 403, 'defaults.other_namespaces']);
  });

  test('an unknown caller is refused', () => {
    const d = run(request('GET', '/latest/meta-data/', TOKEN), {
      known: false,
      reason: 'socket not found',
      otherNamespace: false,
    });
    assert.deepEqual([d.status, d.rule], [403, 'defaults.unknown_caller']);
  });

  test('X-Forwarded-For, Forwarded or Via get 403 before any rule', () => {
    for (const h of ['x-forwarded-for', 'forwarded', 'via']) {
      const d = run(request('GET', '/latest/meta-data/', { ...TOKEN, [h]: '1.2.3.4' }), root('/usr/bin/curl'));
      assert.deepEqual([d.status, d.rule], [403, 'defaults.reject_forwarded'], h);
    }
  });

  test('AWS semantics: GET on the token path 405, PUT elsewhere 405, TTL out of bounds 400', () => {
    const curl = root('/usr/bin/curl');
    assert.equal(run(request('GET', '/latest/api/token', TOKEN), curl).status, 405);
    assert.equal(run(request('PUT', '/latest/meta-data/', TOKEN), curl).status, 405);
    for (const ttl of ['0', '21601', 'x', '']) {
      assert.equal(
        run(request('PUT', '/latest/api/token', { 'x-aws-ec2-metadata-token-ttl-seconds': ttl }), curl).status,
        400,
        ttl,
      );
    }
    assert.equal(run(request('PUT', '/latest/api/token'), curl).status, 400);
    assert.equal(
      run(request('PUT', '/latest/api/token', { 'x-aws-ec2-metadata-token-ttl-seconds': '1' }), curl).status,
      undefined,
    );
  });

  test('request-target sanity: absolute-form, encoded dots, CRLF', () => {
    const curl = root('/usr/bin/curl');
    for (const t of [
      'http://169.254.169.254/latest/meta-data/',
      '/latest/meta-data/%2e%2e/user-data',
      '/latest/%0d%0aX: y',
      '/latest/./meta-data/',
    ]) {
      const d = run(request('GET', t, TOKEN), curl);
      assert.deepEqual([d.status, d.rule], [400, 'defaults.target_check'], t);
    }
  });
});

describe('decide() defaults', () => {
  test('with no rule, credentials and token paths are denied and other paths follow `unmatched`', () => {
    const p = parsePolicy('defaults: { unmatched: allow }\n');
    const c = root('/usr/bin/curl');
    assert.equal(decide(p, request('GET', '/latest/meta-data/iam/security-credentials/'), c, ctx()).status, 403);
    assert.equal(
      decide(p, request('PUT', '/latest/api/token', { 'x-aws-ec2-metadata-token-ttl-seconds': '5' }), c, ctx()).status,
      403,
    );
    const idx = decide(p, request('GET', '/latest/meta-data/'), c, ctx());
    assert.deepEqual([idx.action, idx.status], ['allow', undefined]);
  });

  test('audit on other_namespaces lets the request through as audit', () => {
    const p = parsePolicy(
      'defaults: { other_namespaces: audit }\nrules:\n  - { name: all, match: {}, action: allow }\n',
    );
    const d = decide(p, request('GET', '/latest/meta-data/'), root('/usr/bin/curl', { otherNamespace: true }), ctx());
    assert.deepEqual([d.action, d.report], ['audit', true]);
  });

  test('a per-rule rate limit answers 429 past the limit, per caller', () => {
    const p = parsePolicy(
      'rules:\n  - name: limited\n    match: {}\n    action: allow\n    rate_limit: { requests: 2, per: 1s }\n',
    );
    const state = { nowMs: 1000, rate: newRateState() };
    const r = request('GET', '/latest/meta-data/');
    const a = root('/usr/bin/curl');
    const b = root('/usr/bin/wget');
    assert.equal(decide(p, r, a, state).status, undefined);
    assert.equal(decide(p, r, a, state).status, undefined);
    assert.deepEqual([decide(p, r, a, state).status, decide(p, r, a, state).rule], [429, 'limited: rate_limit']);
    assert.equal(decide(p, r, b, state).status, undefined);
    state.nowMs += 1000;
    assert.equal(decide(p, r, a, state).status, undefined);
  });

  test('matchers: uid, container, netns, method, provider, exe hash', () => {
    const hash = 'a'.repeat(64);
    const p = parsePolicy(`rules:
  - { name: by-uid, match: { uid: 1000, method: [get] }, action: allow }
  - { name: in-container, match: { container: true }, action: audit }
  - { name: gcp, match: { provider: gcp }, action: deny }
  - { name: hashed, match: { exe: "sha256:${hash}" }, action: allow }
  - { name: host, match: { netns: host }, action: audit }
`);
    const c = ctx();
    assert.equal(decide(p, request('GET', '/latest/meta-data/'), root('/x', { uid: 1000 }), c).rule, 'by-uid');
    assert.equal(
      decide(p, request('GET', '/latest/meta-data/'), root('/x', { container: 'abc' }), c).rule,
      'in-container',
    );
    assert.equal(decide(p, request('GET', '/computeMetadata/v1/'), root('/x'), c).rule, 'gcp');
    assert.equal(decide(p, request('GET', '/latest/meta-data/'), root('/x', { exeSha256: hash }), c).rule, 'hashed');
    assert.equal(decide(p, request('GET', '/latest/meta-data/'), root('/x'), c).rule, 'host');
    assert.ok(p.needsExeHash);
  });
});

describe('parsePolicy() errors', () => {
  const fails = (text: string, re: RegExp, line?: number) => {
    assert.throws(
      () => parsePolicy(text, 'p.yaml'),
      (e: unknown) => {
        assert.ok(e instanceof InputSyntaxError, String(e));
        assert.match(e.message, re);
        assert.equal(e.file, 'p.yaml');
        if (line !== undefined) assert.equal(e.line, line, e.message);
        return true;
      },
    );
  };
  test('an unknown action names line and column', () =>
    fails('rules:\n  - name: a\n    match: {}\n    action: permit\n', /rules\.0\.action/, 4));
  test('an unknown match key', () =>
    fails('rules:\n  - name: a\n    match: { exe: /x, colour: red }\n    action: deny\n', /rules\.0\.match/, 3));
  test('a YAML syntax error', () => fails('rules: [\n  - a: b\n', /Invalid YAML/));
  test('a missing name', () => fails('rules:\n  - match: {}\n    action: deny\n', /rules\.0\.name/, 2));
  test('duplicate rule names', () =>
    fails('rules:\n  - { name: a, action: deny }\n  - { name: a, action: allow }\n', /Duplicate rule name "a"/, 3));
  test('a bad duration', () => fails('defaults:\n  rate_limit: { requests: 1, per: soon }\n', /duration/, 2));
  test('an unknown default key', () => fails('defaults:\n  imdsv3_only: true\n', /defaults/, 2));
  test('an alias bomb is refused', () => {
    const bomb = `a: &a [x,x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]\n`;
    assert.throws(() => parsePolicy(bomb, 'p.yaml'));
  });
});

describe('helpers', () => {
  test('globToRegExp(): * stays in a segment, ** crosses, whole-string match', () => {
    assert.ok(globToRegExp('**/python3*').test('/usr/bin/python3.11'));
    assert.ok(!globToRegExp('/usr/bin/*').test('/usr/bin/x/y'));
    assert.ok(globToRegExp('/latest/**').test('/latest/meta-data/iam/x'));
    assert.ok(!globToRegExp('/latest/meta-data/').test('/latest/meta-data/iam/'));
    assert.ok(globToRegExp('/a.b').test('/a.b') && !globToRegExp('/a.b').test('/aXb'));
  });
  test('targetProblem() passes ordinary targets', () => {
    for (const t of [
      '/latest/meta-data/',
      '/metadata/instance?api-version=2021-02-01',
      '/computeMetadata/v1/instance/id',
    ]) {
      assert.equal(targetProblem(t), null, t);
    }
  });
  test('policyPath() undoes unreserved escapes only', () => {
    assert.equal(policyPath('/latest/meta%2Ddata/?x'), '/latest/meta-data/');
    assert.equal(policyPath('/a%20b'), '/a%20b');
  });
  test('take() refills over time', () => {
    const s = newRateState();
    const l = { requests: 1, perMs: 100 };
    assert.ok(take(s, 'k', l, 0));
    assert.ok(!take(s, 'k', l, 50));
    assert.ok(take(s, 'k', l, 151));
  });
});
