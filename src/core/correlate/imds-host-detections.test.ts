import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ConnectEvent } from '../model/event.ts';
import { expectedCaller } from '../rules/imds-expected-callers.ts';
import { classifyHostEvent } from '../rules/imds-host-event.ts';
import { maskArgv } from '../secrets/argv.ts';
import { BASELINE_MAX_ENTRIES, newBaseline, observeBaseline } from './imds-baseline.ts';
import { imdsEnumeration, newEnumeration } from './imds-enumeration.ts';
import { detectHost, type HostDetectionState } from './imds-host-pipeline.ts';
import { newV2Sequence } from './imds-v2-sequence.ts';

const T0 = 1_800_000_000_000;

function ev(
  over: Partial<ConnectEvent['process']>,
  http?: { method: string; path: string; headers?: string[] },
  ip = '169.254.169.254',
): ConnectEvent {
  const names = http?.headers ?? [];
  return {
    kind: 'connect',
    origin: { sensor: 'bpftrace' },
    time: new Date(T0).toISOString(),
    process: {
      pid: 100,
      ppid: 50,
      exe: '/usr/bin/curl',
      argv: ['curl'],
      uid: 0,
      user: 'root',
      netns: 4026531840,
      ...over,
    },
    destination: { ip, port: 80 },
    ...(http
      ? {
          http: {
            method: http.method,
            path: http.path,
            token: names.some((n) => n === 'x-aws-ec2-metadata-token'),
            headerNames: names,
          },
        }
      : {}),
  };
}

function state(warmupMs = 0): HostDetectionState {
  return { baseline: newBaseline(T0 - 1, warmupMs), sequences: newV2Sequence(), windows: newEnumeration() };
}

describe('classifyHostEvent()', () => {
  it('says unknown, never 1, when a payload-reading sensor did not see the whole head; a token seen is still 2', () => {
    const cut = { ...ev({}, { method: 'GET', path: '/latest/meta-data/iam/security-credentials/' }) };
    cut.capture = { complete: false, gap: 'request head incomplete' };
    const h = classifyHostEvent(cut, T0);
    assert.equal(h.imdsVersion, 'unknown');
    const state: HostDetectionState = {
      baseline: newBaseline(T0, 0),
      sequences: newV2Sequence(),
      windows: newEnumeration(),
    };
    assert.ok(!detectHost(state, h, { allow: [] }).some((f) => f.rule.id === 'imds-v1-use'));
    const none = ev({});
    none.capture = { complete: false, gap: 'request sent by sendfile' };
    assert.equal(classifyHostEvent(none, T0).imdsVersion, 'unknown');
    const tokened = ev({}, { method: 'GET', path: '/latest/meta-data/', headers: ['x-aws-ec2-metadata-token'] });
    tokened.capture = { complete: false, gap: 'cut' };
    assert.equal(classifyHostEvent(tokened, T0).imdsVersion, 2);
    const whole = ev({}, { method: 'GET', path: '/latest/meta-data/' });
    whole.capture = { complete: true };
    assert.equal(classifyHostEvent(whole, T0).imdsVersion, 1);
    // Sensors that never read payload (auditd, procfs) set no capture: no version at all, as before.
    assert.equal(classifyHostEvent(ev({}), T0).imdsVersion, undefined);
  });

  it('tells IMDSv1 from v2 and unwraps IPv4-mapped destinations', () => {
    assert.equal(classifyHostEvent(ev({}, { method: 'GET', path: '/latest/meta-data/' }), T0).imdsVersion, 1);
    const put = classifyHostEvent(
      ev({}, { method: 'PUT', path: '/latest/api/token', headers: ['x-aws-ec2-metadata-token-ttl-seconds'] }),
      T0,
    );
    assert.equal(put.imdsVersion, 2);
    assert.equal(put.tokenPut, true);
    const mapped = classifyHostEvent(
      ev({}, { method: 'GET', path: '/latest/meta-data/iam/security-credentials/' }, '::ffff:169.254.169.254'),
      T0,
    );
    assert.equal(mapped.provider, 'aws');
    assert.equal(mapped.pathClass, 'credentials');
    const gcp = classifyHostEvent(
      ev(
        {},
        {
          method: 'GET',
          path: '/computeMetadata/v1/instance/service-accounts/default/token',
          headers: ['metadata-flavor'],
        },
      ),
      T0,
    );
    assert.equal(gcp.provider, 'gcp');
    assert.equal(gcp.imdsVersion, undefined);
    assert.equal(classifyHostEvent(ev({}), T0).pathClass, null);
  });
});

