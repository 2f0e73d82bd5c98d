import { type ContextNote, classifyWithContext, verdictOf } from '../core/classify.ts';
import type { MetadataHit, VerdictOrNone } from '../core/model/hit.ts';

/** What `explain` prints for one input. */
export interface ExplainRecord {
  type: 'explain';
  input: string;
  verdict: VerdictOrNone;
  hits: ExplainHit[];
  /**
   * How the text around each metadata or internal reference was read, and why: a fetch `target`, or `prose`, `cidr`,
   * `list`, `query-language`, `token-claim`, `slug`, `source`, `record`; with the outcome (`kept`, `kept-lower-confidence` when both
   * readings are plausible, `dropped`). Empty when the input names nothing.
   */
  context: ContextNote[];
}

export interface ExplainHit {
  verdict: MetadataHit['verdict'];
  provider: string | null;
  service: string | null;
  endpoint: MetadataHit['endpoint'];
  scheme: string | null;
  path: string;
  path_class: MetadataHit['pathClass'];
  sensitivity: MetadataHit['sensitivity'];
  transforms: string[];
  disagreements: string[];
  context: MetadataHit['context'];
  internal_kind?: string;
  decoded: string;
  doc?: string;
}

export function toExplainHit(h: MetadataHit): ExplainHit {
  return {
    verdict: h.verdict,
    provider: h.provider,
    service: h.service,
    endpoint: h.endpoint,
    scheme: h.scheme,
    path: h.path,
    path_class: h.pathClass,
    sensitivity: h.sensitivity,
    transforms: h.transforms,
    disagreements: h.disagreements,
    context: h.context,
    ...(h.internalKind ? { internal_kind: h.internalKind } : {}),
    decoded: h.decoded,
    ...(h.doc ? { doc: h.doc } : {}),
  };
}

/** Explain one input line. */
export function explain(input: string, field?: string): ExplainRecord {
  const { hits, context } = classifyWithContext(input, field ? { field } : {});
  return { type: 'explain', input, verdict: verdictOf(hits), hits: hits.map(toExplainHit), context };
}
