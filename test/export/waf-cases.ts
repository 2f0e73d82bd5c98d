/**
 * Labelled HTTP requests for measuring exported WAF rules next to the classifier: the OWASP CRS SSRF regression
 * cases and URL list (../shared/corpora/crs), and our own corpus (test/corpus/ssrf-corpus.ts: every obfuscation
 * family, hard benign look-alikes, and generated ordinary traffic).
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { classify, verdictOf } from '../../src/core/classify.ts';
import type { MetadataHit } from '../../src/core/model/hit.ts';
import { CORPORA } from '../corpora/shared.ts';
import { buildBenign, buildBenignTraffic, buildCompositions, buildCorpus } from '../corpus/ssrf-corpus.ts';

export type Label = 'metadata' | 'internal' | 'benign';

export interface WafCase {
  source: 'crs' | 'crs-ssrf.data' | 'own' | 'own-benign' | 'own-traffic';
  family: string;
  label: Label;
  method: string;
  target: string;
  headers: Record<string, string>;
  body?: string;
  /** The classifier's verdict on the same request. */
  classifier: 'metadata' | 'internal' | 'none';
}

/**
 * The CRS cases' labels, by rule file and test id, as read and justified in test/corpora/crs.test.ts (kept in
 * step with it): which requests address a metadata service, and which aim at another internal target.
 */
const CRS_METADATA: Record<number, number[]> = {
  934110: [1, 2, 3, 4, 5, 6, 7, 8, 10],
  934120: [
    1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 21, 22, 24, 35, 36, 39, 43, 44, 45, 46, 47, 48,
    49, 53,
  ],
};
const CRS_INTERNAL: Record<number, number[]> = {
  934110: [9],
  934120: [20, 23, 25, 26, 27, 28, 29, 33, 34, 37, 38, 40, 41, 52],
  934190: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 21],
};
const SKIP_HEADERS = new Set([
  'host',
  'user-agent',
  'accept',
  'accept-encoding',
  'accept-language',
  'accept-charset',
  'content-length',
  'connection',
]);

/** Percent-encode what cannot travel in a request line (controls, spaces, non-ASCII, quotes, `#`); backslashes stay. */
export function requestLineSafe(target: string): string {
  return [...new TextEncoder().encode(target)]
    .map((b) =>
      b <= 0x20 ||
      b >= 0x7f ||
      b === 0x22 ||
      b === 0x23 ||
      b === 0x3c ||
      b === 0x3e ||
      b === 0x60 ||
      b === 0x7b ||
      b === 0x7d ||
      b === 0x7c ||
      b === 0x5e
        ? `%${b.toString(16).padStart(2, '0').toUpperCase()}`
        : String.fromCharCode(b),
    )
    .join('');
}

function verdict(hits: MetadataHit[]): WafCase['classifier'] {
  return verdictOf(hits);
}

/** A corpus text as the request it stands for. */
function fromText(text: string): Pick<WafCase, 'method' | 'target' | 'headers' | 'body'> {
  if (text.startsWith('{'))
    return { method: 'POST', target: '/api/events', headers: { 'content-type': 'application/json' }, body: text };
  if (text.startsWith('<'))
    return { method: 'POST', target: '/api/feed', headers: { 'content-type': 'application/xml' }, body: text };
  const abs = /^(GET|POST|PUT) (\S+) HTTP\/1\.[01]$/.exec(text);
  if (abs) return { method: abs[1]!, target: requestLineSafe(abs[2]!), headers: {} };
  if (text.startsWith('/')) return { method: 'GET', target: requestLineSafe(text), headers: {} };
  return { method: 'GET', target: `/fetch?url=${encodeURIComponent(text)}`, headers: {} };
}

