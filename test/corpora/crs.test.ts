import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { classify, verdictOf } from '../../src/core/classify.ts';
import type { MetadataHit } from '../../src/core/model/hit.ts';
import { CRS_INTERNAL, CRS_METADATA, type FtwStage, HARNESS_HEADERS, loadCrsFiles } from './crs-cases.ts';
import { CORPORA, corporaSkip } from './shared.ts';

const skip = corporaSkip('crs');

/** Every place in a request an attack can sit: target, body, and headers other than the harness's Host. */
function requestHits(stage: FtwStage): MetadataHit[] {
  const i = stage.input;
  const hits: MetadataHit[] = [];
  if (i.uri) hits.push(...classify(i.uri, { kind: 'target' }));
  if (i.data) hits.push(...classify(i.data));
  for (const [k, v] of Object.entries(i.headers ?? {})) {
    if (HARNESS_HEADERS.has(k.toLowerCase())) continue;
    hits.push(...classify(v, { field: k }));
  }
  return hits;
}

describe('OWASP CRS SSRF regression cases', { skip }, () => {
  const docs = skip ? [] : loadCrsFiles();
  test('the corpus holds the four rule files', () => assert.equal(docs.length, 4));
  for (const doc of docs) {
    for (const t of doc.tests) {
      const expected = CRS_METADATA[doc.rule_id]?.has(t.test_id)
        ? 'metadata'
        : CRS_INTERNAL[doc.rule_id]?.has(t.test_id)
          ? 'internal'
          : 'none';
      test(`${doc.rule_id}-${t.test_id} ${t.desc ?? ''} → ${expected}`, () => {
        for (const [si, stage] of t.stages.entries()) {
          const v = verdictOf(requestHits(stage));
          assert.equal(
            v,
            expected,
            `stage ${si + 1}: ${stage.input.uri ?? ''} ${stage.input.data ?? ''} ${JSON.stringify(stage.input.headers?.Cookie ?? '')}`,
          );
        }
      });
    }
  }
});

describe('OWASP CRS ssrf.data URL list', { skip }, () => {
  // Sections of ssrf.data, by their comment headings, that list metadata endpoints.
  const METADATA_SECTIONS =
    /^#+ *(AWS|Common evasion|AWS ECS|Google|Digital Ocean|Packetcloud|Azure|OpenStack|HP Helion|Oracle|Alibaba|Rancher|Enclosed alphanumerics|http:\/\/169\.254\.169\.254)/i;
  const OTHER_SECTIONS =
    /^#+ *(http:\/\/127|http:\/\/192\.168|IPv6 base|localhost bypass|Local Docker|Kubernetes etcd|Java only|Other PL1|AWS Lambda)/i;
  const entries: Array<{ url: string; metadata: boolean }> = [];
  if (!skip) {
    let section: boolean | null = null;
    for (const raw of readFileSync(join(CORPORA, 'crs', 'ssrf.data'), 'utf8').split('\n')) {
      const line = raw.trim();
      if (line.startsWith('#')) {
        if (OTHER_SECTIONS.test(line)) section = false;
        else if (METADATA_SECTIONS.test(line)) section = true;
        continue;
      }
      if (line && section !== null) entries.push({ url: line, metadata: section });
    }
  }
  test('every metadata entry is a metadata hit, every other entry is not', () => {
    assert.ok(entries.length > 100, `parsed ${entries.length} entries`);
    const wrong = entries.filter((e) => (verdictOf(classify(e.url)) === 'metadata') !== e.metadata);
    assert.deepEqual(wrong, []);
  });
  test('the loopback and Docker entries get the internal verdict', () => {
    const misses = entries.filter((e) => !e.metadata && verdictOf(classify(e.url)) !== 'internal');
    assert.deepEqual(misses, []);
  });
});
