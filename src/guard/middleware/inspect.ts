/**
 * Inspect one incoming request for SSRF payloads aimed at metadata services: the request target (path and query),
 * the headers an attacker controls that servers and proxies fetch or trust (Host, X-Forwarded-Host, Referer, …),
 * and a parsed JSON or form body. The same core reading as `imdsguard scan` (hitsOf), so a request the middleware
 * lets through and the access log line it leaves behind get the same verdict.
 */
import { randomUUID } from 'node:crypto';
import { classify } from '../../core/classify.ts';
import { ATTACK } from '../../core/model/attack.ts';
import type { HttpEvent } from '../../core/model/event.ts';
import { type Finding, makeFinding } from '../../core/model/finding.ts';
import type { MetadataHit } from '../../core/model/hit.ts';
import { maxSeverity, raiseSeverity, severityRank } from '../../core/model/severity.ts';
import { mayAddressMetadata } from '../../core/prefilter.ts';
import { hitsOf } from '../../core/rules/ssrf-http.ts';
import { maskRecord, maskText } from '../../core/secrets/masker.ts';
import type { GuardMode } from '../options.ts';

export const MIDDLEWARE_RULE = {
  id: 'middleware-ssrf-metadata',
  name: 'SSRF payload for a metadata service in an incoming request',
} as const;

/** Headers read besides Host and Referer: the ones proxies and apps use to build URLs they then fetch. */
export const INSPECTED_HEADERS = [
  'x-forwarded-host',
  'x-forwarded-server',
  'x-host',
  'x-original-url',
  'x-rewrite-url',
  'x-forwarded-for',
  'x-real-ip',
  'forwarded',
  'origin',
  'destination',
  'x-http-destinationurl',
  'x-proxy-url',
  'x-wap-profile',
  'contact',
  'x-callback-url',
] as const;

export interface MiddlewareOptions {
  /** `block` (default, or `IMDSGUARD_GUARD_MODE`) answers 403; `monitor` lets the request through. */
  mode?: GuardMode;
  /** Called with every finding (exceptions swallowed). Without it, findings go to stderr as JSON lines. */
  onFinding?: (f: Finding) => void;
  /** Largest body (bytes of text) inspected; longer bodies are inspected up to this length. Default 64 KiB. */
  maxBodyChars?: number;
}

/** What the adapters extract from their framework's request. */
export interface IncomingRequestView {
  method?: string;
  /** Path and query as received. */
  url: string;
  headers: Record<string, string | string[] | undefined>;
  /** A parsed body (JSON value, form object) or raw text, when the framework has it. */
  body?: unknown;
  clientIp?: string;
}

export interface Inspection {
  requestId: string;
  finding: Finding | null;
  /** True when the request must be refused (block mode and a metadata payload). */
  block: boolean;
}

function header(h: IncomingRequestView['headers'], name: string): string | undefined {
  const v = h[name];
  return Array.isArray(v) ? v.join(', ') : v;
}

/** Every string leaf of a parsed body with the name of its key, depth- and size-bounded. */
function leaves(v: unknown, key: string, out: Array<[string, string]>, budget: { chars: number }, depth = 0): void {
  if (budget.chars <= 0 || depth > 20) return;
  if (typeof v === 'string') {
    const s = v.slice(0, budget.chars);
    budget.chars -= s.length;
    out.push([key, s]);
  } else if (Array.isArray(v)) {
    for (const x of v) leaves(x, key, out, budget, depth + 1);
  } else if (v && typeof v === 'object' && !Buffer.isBuffer(v)) {
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) leaves(x, k, out, budget, depth + 1);
  } else if (Buffer.isBuffer(v)) {
    leaves(v.toString('utf8'), key, out, budget, depth + 1);
  }
}

function severityOf(hit: MetadataHit): Finding['severity'] {
  let s = maxSeverity('medium', hit.sensitivity);
  if (hit.transforms.length > 0) s = raiseSeverity(s);
  return severityRank(s) > severityRank('high') ? 'high' : s;
}

/** Resolve mode once per middleware instance: code option, then `IMDSGUARD_GUARD_MODE`, then block. */
export function middlewareMode(o: MiddlewareOptions): GuardMode {
  if (o.mode) return o.mode;
  const env = process.env.IMDSGUARD_GUARD_MODE;
  if (env === 'monitor' || env === 'block') return env;
  if (env) throw new TypeError(`Cannot use IMDSGUARD_GUARD_MODE "${env}" (expected "block" or "monitor")`);
  return 'block';
}

