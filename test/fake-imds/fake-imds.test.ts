import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { after, before, describe, test } from 'node:test';
import { createFakeImds, FAKE_ACCESS_KEY_ID, FAKE_ROLE, type FakeRequest } from './handlers.ts';
import { type RunningFakeImds, startFakeImds } from './server.ts';

const get = (target: string, headers: Record<string, string> = {}): FakeRequest => ({ method: 'GET', target, headers });
const put = (target: string, headers: Record<string, string> = {}): FakeRequest => ({ method: 'PUT', target, headers });

describe('createFakeImds() AWS', () => {
  test('IMDSv1 GET works when tokens are optional', () => {
    const h = createFakeImds();
    const r = h(get('/latest/meta-data/instance-id'));
    assert.equal(r.status, 200);
    assert.match(r.body, /^i-0fake/);
  });

  test('IMDSv1 GET gets 401 when tokens are required', () => {
    const h = createFakeImds({ imdsv2Required: true });
    assert.equal(h(get('/latest/meta-data/')).status, 401);
  });

  test('token PUT then GET with the token (IMDSv2)', () => {
    const h = createFakeImds({ imdsv2Required: true });
    const t = h(put('/latest/api/token', { 'x-aws-ec2-metadata-token-ttl-seconds': '21600' }));
    assert.equal(t.status, 200);
    assert.equal(t.headers['x-aws-ec2-metadata-token-ttl-seconds'], '21600');
    const r = h(get(`/latest/meta-data/iam/security-credentials/${FAKE_ROLE}`, { 'x-aws-ec2-metadata-token': t.body }));
    assert.equal(r.status, 200);
    assert.equal(JSON.parse(r.body).AccessKeyId, FAKE_ACCESS_KEY_ID);
  });

  test('token TTL bounds: 0, 21601, missing and non-numeric give 400; 1 and 21600 give 200', () => {
    const h = createFakeImds();
    for (const ttl of ['0', '21601', '-1', 'abc', '1.5']) {
      assert.equal(h(put('/latest/api/token', { 'x-aws-ec2-metadata-token-ttl-seconds': ttl })).status, 400, ttl);
    }
    assert.equal(h(put('/latest/api/token')).status, 400);
    assert.equal(h(put('/latest/api/token', { 'x-aws-ec2-metadata-token-ttl-seconds': '1' })).status, 200);
    assert.equal(h(put('/latest/api/token', { 'x-aws-ec2-metadata-token-ttl-seconds': '21600' })).status, 200);
  });

  test('GET on the token path is 405; PUT elsewhere is 405', () => {
    const h = createFakeImds();
    assert.equal(h(get('/latest/api/token')).status, 405);
    assert.equal(h(put('/latest/meta-data/')).status, 405);
  });

  test('token PUT carrying X-Forwarded-For is refused', () => {
    const h = createFakeImds();
    const r = h(
      put('/latest/api/token', { 'x-aws-ec2-metadata-token-ttl-seconds': '60', 'x-forwarded-for': '1.2.3.4' }),
    );
    assert.equal(r.status, 403);
  });

  test('an expired or unknown token gets 401', () => {
    let now = 1_000_000;
    const h = createFakeImds({ now: () => now });
    const t = h(put('/latest/api/token', { 'x-aws-ec2-metadata-token-ttl-seconds': '1' })).body;
    assert.equal(h(get('/latest/meta-data/', { 'x-aws-ec2-metadata-token': t })).status, 200);
    now += 1001;
    assert.equal(h(get('/latest/meta-data/', { 'x-aws-ec2-metadata-token': t })).status, 401);
    assert.equal(h(get('/latest/meta-data/', { 'x-aws-ec2-metadata-token': 'AQAEAbogus==' })).status, 401);
  });

  test('unknown path is 404', () => {
    assert.equal(createFakeImds()(get('/latest/meta-data/nope')).status, 404);
  });
});

describe('createFakeImds() other providers', () => {
  test('GCP v1 needs Metadata-Flavor: Google', () => {
    const h = createFakeImds();
    assert.equal(h(get('/computeMetadata/v1/instance/id')).status, 403);
    const r = h(get('/computeMetadata/v1/instance/service-accounts/default/token', { 'metadata-flavor': 'Google' }));
    assert.equal(r.status, 200);
    assert.equal(r.headers['metadata-flavor'], 'Google');
    assert.match(JSON.parse(r.body).access_token, /FAKE/);
  });

  test('Azure needs Metadata: true and api-version', () => {
    const h = createFakeImds();
    assert.equal(h(get('/metadata/instance?api-version=2021-02-01')).status, 400);
    assert.equal(h(get('/metadata/instance', { metadata: 'true' })).status, 400);
    assert.equal(h(get('/metadata/instance?api-version=2021-02-01', { metadata: 'true' })).status, 200);
    assert.equal(
      h(
        get('/metadata/identity/oauth2/token?api-version=2018-02-01&resource=x', {
          metadata: 'true',
          'x-forwarded-for': '1.1.1.1',
        }),
      ).status,
      400,
    );
  });

  test('ECS credentials path answers fake credentials', () => {
    const r = createFakeImds()(get('/v2/credentials/0000-fake'));
    assert.equal(r.status, 200);
    assert.equal(JSON.parse(r.body).AccessKeyId, FAKE_ACCESS_KEY_ID);
  });

  test('Oracle v2 needs Authorization: Bearer Oracle', () => {
    const h = createFakeImds();
    assert.equal(h(get('/opc/v2/instance/')).status, 401);
    assert.equal(h(get('/opc/v2/instance/', { authorization: 'Bearer Oracle' })).status, 200);
  });
});

describe('startFakeImds() on 127.0.0.1', () => {
  let fake: RunningFakeImds;
  before(async () => {
    fake = await startFakeImds({ imdsv2Required: true });
  });
  after(() => fake.close());

  test('serves the IMDSv2 flow over real HTTP and records what it saw', async () => {
    const t = await fetch(`${fake.url}/latest/api/token`, {
      method: 'PUT',
      headers: { 'X-aws-ec2-metadata-token-ttl-seconds': '60' },
    });
    assert.equal(t.status, 200);
    const token = await t.text();
    const r = await fetch(`${fake.url}/latest/meta-data/instance-id`, {
      headers: { 'X-aws-ec2-metadata-token': token },
    });
    assert.equal(r.status, 200);
    assert.equal((await fetch(`${fake.url}/latest/meta-data/instance-id`)).status, 401);
    assert.deepEqual(
      fake.seen.map((s) => [s.method, s.target, s.status]),
      [
        ['PUT', '/latest/api/token', 200],
        ['GET', '/latest/meta-data/instance-id', 200],
        ['GET', '/latest/meta-data/instance-id', 401],
      ],
    );
  });
});

describe('serve.ts', () => {
  test('runs as a process, prints where it listens, answers, and exits 0 on SIGTERM', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'test/fake-imds/serve.ts', '--listen', '127.0.0.1:0'], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    try {
      const rl = createInterface({ input: child.stdout });
      const [line] = (await once(rl, 'line')) as [string];
      const { listening } = JSON.parse(line) as { listening: string };
      assert.match(listening, /^127\.0\.0\.1:\d+$/);
      const r = await fetch(`http://${listening}/latest/meta-data/instance-id`);
      assert.equal(r.status, 200);
      child.kill('SIGTERM');
      const [code] = await once(child, 'exit');
      assert.equal(code, 0);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
});
