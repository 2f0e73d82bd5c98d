/** The OWASP CRS go-ftw cases, their labels, and how to read them (shared by the classifier and scan tests). */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { CORPORA } from './shared.ts';

export interface FtwStage {
  input: { method?: string; uri?: string; data?: string; headers?: Record<string, string> };
}
export interface FtwFile {
  rule_id: number;
  tests: Array<{ test_id: number; desc?: string; stages: FtwStage[] }>;
}

/**
 * Which go-ftw cases address a cloud metadata service. Labelled by reading each request (the rule file and test id):
 * 934110 lists cloud metadata URLs (its tests 6–8 are CRS's own documented misses, still metadata requests);
 * 934120 spells 169.254.169.254 many ways (tests 12–19 are CRS's scheme-less misses), while its loopback, public,
 * link-local-but-not-metadata and generic IPv6 cases are not metadata.
 */
export const CRS_METADATA: Record<number, Set<number>> = {
  931100: new Set(),
  934110: new Set([1, 2, 3, 4, 5, 6, 7, 8, 10]),
  934120: new Set([
    1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 21, 22, 24, 35, 36, 39, 43, 44, 45, 46, 47, 48,
    49, 53,
  ]),
  934190: new Set(),
};

/** Cases aimed at other internal targets (loopback, container host, Kubernetes, link-local): the `internal` verdict. */
export const CRS_INTERNAL: Record<number, Set<number>> = {
  931100: new Set(),
  934110: new Set([9]),
  934120: new Set([20, 23, 25, 26, 27, 28, 29, 33, 34, 37, 38, 40, 41, 52]),
  934190: new Set([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 21]),
};

/** Headers the go-ftw harness sets on every request: not part of the attack. */
export const HARNESS_HEADERS = new Set([
  'host',
  'user-agent',
  'accept',
  'accept-encoding',
  'accept-language',
  'accept-charset',
  'content-type',
]);

/** Every rule file of the corpus, parsed. */
export function loadCrsFiles(): FtwFile[] {
  const dir = join(CORPORA, 'crs');
  return readdirSync(dir)
    .filter((f) => f.endsWith('.yaml'))
    .sort()
    .map((f) => parse(readFileSync(join(dir, f), 'utf8')) as FtwFile);
}
