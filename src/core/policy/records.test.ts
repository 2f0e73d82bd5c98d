import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type ProxyOutcome, proxyEvent, proxyEventJson } from './records.ts';
import type { CallerIdentity, Decision } from './types.ts';

/** A small seeded generator (mulberry32), so a failure names a case that can be replayed. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

test('proxyEventJson is JSON.stringify(proxyEvent) byte for byte, caches included', () => {
  const r = rng(20261123);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const nasty = [
    '',
    'a"b',
    'back\\slash',
    'line\nbreak',
    'nul\u0000x',
    'caf\u00e9',
    '\u2028',
    '\ud800lone',
    '😀',
    '</script>',
  ];
  const str = () => (r() < 0.5 ? pick(nasty) : r().toString(36).slice(2)) + pick(nasty);
  const callers: CallerIdentity[] = [
    { known: false, reason: 'no socket', otherNamespace: true },
    { known: true, pid: 42, exe: '/usr/bin/curl', uid: 0, user: 'root', netns: 4026531840, otherNamespace: false },
    {
      known: true,
      pid: 7,
      ppid: 1,
      exe: str(),
      argv: ['curl', '-H', 'X-aws-ec2-metadata-token: AQAEAxyz', str()],
      uid: 65534,
      container: 'c'.repeat(64),
      exeSha256: 'ab'.repeat(32),
      otherNamespace: true,
    },
  ];
  const decisions: Decision[] = [
    { action: 'allow', reason: 'ok', rule: 'curl may read everything', report: false, severity: 'info' },
    { action: 'deny', status: 403, reason: str(), rule: str(), report: true, severity: 'high' },
    { action: 'audit', reason: 'audited', rule: 'python', report: true, severity: 'medium' },
  ];
  const destinations = [
    { ip: '169.254.169.254', port: 80 },
    { ip: 'fd00:ec2::254', port: 80 },
  ];
  for (let i = 0; i < 5000; i++) {
    const target = pick([
      '/latest/meta-data/',
      '/latest/api/token',
      `/${str()}?q=${str()}`,
      'http://x/#frag',
      '/a#b?c',
    ]);
    const o: ProxyOutcome = {
      time: new Date(1_700_000_000_000 + Math.floor(r() * 1e10)).toISOString(),
      request: {
        method: pick(['GET', 'PUT', 'HEAD', str()]),
        target,
        path: target,
        headers: r() < 0.5 ? { 'x-aws-ec2-metadata-token': 't' } : {},
        provider: pick(['aws', 'gcp', null]),
        service: pick(['ec2-imds', null, str()]),
        pathClass: pick(['credentials', 'token', 'other', 'identity'] as const),
        token: pick(['none', 'valid', 'invalid'] as const),
      },
      caller: pick(callers),
      decision: pick(decisions),
      destination: pick(destinations),
      status: pick([200, 401, 403, 502, 0]),
      latencyMs: pick([r() * 10, r() * 1e-3, r() * 1e6, 0, Number.NaN, 1e-7, 0.0005, 0.0015, 2.5, 123456.78951, 1e13]),
      listener: pick(['127.0.0.1:8169', '[::]:8170', str()]),
      ...(r() < 0.2 ? { upstreamError: pick(['ECONNREFUSED', str()]) } : {}),
    };
    assert.equal(proxyEventJson(o), JSON.stringify(proxyEvent(o)), `case ${i}`);
    // Latency is printed from integers: every millisecond value near this one prints as JSON.stringify would.
    for (let k = 0; k < 8; k++) {
      const latencyMs = (Math.floor(r() * 2e6) + k) / 1000 + (r() - 0.5) / 1000;
      const again = { ...o, latencyMs };
      assert.equal(proxyEventJson(again), JSON.stringify(proxyEvent(again)), `case ${i}.${k} (${latencyMs})`);
    }
  }
});