/** Classify the request and build the finding; the adapters only translate. */
export function inspectRequest(req: IncomingRequestView, mode: GuardMode, o: MiddlewareOptions = {}): Inspection {
  const requestId = randomUUID();
  const headers: Record<string, string> = {};
  for (const name of INSPECTED_HEADERS) {
    const v = header(req.headers, name);
    if (v && mayAddressMetadata(v)) headers[name] = v;
  }
  const ev: HttpEvent = { kind: 'http', origin: { sensor: 'imdsguard-middleware' } };
  if (req.method) ev.method = req.method;
  if (mayAddressMetadata(req.url)) ev.target = req.url;
  const host = header(req.headers, 'host');
  if (host && mayAddressMetadata(host)) ev.host = host;
  const referer = header(req.headers, 'referer');
  if (referer && mayAddressMetadata(referer)) ev.referer = referer;
  if (Object.keys(headers).length > 0) ev.headers = headers;
  if (req.clientIp) ev.clientIp = req.clientIp;

  let best: { hit: MetadataHit; field: string; raw: string } | undefined;
  const metadata = hitsOf(ev).get('metadata');
  if (metadata && metadata.length > 0) {
    const first = metadata[0]!;
    best = { hit: first.hit, field: first.place.field, raw: first.place.value };
  }
  if (!best && req.body !== undefined && req.body !== null) {
    const out: Array<[string, string]> = [];
    leaves(req.body, 'body', out, { chars: o.maxBodyChars ?? 65_536 });
    for (const [key, value] of out) {
      if (!mayAddressMetadata(value)) continue;
      const hit = classify(value, { field: key }).find((h) => h.verdict === 'metadata');
      if (hit) {
        best = { hit, field: `body.${key}`, raw: value };
        break;
      }
    }
  }
  if (!best) return { requestId, finding: null, block: false };

  const { hit, field, raw } = best;
  const block = mode === 'block';
  const path = req.url.split('?')[0] ?? req.url;
  // Masked before anything is cut: a secret cut in two is no longer recognisable.
  const finding = maskRecord(
    makeFinding({
      idEvidence: [MIDDLEWARE_RULE.id, requestId],
      rule: { ...MIDDLEWARE_RULE },
      severity: severityOf(hit),
      confidence: hit.context === 'bare' ? 0.7 : 0.9,
      attack: [ATTACK.cloudInstanceMetadataApi, ATTACK.exploitPublicFacingApplication],
      title: `${block ? 'Refused' : 'Saw'} a request carrying an SSRF payload for the ${hit.provider && hit.provider !== 'multi' ? `${hit.provider.toUpperCase()} ` : ''}metadata service (in ${field})`,
      remediation:
        'Find the code that fetches URLs or hosts taken from this request field and validate destinations after DNS resolution; the in-process guard (imdsguard/guard/register) stops the fetch itself.',
      origin: { sensor: 'imdsguard-middleware' },
      time: new Date().toISOString(),
      verdict: 'metadata',
      provider: hit.provider,
      service: hit.service,
      target: {
        raw: maskText(raw).slice(0, 2048),
        decoded: hit.decoded,
        host: hit.endpoint.canonical,
        path: hit.path,
        path_class: hit.pathClass,
      },
      transforms: hit.transforms,
      outcome: 'attempt',
      outcome_reason: block
        ? 'refused by the middleware before the application ran'
        : 'passed on to the application (monitor mode)',
      ...(req.clientIp ? { client: { ip: req.clientIp } } : {}),
      http: { ...(req.method ? { method: req.method } : {}), path, field },
      decision: block ? 'deny' : 'audit',
      policy_rule: `mode:${mode}`,
      evidence: { request_id: requestId, endpoint: hit.endpoint, context: hit.context },
    }),
  );
  if (o.onFinding) {
    try {
      o.onFinding(finding);
    } catch {
      // A broken callback must not break request handling.
    }
  } else {
    process.stderr.write(`${JSON.stringify(finding)}\n`);
  }
  return { requestId, finding, block };
}

/** The body of a 403: the request id lets an operator find the finding; nothing of the payload is echoed. */
export function refusalBody(requestId: string): string {
  return `${JSON.stringify({ error: 'Forbidden', reason: 'request refused by imdsguard', request_id: requestId })}\n`;
}
