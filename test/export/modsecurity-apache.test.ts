/**
 * The exported ModSecurity rules loaded into a real Apache + mod_security2 on loopback, run against the OWASP CRS
 * SSRF cases and our own corpus. Prints detection and false-alarm rates next to the classifier's on the same cases.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, test } from 'node:test';
import { exportModSecurity } from '../../src/core/export/modsecurity.ts';
import { corporaSkip } from '../corpora/shared.ts';
import { apacheUnavailable, type RunningApache, startApache } from './apache.ts';
import { crsCases, formatRates, ownCases, rates, type WafCase } from './waf-cases.ts';

const why = apacheUnavailable();
if (why && process.env.CI === 'true') throw new Error(`ModSecurity test cannot run under CI: ${why}`);

function send(agent: http.Agent, port: number, c: WafCase): Promise<number> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { ...c.headers };
    if (c.body !== undefined) headers['content-length'] = String(Buffer.byteLength(c.body));
    const req = http.request({ agent, host: '127.0.0.1', port, method: c.method, path: c.target, headers }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.setTimeout(10_000, () => req.destroy(new Error(`timeout: ${c.target}`)));
    req.on('error', reject);
    req.end(c.body);
  });
}

async function runAll(port: number, cases: WafCase[]): Promise<Map<WafCase, number>> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
  const out = new Map<WafCase, number>();
  let next = 0;
  const worker = async () => {
    while (next < cases.length) {
      const c = cases[next++]!;
      out.set(c, await send(agent, port, c));
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  agent.destroy();
  return out;
}

describe('exported ModSecurity rules in Apache + mod_security2', { skip: why ?? false, timeout: 120_000 }, () => {
  let apache: RunningApache;
  before(async () => {
    apache = await startApache(exportModSecurity({ version: 'test' }).combined);
  });
  after(async () => {
    await apache?.stop();
  });

  test('Apache loads every rule and blocks payloads in the query, JSON body, XML body and headers', async () => {
    const cases: WafCase[] = [
      {
        source: 'own',
        family: 'q',
        label: 'metadata',
        method: 'GET',
        target: '/f?u=http%3A%2F%2F0xA9FEA9FE%2Flatest%2F',
        headers: {},
        classifier: 'metadata',
      },
      {
        source: 'own',
        family: 'json',
        label: 'metadata',
        method: 'POST',
        target: '/a',
        headers: { 'content-type': 'application/json' },
        body: '{"a":{"b":"http://metadata.google.internal/computeMetadata/v1/"}}',
        classifier: 'metadata',
      },
      {
        source: 'own',
        family: 'xml',
        label: 'metadata',
        method: 'POST',
        target: '/a',
        headers: { 'content-type': 'application/xml' },
        body: '<r><u>http://[fd00:ec2::254]/latest/</u></r>',
        classifier: 'metadata',
      },
      {
        source: 'own',
        family: 'hdr',
        label: 'metadata',
        method: 'GET',
        target: '/',
        headers: { 'X-Forwarded-Host': '169.254.169.254' },
        classifier: 'metadata',
      },
      {
        source: 'own',
        family: 'ok',
        label: 'benign',
        method: 'GET',
        target: '/f?u=https%3A%2F%2Fexample.com%2F',
        headers: {},
        classifier: 'none',
      },
    ];
    const res = await runAll(apache.port, cases);
    assert.deepEqual(
      cases.map((c) => res.get(c)),
      [403, 403, 403, 403, 404],
      apache.errorLog().slice(-2000),
    );
    assert.match(apache.errorLog(), /id "910\d\d"/);
  });

  test('CRS SSRF cases: detection and false alarms next to the classifier', { skip: corporaSkip('crs') }, async () => {
    const cases = crsCases();
    const res = await runAll(apache.port, cases);
    const blocked = (c: WafCase) => res.get(c) === 403;
    const all = rates(cases, blocked);
    const ftw = rates(
      cases.filter((c) => c.source === 'crs'),
      blocked,
    );
    const data = rates(
      cases.filter((c) => c.source === 'crs-ssrf.data'),
      blocked,
    );
    if (process.env.IMDSGUARD_SHOW_MISSES)
      for (const c of cases)
        if (c.label === 'metadata' && !blocked(c))
          console.log('miss', c.family, c.target, c.body ?? '', JSON.stringify(c.headers));
    console.log(formatRates('CRS go-ftw cases', ftw, 'modsec'));
    console.log(formatRates('CRS ssrf.data URLs', data, 'modsec'));
    assert.ok(all.metadata > 100);
    assert.ok(ftw.detectedByWaf / ftw.metadata >= 0.8, formatRates('CRS', ftw, 'modsec'));
    assert.ok(data.detectedByWaf / data.metadata >= 0.7, formatRates('ssrf.data', data, 'modsec'));
  });

  test('own corpus: detection per family and false alarms next to the classifier', async () => {
    const cases = ownCases();
    const res = await runAll(apache.port, cases);
    const blocked = (c: WafCase) => res.get(c) === 403;
    const attacks = rates(
      cases.filter((c) => c.source === 'own'),
      blocked,
    );
    const hard = rates(
      cases.filter((c) => c.source === 'own-benign'),
      blocked,
    );
    const traffic = rates(
      cases.filter((c) => c.source === 'own-traffic'),
      blocked,
    );
    console.log(formatRates('own attack corpus', attacks, 'modsec'));
    console.log(formatRates('own hard benign', hard, 'modsec'));
    console.log(formatRates('own generated traffic', traffic, 'modsec'));
    if (process.env.IMDSGUARD_SHOW_MISSES)
      for (const c of cases)
        if (c.label === 'metadata' && !blocked(c)) console.log('miss', c.family, c.target, c.body ?? '');
    const missedFamilies = new Map<string, number>();
    for (const c of cases)
      if (c.source === 'own' && !blocked(c)) missedFamilies.set(c.family, (missedFamilies.get(c.family) ?? 0) + 1);
    console.log(
      `modsec misses by family: ${[...missedFamilies]
        .sort((a, b) => b[1] - a[1])
        .map(([f, n]) => `${f}:${n}`)
        .join(' ')}`,
    );
    const fps = cases.filter((c) => c.label === 'benign' && blocked(c)).map((c) => c.target);
    console.log(`modsec false alarms: ${fps.slice(0, 20).join('  ')}`);
    assert.ok(attacks.detectedByWaf / attacks.metadata >= 0.9, formatRates('own', attacks, 'modsec'));
    assert.ok(hard.falseAlarmsWaf / hard.benign <= 0.03, fps.join('\n'));
    assert.equal(traffic.falseAlarmsWaf, 0, fps.join('\n'));
  });
});