describe('detectHost()', () => {
  it('reports IMDSv1 credentials use (high) and an unexpected curl; a known agent is quiet', () => {
    const s = state();
    const f = detectHost(
      s,
      classifyHostEvent(ev({}, { method: 'GET', path: '/latest/meta-data/iam/security-credentials/' }), T0),
      { allow: [] },
    );
    assert.deepEqual(
      f.map((x) => [x.rule.id, x.severity]),
      [
        ['imds-v1-use', 'high'],
        ['imds-unusual-caller', 'high'],
      ],
    );
    assert.equal(f[0]?.process?.pid, 100);
    assert.equal(f[0]?.imds_version, 1);
    assert.equal(f[0]?.http?.token, false);
    const ssm = detectHost(
      s,
      classifyHostEvent(
        ev(
          { exe: '/usr/bin/amazon-ssm-agent', argv: ['/usr/bin/amazon-ssm-agent'] },
          { method: 'GET', path: '/latest/meta-data/iam/security-credentials/', headers: ['x-aws-ec2-metadata-token'] },
        ),
        T0,
      ),
      { allow: [] },
    );
    assert.deepEqual(ssm, []);
  });

  it('raises severity for a shell in a container, and learns callers during warm-up', () => {
    const h = classifyHostEvent(
      ev(
        { exe: '/bin/bash', container: 'c'.repeat(64) },
        { method: 'PUT', path: '/latest/api/token', headers: ['x-aws-ec2-metadata-token-ttl-seconds'] },
      ),
      T0,
      '/docker/x',
    );
    assert.equal(
      detectHost(state(), h, { allow: [] }).find((f) => f.rule.id === 'imds-unusual-caller')?.severity,
      'critical',
    );
    const learning = state(3_600_000);
    assert.deepEqual(detectHost(learning, h, { allow: [] }), []);
    // After warm-up the same caller is known; a new one is not.
    const later = { ...h, timeMs: T0 + 7_200_000 };
    assert.deepEqual(detectHost(learning, later, { allow: [] }), []);
    const other = classifyHostEvent(
      ev(
        { exe: '/usr/bin/python3.11', pid: 7 },
        { method: 'GET', path: '/latest/meta-data/iam/security-credentials/', headers: ['x-aws-ec2-metadata-token'] },
      ),
      T0 + 7_200_000,
    );
    assert.equal(detectHost(learning, other, { allow: [] })[0]?.rule.id, 'imds-unusual-caller');
  });

  it('pairs a token PUT with a credentials GET from a sibling, with the time between', () => {
    const s = state();
    detectHost(
      s,
      classifyHostEvent(
        ev(
          { pid: 201, ppid: 200 },
          { method: 'PUT', path: '/latest/api/token', headers: ['x-aws-ec2-metadata-token-ttl-seconds'] },
        ),
        T0,
      ),
      { allow: [] },
    );
    const get = classifyHostEvent(
      ev(
        { pid: 202, ppid: 200 },
        { method: 'GET', path: '/latest/meta-data/iam/security-credentials/r', headers: ['x-aws-ec2-metadata-token'] },
      ),
      T0 + 250,
    );
    const seq = detectHost(s, get, { allow: [] }).find((f) => f.rule.id === 'imds-v2-credentials-sequence');
    assert.equal(seq?.evidence?.seconds_between, 0.25);
    assert.equal(seq?.evidence?.token_pid, 201);
    assert.equal(seq?.evidence?.same_process, false);
    // A GET in another namespace does not pair with it.
    const elsewhere = classifyHostEvent(
      ev(
        { pid: 203, ppid: 200, netns: 1 },
        { method: 'GET', path: '/latest/meta-data/iam/security-credentials/r', headers: ['x-aws-ec2-metadata-token'] },
      ),
      T0 + 300,
    );
    assert.equal(
      detectHost(s, elsewhere, { allow: [] }).find((f) => f.rule.id === 'imds-v2-credentials-sequence'),
      undefined,
    );
  });

  it('the user allowlist silences a caller', () => {
    const h = classifyHostEvent(
      ev(
        { exe: '/usr/local/bin/backup', user: 'backup' },
        { method: 'GET', path: '/latest/meta-data/iam/security-credentials/', headers: ['x-aws-ec2-metadata-token'] },
      ),
      T0,
    );
    assert.equal(detectHost(state(), h, { allow: [] }).length, 1);
    assert.equal(
      detectHost(state(), h, { allow: [{ name: 'backup', exe: /^\/usr\/local\/bin\/backup$/, user: 'backup' }] })
        .length,
      0,
    );
    assert.equal(
      detectHost(state(), h, { allow: [{ name: 'backup', exe: /^\/usr\/local\/bin\/backup$/, user: 'root' }] }).length,
      1,
    );
  });
});

