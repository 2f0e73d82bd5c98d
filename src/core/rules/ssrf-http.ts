import { type ClassifyContext, classify } from '../classify.ts';
import { forwardedHosts, headerKey, isForwardedHostField } from '../decode/forwarded.ts';
import { ATTACK } from '../model/attack.ts';
import type { HttpEvent } from '../model/event.ts';
import { type Finding, makeFinding } from '../model/finding.ts';
import type { MetadataHit, Verdict } from '../model/hit.ts';
import { maxSeverity, raiseSeverity, type Severity, severityRank } from '../model/severity.ts';
import type { LineInput, LineRule, PlaceMarks } from './line-rule.ts';
import { inferOutcome } from './outcome.ts';

export const SSRF_METADATA_RULE = { id: 'ssrf-metadata', name: 'SSRF attempt against a cloud metadata service' };
export const SSRF_INTERNAL_RULE = { id: 'ssrf-internal', name: 'SSRF attempt against an internal address' };

/**
 * One place in a request an attack can sit, and how to read it. `metadataOnly`: places where an internal address is
 * normal traffic (a Host of `localhost`, a Referer from a dev server), so only a metadata target counts there.
 */
interface Place {
  field: string;
  value: string;
  ctx: ClassifyContext;
  metadataOnly: boolean;
}

const SKIP_EXTRA = new Set(['action']);

/**
 * A recorded `Forwarded` header (RFC 7239), by its field's name or, for HAProxy's unnamed captures, by its shape: its
 * `host=` values are read as hosts, and nothing else in it is (`for=` names the client, not a destination). Null when
 * the field is not one, or its value does not parse as one (then it is read as text).
 */
function forwardedPlaces(field: string, value: string): Place[] | null {
  if (headerKey(field) !== 'forwarded' && !field.startsWith('captured_')) return null;
  const hosts = forwardedHosts(value);
  if (!hosts) return null;
  return hosts.map((h) => ({ field, value: h, ctx: { kind: 'host' }, metadataOnly: true }));
}

/** Every place in the event that can carry an attack, in the order findings should prefer them. */
export function placesOf(ev: HttpEvent): Place[] {
  const out: Place[] = [];
  if (ev.target) out.push({ field: 'target', value: ev.target, ctx: { kind: 'target' }, metadataOnly: false });
  for (const [k, v] of Object.entries(ev.extra ?? {})) {
    if (SKIP_EXTRA.has(k) || !v) continue;
    if (k === 'proxy_url' || k === 'redirect_url')
      out.push({ field: k, value: v, ctx: { kind: 'url' }, metadataOnly: false });
    else if (k === 'sni') out.push({ field: k, value: v, ctx: { kind: 'host' }, metadataOnly: true });
    else if (k === 'trailing') out.push({ field: k, value: v, ctx: {}, metadataOnly: true });
    else {
      const fw = forwardedPlaces(k, v);
      if (fw) {
        out.push(...fw);
        continue;
      }
      if (isForwardedHostField(k)) out.push({ field: k, value: v, ctx: { kind: 'host' }, metadataOnly: true });
      out.push({ field: k, value: v, ctx: { field: k }, metadataOnly: false });
    }
  }
  if (ev.body) out.push({ field: 'body', value: ev.body, ctx: {}, metadataOnly: false });
  if (ev.host) out.push({ field: 'host', value: ev.host, ctx: { kind: 'host' }, metadataOnly: true });
  if (ev.referer) out.push({ field: 'referer', value: ev.referer, ctx: { field: 'referer' }, metadataOnly: true });
  for (const [k, v] of Object.entries(ev.headers ?? {})) {
    if (!v) continue;
    const fw = forwardedPlaces(k, v);
    if (fw) {
      out.push(...fw);
      continue;
    }
    // HAProxy captured headers: one of them is usually Host, so each is read as a Host and as text.
    if ((k.startsWith('captured_') || isForwardedHostField(k)) && !/[\s/]/.test(v))
      out.push({ field: k, value: v, ctx: { kind: 'host' }, metadataOnly: true });
    out.push({ field: k, value: v, ctx: { field: k }, metadataOnly: true });
  }
  // The User-Agent is not read: no server fetches it, and browser versions (`Windows NT 10.0`) look like addresses.
  return out;
}

