import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type Finding, makeFinding } from '../model/finding.ts';
import { decodeEnvelope, encodeEnvelope, type FleetEnvelope } from './contract.ts';
import { byteLength, fitEnvelope, HEADER_ALLOWANCE_BYTES, TRUNCATION_MARKER } from './fit-envelope.ts';

/** A request line as a web log holds it, with a query of `n` repetitions of `unit`. */
function finding(unit: string, n: number, extra: Partial<Finding> = {}): Finding {
  const raw = `/fetch?url=http://169.254.169.254/latest/meta-data/iam/security-credentials/&pad=${unit.repeat(n)}`;
  return {
    ...makeFinding({
      rule: { id: 'ssrf-metadata', name: 'SSRF to the instance metadata service' },
      severity: 'critical',
      confidence: 1,
      attack: ['T1552.005'],
      title: 'metadata credentials fetched through /fetch',
      remediation: 'block the parameter',
      origin: { file: '/var/log/nginx/access.log', line: 42 },
      time: '2026-12-01T10:00:00.000Z',
      idEvidence: ['access.log', 42],
    }),
    target: { raw, decoded: raw },
    ...extra,
  };
}

function envelope(f: Finding): FleetEnvelope {
  return {
    v: 1,
    source: 'scan',
    host: { id: 'web-1', name: 'web-1' },
    account: '111122223333',
    region: 'eu-west-1',
    sent_at: '2026-12-01T10:00:01.000Z',
    finding: f,
  };
}

/** A UTF-16 half without its other half: text that JSON consumers (PostgreSQL's jsonb, Elasticsearch) refuse. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

describe('fitEnvelope: an oversized finding is cut to the message size limit', () => {
  it('an envelope that fits is sent as it is', () => {
    const env = envelope(finding('a', 100));
    assert.deepEqual(fitEnvelope(env, 4096), { body: encodeEnvelope(env), cut: false });
  });

  it('cuts the longest strings with the marker until the encoded envelope fits; ids, rule and severity are kept', () => {
    const env = envelope(finding('x', 200_000, { evidence: { body: 'b'.repeat(50_000), note: 'short' } }));
    const before = encodeEnvelope(env);
    for (const max of [4096, 16_384, 65_536, 200_000]) {
      const fit = fitEnvelope(env, max);
      assert.ok(fit, `fits in ${max}`);
      assert.equal(fit.cut, true);
      assert.ok(byteLength(fit.body) <= max - HEADER_ALLOWANCE_BYTES, `${byteLength(fit.body)} bytes for ${max}`);
      const back = decodeEnvelope(fit.body);
      assert.equal(back.finding.id, env.finding.id);
      assert.deepEqual(back.finding.rule, env.finding.rule);
      assert.equal(back.finding.severity, 'critical');
      assert.equal(back.finding.title, env.finding.title);
      assert.deepEqual(back.host, env.host);
      assert.equal((back.finding.evidence as { note: string }).note, 'short');
      // What was cut is the start of what it was, then the marker.
      const raw = back.finding.target!.raw;
      assert.ok(raw.endsWith(TRUNCATION_MARKER), raw.slice(-80));
      assert.ok(env.finding.target!.raw.startsWith(raw.slice(0, -TRUNCATION_MARKER.length)));
    }
    // The envelope given is not changed (the outbox keeps it whole).
    assert.equal(encodeEnvelope(env), before);
  });

  it('counts encoded bytes: multi-byte and escaped text fits, filling the limit, and no character is cut in half', () => {
    for (const unit of ['é', '€', '😀', 'a😀', '"\\\n', '\u0001x']) {
      for (const max of [3000, 8192, 65_536]) {
        const what = `${JSON.stringify(unit)} in ${max}`;
        const env = envelope(finding(unit, 30_000));
        const fit = fitEnvelope(env, max);
        assert.ok(fit, what);
        const size = byteLength(fit.body);
        assert.ok(size <= max - HEADER_ALLOWANCE_BYTES, `${what}: ${size} bytes`);
        // Cut to what fits, not far below it (counting characters for bytes cut a 4-byte one twice over).
        assert.ok(size >= max - HEADER_ALLOWANCE_BYTES - 32, `${what}: only ${size} bytes used`);
        const { raw, decoded } = decodeEnvelope(fit.body).finding.target!;
        assert.doesNotMatch(raw, LONE_SURROGATE, `${what}: a surrogate pair was cut`);
        // The request line and its decoded copy are equally long: each keeps an equal part, with one marker.
        assert.equal(raw, decoded, what);
        assert.equal(raw.split(TRUNCATION_MARKER).length, 2, what);
      }
    }
  });

  it('gives up (undefined) when even cutting every long string cannot make it fit', () => {
    const many: Record<string, string> = {};
    for (let i = 0; i < 400; i++) many[`k${i}`] = `value-${i}-${'v'.repeat(60)}`;
    const env = envelope(finding('x', 10, { evidence: many }));
    assert.equal(fitEnvelope(env, 2048), undefined);
    assert.ok(fitEnvelope(env, 1 << 20), 'it fits a larger limit');
  });
});