describe('imdsEnumeration()', () => {
  it('reports many distinct paths once per window, and a burst once', () => {
    const s = newEnumeration();
    const opts = { windowMs: 10_000, distinctPaths: 5, burst: 8, maxProcesses: 2, maxPathsPerProcess: 64 };
    const out = [];
    for (let i = 0; i < 10; i++)
      out.push(
        ...imdsEnumeration(
          s,
          classifyHostEvent(ev({}, { method: 'GET', path: `/latest/meta-data/p${i % 6}` }), T0 + i),
          opts,
        ),
      );
    assert.deepEqual(
      out.map((f) => f.rule.id),
      ['imds-enumeration', 'imds-request-burst'],
    );
    // Bounded: a third process evicts the oldest window.
    imdsEnumeration(s, classifyHostEvent(ev({ pid: 2 }, { method: 'GET', path: '/' }), T0), opts);
    imdsEnumeration(s, classifyHostEvent(ev({ pid: 3 }, { method: 'GET', path: '/' }), T0), opts);
    assert.equal(s.windows.size, 2);
  });
});

describe('baseline, expected callers, argv masking', () => {
  it('observeBaseline() stays bounded', () => {
    const b = newBaseline(T0, 0);
    for (let i = 0; i < BASELINE_MAX_ENTRIES + 5; i++) observeBaseline(b, `k${i}`, T0 + i);
    assert.ok(Object.keys(b.entries).length <= BASELINE_MAX_ENTRIES);
    assert.equal(b.entries.k0, undefined);
  });

  it('expectedCaller() recognises agents by exe or by the script an interpreter runs', () => {
    assert.equal(
      expectedCaller({
        exe: '/usr/bin/python3.11',
        argv: ['/usr/bin/python3', '/usr/bin/cloud-init', 'init'],
        pathClass: 'user-data',
      })?.name,
      'cloud-init',
    );
    assert.equal(
      expectedCaller({
        exe: '/usr/bin/python3',
        argv: ['python3', '-u', '/usr/sbin/waagent', '-daemon'],
        pathClass: 'token',
      }),
      undefined,
    );
    assert.equal(expectedCaller({ exe: '/usr/sbin/waagent', pathClass: 'token' })?.name, 'Azure Linux agent');
    assert.equal(
      expectedCaller({ exe: '/usr/bin/google_guest_agent', pathClass: 'token' })?.name,
      'Google guest agent',
    );
    assert.equal(expectedCaller({ exe: '/usr/bin/curl', pathClass: 'credentials' }), undefined);
  });

  it('maskArgv() hides token headers, passwords, URL credentials and AWS keys', () => {
    assert.deepEqual(
      maskArgv([
        'curl',
        '-H',
        'X-aws-ec2-metadata-token: AQAEAexample==',
        '--password',
        'hunter2',
        '--token=abc',
        'https://user:pw@example.com/',
        'AKIAIOSFODNN7EXAMPLE',
        'AWS_SECRET_ACCESS_KEY=wJalr',
      ]),
      [
        'curl',
        '-H',
        'X-aws-ec2-metadata-token: ****',
        '--password',
        '****',
        '--token=****',
        'https://user:****@example.com/',
        'AKIA****MPLE',
        'AWS_SECRET_ACCESS_KEY=****',
      ],
    );
  });
});