interface Located {
  hit: MetadataHit;
  place: Place;
}

function hitRank(h: MetadataHit): number {
  return severityRank(h.sensitivity) * 10 + h.transforms.length;
}

/**
 * Field values (with their context) that `classify` found nothing in. It is pure, so the answer stands; logs repeat
 * the same requests, and a value that passes the prefilter without being an attack (`?page=0`) would otherwise be
 * decoded in full on every line. Bounded: cleared when full.
 */
export class CleanValues {
  private readonly seen = new Set<string>();
  private readonly max: number;
  constructor(max = 8192) {
    this.max = max;
  }
  private static key(value: string, ctx: ClassifyContext): string {
    return `${ctx.kind ?? ''}\u0000${ctx.field ?? ''}\u0000${value}`;
  }
  has(value: string, ctx: ClassifyContext): boolean {
    return this.seen.has(CleanValues.key(value, ctx));
  }
  add(value: string, ctx: ClassifyContext): void {
    if (value.length > 512) return;
    if (this.seen.size >= this.max) this.seen.clear();
    this.seen.add(CleanValues.key(value, ctx));
  }
}

/** Every hit in the event, by verdict, best first. */
export function hitsOf(
  ev: HttpEvent,
  fieldFilter?: (text: string) => boolean,
  clean?: CleanValues,
): Map<Verdict, Located[]> {
  const by = new Map<Verdict, Located[]>();
  for (const place of placesOf(ev)) {
    if (fieldFilter && !fieldFilter(place.value)) continue;
    if (clean?.has(place.value, place.ctx)) continue;
    const hits = classify(place.value, place.ctx);
    if (hits.length === 0) clean?.add(place.value, place.ctx);
    for (const hit of hits) {
      if (place.metadataOnly && hit.verdict !== 'metadata') continue;
      const list = by.get(hit.verdict) ?? [];
      list.push({ hit, place });
      by.set(hit.verdict, list);
    }
  }
  for (const list of by.values()) list.sort((a, b) => hitRank(b.hit) - hitRank(a.hit));
  return by;
}

function severityOf(verdict: Verdict, hit: MetadataHit, success: boolean): Severity {
  // Both readings plausible (a URL among words, a search for a URL): the severity follows the confidence of a coin
  // toss and stays under the default --fail-on (medium), whatever the path or the response would otherwise earn.
  if (hit.ambiguity) return 'low';
  // A Kubernetes API server, kubelet or etcd holds cluster secrets and runs commands: an attempt on one is a finding
  // under the default --fail-on, where a request to some other internal address (a dev server's localhost) is not.
  if (verdict === 'internal') {
    if (hit.internalKind === 'kubernetes') return success ? 'high' : 'medium';
    return success ? 'medium' : 'low';
  }
  if (success) return 'critical';
  // An attempt is at least medium and at most high: critical is kept for evidence that it worked.
  let s = maxSeverity('medium', hit.sensitivity);
  if (hit.transforms.length > 0) s = raiseSeverity(s);
  return severityRank(s) > severityRank('high') ? 'high' : s;
}

function title(verdict: Verdict, hit: MetadataHit, success: boolean): string {
  if (verdict === 'internal') {
    return `${success ? 'Likely successful' : 'Attempted'} request to an internal address (${hit.endpoint.canonical}${hit.internalKind ? `, ${hit.internalKind}` : ''}) through the application`;
  }
  const who = hit.provider && hit.provider !== 'multi' ? `${hit.provider.toUpperCase()} ` : '';
  return `${success ? 'Likely successful' : 'Attempted'} SSRF to the ${who}metadata service (${hit.pathClass} path${hit.transforms.length > 0 ? `, obfuscated: ${hit.transforms.join(', ')}` : ''})`;
}

const REMEDIATION = {
  metadata:
    'Find the endpoint that fetches user-supplied URLs and validate destinations after DNS resolution; require IMDSv2 with a hop limit of 1 (AWS), and block the metadata address from application workloads. If the outcome is likely-success, rotate the instance role credentials and review their use in CloudTrail.',
  internal:
    'Find the endpoint that fetches user-supplied URLs and restrict outbound destinations to an allow-list; internal services reachable this way can leak data or credentials.',
};

