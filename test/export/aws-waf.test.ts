/**
 * Exported AWS WAF pattern sets and rule group checked against the documented wafv2 limits and shapes (nothing is
 * deployed to AWS here), and the patterns run, after the same text transformations, over the CRS and own corpora.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { awsWafRuleGroup, awsWafSets, exportAwsWaf, WAF_COST, WAF_LIMITS } from '../../src/core/export/aws-waf.ts';
import { corporaSkip } from '../corpora/shared.ts';
import { crsCases, formatRates, ownCases, rates, type WafCase } from './waf-cases.ts';

/** wafv2 TextTransformation types and FieldToMatch members (API reference). */
const TRANSFORMATION_TYPES = new Set([
  'NONE',
  'COMPRESS_WHITE_SPACE',
  'HTML_ENTITY_DECODE',
  'LOWERCASE',
  'CMD_LINE',
  'URL_DECODE',
  'BASE64_DECODE',
  'HEX_DECODE',
  'MD5',
  'REPLACE_COMMENTS',
  'ESCAPE_SEQ_DECODE',
  'SQL_HEX_DECODE',
  'CSS_DECODE',
  'JS_DECODE',
  'NORMALIZE_PATH',
  'NORMALIZE_PATH_WIN',
  'REMOVE_NULLS',
  'REPLACE_NULLS',
  'BASE64_DECODE_EXT',
  'URL_DECODE_UNI',
  'UTF8_TO_UNICODE',
]);
const FIELDS = new Set([
  'SingleHeader',
  'SingleQueryArgument',
  'AllQueryArguments',
  'UriPath',
  'QueryString',
  'Body',
  'Method',
  'JsonBody',
  'Headers',
  'Cookies',
  'HeaderOrder',
  'JA3Fingerprint',
  'JA4Fingerprint',
  'UriFragment',
]);
/** Regex features AWS WAF rejects. */
const UNSUPPORTED = [/\(\?[=!]/, /\(\?<[=!]/, /\\[1-9]/, /\\K/, /\(\?\(/];

describe('AWS WAF export', () => {
  const sets = awsWafSets();
  const group = awsWafRuleGroup(sets);

  test('pattern sets respect the documented limits and dialect', () => {
    assert.ok(sets.length <= 10, `${sets.length} sets (default quota 10 per scope and region)`);
    for (const s of sets) {
      assert.match(s.Name, /^[\w-]{1,128}$/);
      assert.ok(['REGIONAL', 'CLOUDFRONT'].includes(s.Scope));
      assert.ok(s.RegularExpressionList.length >= 1 && s.RegularExpressionList.length <= WAF_LIMITS.regexesPerSet);
      for (const { RegexString } of s.RegularExpressionList) {
        assert.ok(
          RegexString.length >= 1 && RegexString.length <= WAF_LIMITS.regexLength,
          `${RegexString.length}: ${RegexString}`,
        );
        for (const u of UNSUPPORTED) assert.doesNotMatch(RegexString, u);
        new RegExp(RegexString);
      }
    }
  });

  test('the rule group refers only to exported sets, uses valid fields and transformations, and fits a web ACL', () => {
    const names = new Set(sets.map((s) => s.Name));
    const priorities = new Set<number>();
    let capacity = 0;
    for (const r of group.Rules) {
      assert.ok(!priorities.has(r.Priority));
      priorities.add(r.Priority);
      assert.deepEqual(Object.keys(r.Action), ['Block']);
      assert.match(r.VisibilityConfig.MetricName, /^[\w#:.\-/]+$/);
      const stmts = r.Statement.OrStatement.Statements;
      assert.ok(stmts.length >= 2);
      for (const st of stmts) {
        const ref = st.RegexPatternSetReferenceStatement;
        const m = /^\$\{(.+)\.Arn\}$/.exec(ref.ARN);
        assert.ok(m && names.has(m[1]!), ref.ARN);
        assert.equal(Object.keys(ref.FieldToMatch).length, 1);
        assert.ok(FIELDS.has(Object.keys(ref.FieldToMatch)[0]!));
        assert.ok(ref.TextTransformations.length <= WAF_LIMITS.transformations);
        assert.equal(new Set(ref.TextTransformations.map((t) => t.Priority)).size, ref.TextTransformations.length);
        for (const t of ref.TextTransformations) assert.ok(TRANSFORMATION_TYPES.has(t.Type), t.Type);
        capacity += WAF_COST.regexSet + WAF_COST.transformation * ref.TextTransformations.length;
      }
    }
    assert.equal(group.Capacity, capacity);
    assert.ok(group.Capacity <= WAF_LIMITS.webAclCapacity, `${group.Capacity} WCU`);
    const files = exportAwsWaf({ version: 'test' }).files.map((f) => JSON.parse(f.content));
    assert.equal(files[0].RegexPatternSets.length, sets.length);
    assert.equal(files[1].Name, 'imdsguard-metadata-ssrf');
    assert.match(files[0]._comment.join(' '), /cannot express/);
  });

  test('the patterns, after the same transformations, over CRS and own requests', () => {
    const regexes = sets.flatMap((s) => s.RegularExpressionList.map((r) => new RegExp(r.RegexString)));
    const decode = (s: string) => {
      let out = s;
      for (let i = 0; i < 2; i++) {
        try {
          out = decodeURIComponent(out.replace(/\+/g, ' '));
        } catch {
          // URL_DECODE_UNI leaves invalid escapes as they are.
        }
      }
      return out.toLowerCase();
    };
    const fired = (c: WafCase) => {
      const [path, ...q] = c.target.split('?');
      const fields = [path!, q.join('?'), c.body ?? '', ...Object.values(c.headers)].map(decode);
      return fields.some((f) => regexes.some((r) => r.test(f)));
    };
    const cases = [...(corporaSkip('crs') ? [] : crsCases()), ...ownCases(1000)];
    const own = rates(
      cases.filter((c) => c.source === 'own'),
      fired,
    );
    const crs = rates(
      cases.filter((c) => c.source.startsWith('crs')),
      fired,
    );
    const benign = rates(
      cases.filter((c) => c.source === 'own-benign' || c.source === 'own-traffic'),
      fired,
    );
    console.log(formatRates('aws-waf own (emulated)', own, 'waf'));
    console.log(formatRates('aws-waf CRS (emulated)', crs, 'waf'));
    console.log(formatRates('aws-waf benign (emulated)', benign, 'waf'));
    assert.ok(own.detectedByWaf / own.metadata >= 0.78, formatRates('own', own, 'waf'));
    assert.ok(benign.falseAlarmsWaf / benign.benign <= 0.01, formatRates('benign', benign, 'waf'));
  });
});
