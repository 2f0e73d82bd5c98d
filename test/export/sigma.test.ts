/**
 * Exported Sigma rules: checked against the specification (sigma-check.ts) and run, with a small evaluator for the
 * subset they use, over real records: the CRS and own SSRF requests as web server log fields, and the Stratus Red
 * Team CloudTrail detonations.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { exportSigma } from '../../src/core/export/sigma.ts';
import { CORPORA, corporaSkip } from '../corpora/shared.ts';
import { checkRule, evaluate, parseCondition, type Rule } from './sigma-check.ts';
import { crsCases, formatRates, ownCases, rates, type WafCase } from './waf-cases.ts';

const exported = exportSigma({ version: 'test' });
const rules = exported.files.map((f) => parseAllDocuments(f.content)[0]!.toJS() as Rule);
const byTitle = (s: string) => rules.find((r) => r.title.includes(s))!;

describe('Sigma export', () => {
  test('every rule follows the specification: keys, ids, tags, modifiers, taxonomy fields, condition', () => {
    assert.ok(rules.length >= 6);
    for (const r of rules) assert.deepEqual(checkRule(r), [], r.title);
    assert.equal(new Set(rules.map((r) => r.id)).size, rules.length);
    for (const f of exported.files)
      assert.match(f.content, /^# imdsguard .*\n# Not validated with a Sigma engine here/);
  });

  test('ids are stable across exports', () => {
    const again = exportSigma({ version: 'other' }).files.map(
      (f) => (parseAllDocuments(f.content)[0]!.toJS() as Rule).id,
    );
    assert.deepEqual(
      again,
      rules.map((r) => r.id),
    );
  });

  test('the checker itself rejects what the specification forbids', () => {
    const good = rules[0]!;
    assert.notDeepEqual(checkRule({ ...good, level: 'severe' }), []);
    assert.notDeepEqual(checkRule({ ...good, tags: ['attack.T1552'] }), []);
    assert.notDeepEqual(checkRule({ ...good, detection: { ...good.detection, condition: 'selection_nothing' } }), []);
    assert.notDeepEqual(
      checkRule({ ...good, detection: { sel: { 'cs-uri-query|regex': 'x' }, condition: 'sel' } }),
      [],
    );
    assert.notDeepEqual(checkRule({ ...good, detection: { sel: { 'c-uri': 'x' }, condition: 'sel' } }), []);
    assert.throws(() => parseCondition('a and (b', ['a', 'b']));
  });

  test('the combined stdout document holds every rule', () => {
    assert.equal(parseAllDocuments(exported.combined).length, rules.length);
  });

  test('web server rule over CRS and own requests as access-log fields', () => {
    const host = byTitle('SSRF Payload Targeting');
    const path = byTitle('Metadata Path in a Web Request');
    const asLog = (c: WafCase) => {
      const [stem, ...q] = c.target.split('?');
      return { 'cs-uri-stem': stem, 'cs-uri-query': q.join('?'), 'cs-referer': c.headers.Referer ?? c.headers.referer };
    };
    // Bodies are not in access logs: only requests whose payload is in the target are counted.
    const cases = [...(corporaSkip('crs') ? [] : crsCases()), ...ownCases()].filter((c) => c.body === undefined);
    const fired = (c: WafCase) => evaluate(host, asLog(c)) || evaluate(path, asLog(c));
    const own = rates(
      cases.filter((c) => c.source === 'own'),
      fired,
    );
    const traffic = rates(
      cases.filter((c) => c.source === 'own-traffic' || c.source === 'own-benign'),
      fired,
    );
    console.log(formatRates('sigma own (log fields)', own, 'sigma'));
    console.log(formatRates('sigma benign', traffic, 'sigma'));
    // Raw log fields keep every encoding layer but the first; the decoder's reach is measured in scan's own tests.
    assert.ok(own.detectedByWaf / own.metadata >= 0.7, formatRates('own', own, 'sigma'));
    assert.ok(traffic.falseAlarmsWaf / traffic.benign <= 0.002, formatRates('benign', traffic, 'sigma'));
  });

  test('CloudTrail rules fire on the Stratus instance-credential detonation and on nothing else', {
    skip: corporaSkip('cloudtrail-stratus'),
  }, () => {
    const rule = byTitle('Instance Role Credentials Used for Discovery');
    const downgrade = byTitle('Metadata Service Protection Weakened');
    const dir = join(CORPORA, 'cloudtrail-stratus');
    for (const f of readdirSync(dir).filter((x) => x.endsWith('.json'))) {
      const records = JSON.parse(readFileSync(join(dir, f), 'utf8')) as Array<Record<string, unknown>>;
      const hits = records.filter((r) => evaluate(rule, r)).map((r) => r.eventName);
      if (f.includes('ec2-steal-instance-credentials'))
        assert.deepEqual(hits.sort(), ['DescribeInstances', 'GetCallerIdentity']);
      else assert.deepEqual(hits, [], f);
      assert.deepEqual(
        records.filter((r) => evaluate(downgrade, r)),
        [],
        f,
      );
      // Every CloudTrail field the rules name exists in real records (requestParameters are per event).
      for (const field of ['eventSource', 'eventName', 'userIdentity'])
        assert.ok(
          records.every((r) => field in r),
          `${f}: ${field}`,
        );
    }
    const modify = {
      eventSource: 'ec2.amazonaws.com',
      eventName: 'ModifyInstanceMetadataOptions',
      requestParameters: { ModifyInstanceMetadataOptionsRequest: { InstanceId: 'i-0abc', HttpTokens: 'optional' } },
    };
    assert.equal(evaluate(downgrade, modify), true);
    assert.equal(
      evaluate(downgrade, {
        ...modify,
        requestParameters: {
          ModifyInstanceMetadataOptionsRequest: { HttpTokens: 'required', HttpPutResponseHopLimit: 1 },
        },
      }),
      false,
    );
    assert.equal(
      evaluate(downgrade, {
        ...modify,
        requestParameters: {
          ModifyInstanceMetadataOptionsRequest: { HttpTokens: 'required', HttpPutResponseHopLimit: 2 },
        },
      }),
      true,
    );
  });
});
