import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { matchEndpoint } from '../endpoints/lookup.ts';
import { decide } from './decide.ts';
import { DecisionCache } from './decision-cache.ts';
import { parsePolicy } from './load.ts';
import { newRateState } from './rate-limit.ts';
import { policyPath } from './target-check.ts';
import type { CallerIdentity, PolicyRequest } from './types.ts';

const EXAMPLE = readFileSync('test/fixtures/proxy/example-policy.yaml', 'utf8');

function request(method: string, target: string, headers: Record<string, string>, token: PolicyRequest['token']) {
  const path = policyPath(target);
  const m = matchEndpoint('169.254.169.254', 'ipv4', 80, path);
  return {
    method,
    target,
    path,
    headers,
    provider: m?.provider ?? null,
    service: m?.service ?? null,
    pathClass: m?.pathClass ?? 'other',
    token,
  } satisfies PolicyRequest;
}

const caller = (exe: string, extra: Partial<CallerIdentity> = {}): CallerIdentity => ({
  known: true,
  pid: 100,
  exe,
  uid: 0,
  user: 'root',
  netns: 4026531840,
  otherNamespace: false,
  ...extra,
});

describe('DecisionCache', () => {
  test('gives exactly what decide() gives, asked twice, over a matrix of callers and requests', () => {
    const policy = parsePolicy(EXAMPLE, 'example-policy.yaml');
    const cache = new DecisionCache(newRateState());
    const callers = [
      caller('/usr/bin/curl'),
      caller('/usr/bin/curl', { uid: 65534, user: 'nobody' }),
      caller('/usr/bin/python3.12'),
      caller('/usr/bin/curl', { otherNamespace: true, netns: 1 }),
      { known: false, reason: 'test', otherNamespace: false },
    ];
    const targets = [
      '/latest/meta-data/',
      '/latest/meta-data/iam/security-credentials/role',
      '/latest/api/token',
      '/latest/meta-data/%2e%2e/user-data',
      '/latest/user-data?x=1',
      'http://169.254.169.254/latest/meta-data/',
    ];
    const headerSets: Array<Record<string, string>> = [
      {},
      { 'x-aws-ec2-metadata-token': 'AQAE' },
      { 'x-forwarded-for': '1.2.3.4' },
      { 'x-aws-ec2-metadata-token-ttl-seconds': '60' },
      { 'x-aws-ec2-metadata-token-ttl-seconds': '0' },
    ];
    let n = 0;
    for (const c of callers)
      for (const t of targets)
        for (const method of ['GET', 'PUT', 'HEAD'])
          for (const h of headerSets)
            for (const token of ['none', 'valid', 'invalid'] as const) {
              const r = request(method, t, h, token);
              const want = decide(policy, r, c, { nowMs: 0, rate: newRateState() });
              assert.deepEqual(cache.decide(policy, r, c, 0), want);
              assert.deepEqual(cache.decide(policy, { ...r }, c, 0), want, `${method} ${t} ${JSON.stringify(h)}`);
              n++;
            }
    assert.ok(n > 1000);
  });

  test('a reloaded policy is used at once; with rate limits every request is counted', () => {
    const cache = new DecisionCache(newRateState());
    const c = caller('/usr/bin/curl');
    const r = request('GET', '/latest/meta-data/', {}, 'none');
    const open = parsePolicy('defaults: { imdsv2_only: false }\nrules:\n  - { name: a, match: {}, action: allow }\n');
    const closed = parsePolicy('rules:\n  - { name: b, match: {}, action: deny }\n');
    assert.equal(cache.decide(open, r, c, 0).action, 'allow');
    assert.equal(cache.decide(closed, r, c, 0).action, 'deny');
    const limited = parsePolicy(
      'defaults: { imdsv2_only: false, rate_limit: { requests: 2, per: 1s } }\nrules:\n  - { name: a, match: {}, action: allow }\n',
    );
    const statuses = [0, 1, 2].map(() => cache.decide(limited, r, c, 0).status);
    assert.deepEqual(statuses, [undefined, undefined, 429]);
  });
});