/** Findings for one parsed request: one per verdict, the best hit first, the others as evidence. */
export function ssrfFindings(
  ev: HttpEvent,
  where: { file: string; line: number },
  fieldFilter?: (text: string) => boolean,
  clean?: CleanValues,
): Finding[] {
  const out: Finding[] = [];
  const by = hitsOf(ev, fieldFilter, clean);
  for (const verdict of ['metadata', 'internal'] as const) {
    const list = by.get(verdict);
    if (!list || list.length === 0) continue;
    const { hit, place } = list[0]!;
    const o = inferOutcome(hit.pathClass, ev.status, ev.bytes);
    const success = o.outcome === 'likely-success';
    const rule = verdict === 'metadata' ? SSRF_METADATA_RULE : SSRF_INTERNAL_RULE;
    // Both readings plausible (a full URL among words or in a query): kept, but with the confidence of a coin toss.
    const confidence = hit.ambiguity
      ? 0.5
      : Math.min(
          0.99,
          (verdict === 'metadata' ? (hit.context === 'bare' ? 0.7 : 0.9) : 0.6) +
            (hit.transforms.length > 0 ? 0.05 : 0),
        );
    const others = list
      .slice(1)
      .map((x) => ({ field: x.place.field, decoded: x.hit.decoded, transforms: x.hit.transforms }));
    out.push(
      makeFinding({
        rule,
        severity: severityOf(verdict, hit, success),
        confidence,
        attack: [ATTACK.cloudInstanceMetadataApi, ATTACK.exploitPublicFacingApplication],
        title: title(verdict, hit, success),
        remediation: REMEDIATION[verdict],
        origin: { file: where.file, line: where.line, ...(ev.origin.format ? { format: ev.origin.format } : {}) },
        ...(ev.time ? { time: ev.time } : {}),
        verdict,
        provider: hit.provider,
        service: hit.service,
        target: {
          raw: place.value,
          decoded: hit.decoded,
          host: hit.endpoint.canonical,
          path: hit.path,
          path_class: hit.pathClass,
        },
        transforms: hit.transforms,
        outcome: o.outcome,
        outcome_reason: o.reason,
        ...(ev.clientIp ? { client: { ip: ev.clientIp } } : {}),
        http: {
          ...(ev.method ? { method: ev.method } : {}),
          ...(ev.status !== undefined ? { status: ev.status } : {}),
          ...(ev.bytes !== undefined ? { bytes: ev.bytes } : {}),
          field: place.field,
        },
        evidence: {
          endpoint: hit.endpoint,
          context: hit.context,
          ...(hit.ambiguity ? { ambiguity: hit.ambiguity } : {}),
          ...(hit.internalKind ? { internal_kind: hit.internalKind } : {}),
          ...(hit.disagreements.length > 0 ? { disagreements: hit.disagreements } : {}),
          ...(others.length > 0 ? { also: others.slice(0, 5) } : {}),
          ...(hit.doc ? { doc: hit.doc } : {}),
        },
        idEvidence: [rule.id, where.file, where.line, hit.decoded],
      }),
    );
  }
  return out;
}

export interface SsrfRuleOptions {
  /** Cheap test on a whole line (or a chunk of lines): false only when no field of any line in it can be flagged. */
  lineFilter?: (text: string) => boolean;
  /** Cheap test on one field before the full decoder runs on it (the core prefilter). */
  fieldFilter?: (text: string) => boolean;
  /** `fieldFilter` split for whole chunks (`LineRule.placeMarks`). */
  fieldMarks?: PlaceMarks;
}

/** The SSRF rule over log lines. */
export function ssrfLineRule(opts: SsrfRuleOptions = {}): LineRule {
  const { lineFilter, fieldFilter, fieldMarks } = opts;
  const clean = new CleanValues();
  return {
    id: 'ssrf',
    mayMatch: lineFilter ?? (() => true),
    ...(fieldFilter ? { placeFilter: fieldFilter } : {}),
    ...(fieldFilter && fieldMarks ? { placeMarks: fieldMarks } : {}),
    evaluate(input: LineInput): Finding[] {
      if (!input.event) return [];
      return ssrfFindings(input.event, input, fieldFilter, clean);
    },
  };
}