export function crsCases(): WafCase[] {
  const dir = join(CORPORA, 'crs');
  if (!existsSync(dir)) return [];
  const out: WafCase[] = [];
  for (const f of readdirSync(dir)
    .filter((x) => x.endsWith('.yaml'))
    .sort()) {
    const doc = parse(readFileSync(join(dir, f), 'utf8')) as {
      rule_id: number;
      tests: Array<{
        test_id: number;
        stages: Array<{ input: { method?: string; uri?: string; data?: string; headers?: Record<string, string> } }>;
      }>;
    };
    for (const t of doc.tests) {
      const label: Label = CRS_METADATA[doc.rule_id]?.includes(t.test_id)
        ? 'metadata'
        : CRS_INTERNAL[doc.rule_id]?.includes(t.test_id)
          ? 'internal'
          : 'benign';
      for (const st of t.stages) {
        const i = st.input;
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(i.headers ?? {}))
          if (!SKIP_HEADERS.has(k.toLowerCase())) headers[k] = String(v);
        const hits: MetadataHit[] = [];
        if (i.uri) hits.push(...classify(i.uri, { kind: 'target' }));
        if (i.data) hits.push(...classify(i.data));
        for (const [k, v] of Object.entries(headers))
          if (k.toLowerCase() !== 'content-type') hits.push(...classify(v, { field: k }));
        const c: WafCase = {
          source: 'crs',
          family: `${doc.rule_id}-${t.test_id}`,
          label,
          method: i.method ?? 'GET',
          target: requestLineSafe(i.uri ?? '/'),
          headers,
          classifier: verdict(hits),
        };
        if (i.data) c.body = i.data;
        out.push(c);
      }
    }
  }
  // The literal URL list, sent as a parameter value.
  const METADATA_SECTIONS =
    /^#+ *(AWS|Common evasion|AWS ECS|Google|Digital Ocean|Packetcloud|Azure|OpenStack|HP Helion|Oracle|Alibaba|Rancher|Enclosed alphanumerics|http:\/\/169\.254\.169\.254)/i;
  const OTHER_SECTIONS =
    /^#+ *(http:\/\/127|http:\/\/192\.168|IPv6 base|localhost bypass|Local Docker|Kubernetes etcd|Java only|Other PL1|AWS Lambda)/i;
  let section: boolean | null = null;
  for (const raw of readFileSync(join(dir, 'ssrf.data'), 'utf8').split('\n')) {
    const line = raw.trim();
    if (line.startsWith('#')) {
      if (OTHER_SECTIONS.test(line)) section = false;
      else if (METADATA_SECTIONS.test(line)) section = true;
      continue;
    }
    if (!line || section === null) continue;
    out.push({
      source: 'crs-ssrf.data',
      family: 'ssrf.data',
      label: section ? 'metadata' : 'internal',
      method: 'GET',
      target: `/fetch?url=${encodeURIComponent(line)}`,
      headers: {},
      classifier: verdict(classify(line)),
    });
  }
  return out;
}

export function ownCases(trafficCount = 3000): WafCase[] {
  const out: WafCase[] = [];
  for (const c of [...buildCorpus(), ...buildCompositions()]) {
    out.push({
      source: 'own',
      family: c.family,
      label: 'metadata',
      ...fromText(c.text),
      classifier: verdict(classify(c.text)),
    });
  }
  for (const c of buildBenign()) {
    const label: Label = c.family === 'internal-target' ? 'internal' : 'benign';
    out.push({
      source: 'own-benign',
      family: c.family,
      label,
      ...fromText(c.text),
      classifier: verdict(classify(c.text)),
    });
  }
  for (const c of buildBenignTraffic(trafficCount)) {
    out.push({
      source: 'own-traffic',
      family: c.family,
      label: 'benign',
      ...fromText(c.text),
      classifier: verdict(classify(c.text)),
    });
  }
  return out;
}

export interface Rates {
  metadata: number;
  detectedByWaf: number;
  detectedByClassifier: number;
  benign: number;
  falseAlarmsWaf: number;
  falseAlarmsClassifier: number;
}

/** Detection over metadata cases and false alarms over benign ones; internal-target cases count in neither. */
export function rates(cases: WafCase[], blocked: (c: WafCase) => boolean): Rates {
  const r: Rates = {
    metadata: 0,
    detectedByWaf: 0,
    detectedByClassifier: 0,
    benign: 0,
    falseAlarmsWaf: 0,
    falseAlarmsClassifier: 0,
  };
  for (const c of cases) {
    if (c.label === 'metadata') {
      r.metadata++;
      if (blocked(c)) r.detectedByWaf++;
      if (c.classifier === 'metadata') r.detectedByClassifier++;
    } else if (c.label === 'benign') {
      r.benign++;
      if (blocked(c)) r.falseAlarmsWaf++;
      if (c.classifier === 'metadata') r.falseAlarmsClassifier++;
    }
  }
  return r;
}

const pct = (n: number, d: number) => (d === 0 ? 'n/a' : `${((100 * n) / d).toFixed(1)}%`);

export function formatRates(name: string, r: Rates, engine: string): string {
  return `${name.padEnd(24)} detection ${engine} ${pct(r.detectedByWaf, r.metadata).padStart(6)} (${r.detectedByWaf}/${r.metadata})  classifier ${pct(r.detectedByClassifier, r.metadata).padStart(6)}   false alarms ${engine} ${pct(r.falseAlarmsWaf, r.benign).padStart(6)} (${r.falseAlarmsWaf}/${r.benign})  classifier ${pct(r.falseAlarmsClassifier, r.benign).padStart(6)} (${r.falseAlarmsClassifier}/${r.benign})`;
}
