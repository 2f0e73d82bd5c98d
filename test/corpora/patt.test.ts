import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { classify, verdictOf } from '../../src/core/classify.ts';
import { CORPORA, corporaSkip } from './shared.ts';

const skip = corporaSkip('patt');

/**
 * URLs on PayloadsAllTheThings' cloud-instance page that are not requests to a metadata service: documentation and
 * blog links, Google API endpoints used with a stolen token, Docker/etcd/Lambda runtime examples on loopback, the
 * placeholder host `foo`, and a redirector whose target is not written in the URL.
 */
const NOT_METADATA =
  /^[a-z]+:\/\/(?:docs\.|[\w.-]*microsoft\.com|developers\.digitalocean\.com|rancher\.com|web\.archive\.org|www\.googleapis\.com|foo\/|\$\{AWS_LAMBDA|localhost:9001|127\.0\.0\.1|nicob\.net\/redir6a|github\.com|cloud\.google\.com|learn\.microsoft\.com)/i;

describe('PayloadsAllTheThings cloud-instance page', { skip }, () => {
  const urls: string[] = [];
  if (!skip) {
    const page = readFileSync(join(CORPORA, 'patt', 'SSRF-Cloud-Instances.md'), 'utf8');
    for (const m of page.matchAll(/\b(?:https?|gopher|dict):\/\/[^\s)`"'<>]+/g)) urls.push(m[0].replace(/[.,;]+$/, ''));
  }
  const metadataUrls = urls.filter((u) => !NOT_METADATA.test(u));
  test('every URL that addresses a metadata service is classified metadata', () => {
    assert.ok(metadataUrls.length >= 70, `found ${metadataUrls.length} URLs`);
    const missed = metadataUrls.filter((u) => verdictOf(classify(u)) !== 'metadata');
    assert.deepEqual(missed, []);
  });
  test('documentation and API links are not metadata', () => {
    const docs = urls.filter((u) => NOT_METADATA.test(u) && !/127\.0\.0\.1|localhost|nicob/.test(u));
    assert.ok(docs.length >= 5);
    const flagged = docs.filter((u) => verdictOf(classify(u)) === 'metadata');
    assert.deepEqual(flagged, []);
  });
});

describe('PayloadsAllTheThings main SSRF page: bypasses applied to metadata addresses', { skip }, () => {
  test('every URL on the page that names 169.254.169.254 in any spelling is metadata', () => {
    const page = readFileSync(join(CORPORA, 'patt', 'SSRF-README.md'), 'utf8');
    const urls = [...page.matchAll(/\b(?:https?|gopher|dict|ftp|file):\/\/[^\s)`"'<>]+/g)].map((m) => m[0]);
    // Spellings of 169.254.169.254 the page uses, recognised independently of the classifier.
    const metadataSpelled = urls.filter((u) =>
      /169\.254\.169\.254|2852039166|0xa9fea9fe|a9fe:a9fe|0251\.0376|0xA9\.0xFE|169-254-169-254|425\.510|7147006462|metadata\.google\.internal/i.test(
        u,
      ),
    );
    assert.ok(metadataSpelled.length >= 5, `found ${metadataSpelled.length}`);
    const missed = metadataSpelled.filter((u) => verdictOf(classify(u)) !== 'metadata');
    assert.deepEqual(missed, []);
  });
});
