import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { globToRegExp } from '../caller/glob.ts';
import { matchEndpoint } from '../endpoints/lookup.ts';
import { InputSyntaxError } from '../errors.ts';
import { canonicalTarget } from './canonical-path.ts';
import { decide } from './decide.ts';
import { parsePolicy } from './load.ts';
import { newRateState, take } from './rate-limit.ts';
import { targetProblem } from './target-check.ts';
import type { CallerIdentity, PolicyRequest } from './types.ts';

const EXAMPLE = readFileSync('test/fixtures/proxy/example-policy.yaml', 'utf8');

function request(
  method: string,
  target: string,
  headers: Record<string, string> = {},
  token?: PolicyRequest['token'],
): PolicyRequest {
  const c = canonicalTarget(target);
  const m = matchEndpoint('169.254.169.254', 'ipv4', 80, c.classifiedPath)!;
  return {
    method,
    target,
    path: c.path,
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

  test('X-Forwarded-For, Forwarded, Via and the other relay marks get 403 before any rule, however spelt', () => {
    for (const h of [
      'x-forwarded-for',
      'forwarded',
      'via',
      'x_forwarded_for',
      'x-forwarded-host',
      'x_forwarded_proto',
      'x-real-ip',
      'x_real_ip',
      'x-client-ip',
      'true-client-ip',
    ]) {
      const d = run(request('GET', '/latest/meta-data/', { ...TOKEN, [h]: '1.2.3.4' }), root('/usr/bin/curl'));
      assert.deepEqual([d.status, d.rule], [403, 'defaults.reject_forwarded'], h);
      assert.match(d.reason, new RegExp(`carries ${h} `));
    }
    for (const h of ['x-forwarded', 'x-forwardedfor', 'x-realip', 'x-aws-ec2-metadata-token-ttl-seconds'])
      assert.equal(
        run(request('GET', '/latest/meta-data/', { ...TOKEN, [h]: '1' }), root('/usr/bin/curl')).status,
        undefined,
        h,
      );
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
  test('canonicalTarget(): one form for every way of writing a path; the query is kept as written', () => {
    assert.deepEqual(canonicalTarget('/latest/meta%2Ddata/?x=%41'), {
      upstream: '/latest/meta-data/?x=%41',
      path: '/latest/meta-data',
      classifiedPath: '/latest/meta-data/',
    });
    assert.equal(canonicalTarget('/a%20b').upstream, '/a%20b');
    assert.equal(canonicalTarget('/a b/%C3%A9').upstream, '/a%20b/%C3%A9');
    assert.equal(
      canonicalTarget('/LATEST//meta-data/./iam/x/../security-credentials;x/r/').upstream,
      '/LATEST/meta-data/iam/security-credentials/r/',
    );
    assert.equal(
      canonicalTarget('/LATEST//meta-data/./iam/x/../security-credentials;x/r/').path,
      '/latest/meta-data/iam/security-credentials/r',
    );
    assert.equal(canonicalTarget('/2021-07-15/meta-data/iam%3Bp/').path, '/latest/meta-data/iam');
    assert.equal(canonicalTarget('/2021-07-15/meta-data/').upstream, '/2021-07-15/meta-data/');
    assert.equal(canonicalTarget('http://169.254.169.254/latest/user-data?a#f').upstream, '/latest/user-data?a');
    assert.equal(canonicalTarget('/../..').path, '/');
    assert.equal(
      canonicalTarget('/latest/meta-data/network/interfaces/macs/0e:49:61:0f:c3:11/').classifiedPath,
      '/latest/meta-data/network/interfaces/macs/0e:49:61:0f:c3:11/',
    );
    // Trailing dots: judged and classified without them, forwarded as written.
    const dotted = canonicalTarget('/latest/meta-data/iam/security-credentials./role..');
    assert.equal(dotted.path, '/latest/meta-data/iam/security-credentials/role');
    assert.equal(dotted.classifiedPath, '/latest/meta-data/iam/security-credentials/role');
    assert.equal(dotted.upstream, '/latest/meta-data/iam/security-credentials./role..');
    assert.equal(canonicalTarget('/a/.../b').path, '/a/.../b');
  });
  test('take() refills over time', () => {
    const s = newRateState();
    const l = { requests: 1, perMs: 100 };
    assert.ok(take(s, 'k', l, 0));
    assert.ok(!take(s, 'k', l, 50));
    assert.ok(take(s, 'k', l, 151));
  });
});

describe('paths the service reads the same cannot pass a rule written for one of them (P3)', () => {
  const policy = parsePolicy(
    `defaults: { target_check: false }
rules:
  - name: no role credentials
    match: { path: /latest/meta-data/iam/security-credentials/* }
    action: deny
  - name: the rest of latest
    match: { path: /latest/** }
    action: allow
  - name: no credentials of any kind
    match: { path_class: [credentials, token] }
    action: deny
  - name: everything
    match: { path: /** }
    action: allow
`,
    'p3.yaml',
  );
  const run = (target: string) => decide(policy, request('GET', target), root('/usr/bin/curl'), ctx());

  test('the plain path is denied, and so is every other way of writing it', () => {
    for (const t of [
      '/latest/meta-data/iam/security-credentials/role',
      '/latest/meta-data/iam/security-credentials/',
      '/latest/meta-data/iam//security-credentials/role',
      '//latest/meta-data/iam/security-credentials/role',
      '/latest/meta-data/iam/security-credentials/role/',
      '/latest/meta-data/iam/security-credentials/role//',
      '/LATEST/meta-data/IAM/Security-Credentials/role',
      '/latest/meta-data/iam/security-credentials;x/role',
      '/latest/meta-data/iam/security-credentials%3Bx/role',
      '/latest/meta-data/iam/security-credentials%3bx/role',
      '/latest/meta-data/iam/./security-credentials/role',
      '/latest/meta-data/iam/x/../security-credentials/role',
      '/latest/meta-data/iam/security-credentials/%72ole',
      '/latest/meta-data/iam/security-credentials%2Frole',
      '/latest/meta-data/iam\\security-credentials\\role',
      'http://169.254.169.254/latest/meta-data/iam/security-credentials/role',
      '/2021-07-15/meta-data/iam/security-credentials/role',
      '/1.0/meta-data/iam/security-credentials/role',
    ]) {
      const d = run(t);
      assert.equal(d.action, 'deny', t);
      assert.equal(d.rule, 'no role credentials', t);
    }
    assert.equal(run('/latest/meta-data/instance-id').action, 'allow');
  });

  test('a dated version reaches the rule written for /latest', () => {
    assert.equal(run('/2021-07-15/meta-data/instance-id').rule, 'the rest of latest');
  });

  test('path_class catches the credentials a path glob does not name', () => {
    const byClass = parsePolicy(
      `rules:
  - name: no credentials of any kind
    match: { path_class: [credentials, token] }
    action: deny
  - name: everything
    match: { path: /** }
    action: allow
`,
      'class.yaml',
    );
    const target = '/2021-07-15/meta-data/identity-credentials/ec2/security-credentials/ec2-instance';
    // The glob on iam/security-credentials does not name this path: it falls to the next rule.
    assert.equal(run(target).rule, 'the rest of latest');
    const d = decide(byClass, request('GET', target), root('/usr/bin/curl'), ctx());
    assert.equal(d.action, 'deny');
    assert.equal(d.rule, 'no credentials of any kind');
  });

  test('the shipped example prefers path_class: the EC2 instance credentials are refused to the application', () => {
    const shipped = parsePolicy(readFileSync('packaging/proxy-policy.example.yaml', 'utf8'), 'example');
    const app = root('/usr/bin/node', { uid: 1000, user: 'app' });
    const tok = request('GET', '/latest/meta-data/identity-credentials/ec2/security-credentials/ec2-instance', TOKEN);
    assert.equal(decide(shipped, tok, app, ctx()).action, 'deny');
    const role = request('GET', '/latest//meta-data/iam/security-credentials/app-role/', TOKEN);
    assert.equal(decide(shipped, role, app, ctx()).action, 'allow');
  });
});

describe('requests the proxy could not relay as the policy saw them are refused (P4, P5)', () => {
  const policy = parsePolicy('rules:\n  - name: all\n    match: {}\n    action: allow\n', 'all.yaml');
  const run = (method: string, target: string, headers: Record<string, string>) =>
    decide(policy, request(method, target, headers), root('/usr/bin/curl'), ctx());

  test('Connection naming the token or TTL header: 400, never forwarded without it', () => {
    for (const h of [
      { connection: 'x-aws-ec2-metadata-token', 'x-aws-ec2-metadata-token': 'AQAE' },
      { connection: 'close, X-aws-ec2-metadata-token-ttl-seconds' },
      { connection: 'upgrade' },
    ]) {
      const d = run('GET', '/latest/meta-data/', h);
      assert.equal(d.status, 400, JSON.stringify(h));
      assert.equal(d.rule, 'relay-check');
    }
    assert.equal(run('GET', '/latest/meta-data/', { connection: 'keep-alive, close' }).status, undefined);
  });

  test('a body on GET or HEAD: 400; an empty Content-Length passes', () => {
    assert.equal(run('GET', '/latest/meta-data/', { 'content-length': '4' }).status, 400);
    assert.equal(run('HEAD', '/latest/meta-data/', { 'transfer-encoding': 'chunked' }).status, 400);
    assert.equal(run('GET', '/latest/meta-data/', { 'content-length': '0' }).status, undefined);
  });
});
