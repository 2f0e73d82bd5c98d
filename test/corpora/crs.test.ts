import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { parse } from 'yaml';
import { classify, verdictOf } from '../../src/core/classify.ts';
import type { MetadataHit } from '../../src/core/model/hit.ts';
import { CORPORA, corporaSkip } from './shared.ts';

const skip = corporaSkip('crs');

interface Stage {
  input: { method?: string; uri?: string; data?: string; headers?: Record<string, string> };
}
interface FtwFile {
  rule_id: number;
  tests: Array<{ test_id: number; desc?: string; stages: Stage[] }>;
}

/**
 * Which go-ftw cases address a cloud metadata service. Labelled by reading each request (the rule file and test id):
 * 934110 lists cloud metadata URLs (its tests 6–8 are CRS's own documented misses, still metadata requests);
 * 934120 spells 169.254.169.254 many ways (tests 12–19 are CRS's scheme-less misses), while its loopback, public,
 * link-local-but-not-metadata and generic IPv6 cases are not metadata.
 */
const METADATA: Record<number, Set<number>> = {
  931100: new Set(),
  934110: new Set([1, 2, 3, 4, 5, 6, 7, 8, 10]),
  934120: new Set([
    1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 21, 22, 24, 35, 36, 39, 43, 44, 45, 46, 47, 48,
    49, 53,
  ]),
  934190: new Set(),
};
/** Cases aimed at other internal targets (loopback, container host, Kubernetes, link-local): the `internal` verdict. */
const INTERNAL: Record<number, Set<number>> = {
  931100: new Set(),
  934110: new Set([9]),
  934120: new Set([20, 23, 25, 26, 27, 28, 29, 33, 34, 37, 38, 40, 41, 52]),
  934190: new Set([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 21]),
};

/** Every place in a request an attack can sit: target, body, and headers other than the harness's Host. */
function requestHits(stage: Stage): MetadataHit[] {
  const i = stage.input;
  const hits: MetadataHit[] = [];
  if (i.uri) hits.push(...classify(i.uri, { kind: 'target' }));
  if (i.data) hits.push(...classify(i.data));
  for (const [k, v] of Object.entries(i.headers ?? {})) {
    if (
      ['host', 'user-agent', 'accept', 'accept-encoding', 'accept-language', 'accept-charset', 'content-type'].includes(
        k.toLowerCase(),
      )
    )
      continue;
    hits.push(...classify(v, { field: k }));
  }
  return hits;
}

describe('OWASP CRS SSRF regression cases', { skip }, () => {
  const files = skip ? [] : readdirSync(join(CORPORA, 'crs')).filter((f) => f.endsWith('.yaml'));
  test('the corpus holds the four rule files', () => assert.equal(files.length, 4));
  for (const f of files) {
    const doc = parse(readFileSync(join(CORPORA, 'crs', f), 'utf8')) as FtwFile;
    for (const t of doc.tests) {
      const expected = METADATA[doc.rule_id]?.has(t.test_id)
        ? 'metadata'
        : INTERNAL[doc.rule_id]?.has(t.test_id)
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
