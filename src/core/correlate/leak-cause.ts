import type { Finding } from '../model/finding.ts';

/** What the correlator reads of an SSRF finding (a finding, or the few fields of one a caller keeps). */
export type ObservedRequest = Pick<Finding, 'id' | 'time' | 'verdict' | 'outcome' | 'client'> & {
  origin: { file?: string; line?: number };
  target?: { raw: string; decoded: string; path_class?: string };
};

/** What a leak finding needs from the request that most likely caused it. */
export interface LeakCause {
  file?: string;
  line?: number;
  finding_id: string;
  note: string;
}

interface Seen {
  id: string;
  file?: string;
  line?: number;
  timeMs?: number;
  pathClass?: string;
  outcome?: string;
  target: string;
}

export interface LeakCauseOptions {
  /** How long before a leak a request may have caused it. Default 10 minutes. */
  windowMs?: number;
  /** Without times on both sides: how many lines before the leak, in the same file. Default 2000. */
  windowLines?: number;
  /** SSRF findings remembered per client. Default 32. */
  perClient?: number;
  /** Clients remembered. Default 50 000 (oldest forgotten first). */
  clients?: number;
}

/** `a` is before `b` in file, line and id: a tie-break that does not depend on the order findings were seen in. */
function earlierPlace(a: Seen, b: Seen): boolean {
  const fa = a.file ?? '';
  const fb = b.file ?? '';
  if (fa !== fb) return fa < fb;
  const la = a.line ?? 0;
  const lb = b.line ?? 0;
  if (la !== lb) return la < lb;
  return a.id < b.id;
}

const CLASS_RANK: Record<string, number> = { credentials: 3, token: 2, identity: 1 };

/**
 * Which SSRF request most likely caused a credential leak: the same client asked a metadata service, through the
 * application, for a credential shortly before its secret showed up. Bounded state: the last few metadata SSRF
 * findings per client. Time is a value taken from the findings.
 */
export class LeakCauseCorrelator {
  private readonly byClient = new Map<string, Seen[]>();
  private readonly windowMs: number;
  private readonly windowLines: number;
  private readonly perClient: number;
  private readonly clients: number;

  constructor(opts: LeakCauseOptions = {}) {
    this.windowMs = opts.windowMs ?? 10 * 60_000;
    this.windowLines = opts.windowLines ?? 2000;
    this.perClient = opts.perClient ?? 32;
    this.clients = opts.clients ?? 50_000;
  }

  /** Remember a finding if it is a metadata SSRF with a client address. */
  observe(f: ObservedRequest): void {
    if (f.verdict !== 'metadata' || !f.client?.ip) return;
    const ip = f.client.ip;
    let list = this.byClient.get(ip);
    if (!list) {
      if (this.byClient.size >= this.clients) {
        const oldest = this.byClient.keys().next().value;
        if (oldest !== undefined) this.byClient.delete(oldest);
      }
      list = [];
      this.byClient.set(ip, list);
    }
    const t = f.time ? Date.parse(f.time) : Number.NaN;
    list.push({
      id: f.id,
      ...(f.origin.file !== undefined ? { file: f.origin.file } : {}),
      ...(f.origin.line !== undefined ? { line: f.origin.line } : {}),
      ...(Number.isFinite(t) ? { timeMs: t } : {}),
      ...(f.target?.path_class ? { pathClass: f.target.path_class } : {}),
      ...(f.outcome ? { outcome: f.outcome } : {}),
      target: f.target?.decoded ?? f.target?.raw ?? '',
    });
    if (list.length > this.perClient) list.shift();
  }

  /** The request most likely to have caused a leak seen from `clientIp` at `time` (RFC 3339) in `file`:`line`. */
  cause(leak: { clientIp?: string; time?: string; file?: string; line?: number }): LeakCause | undefined {
    if (!leak.clientIp) return undefined;
    const list = this.byClient.get(leak.clientIp);
    if (!list) return undefined;
    const t = leak.time ? Date.parse(leak.time) : Number.NaN;
    let best: { s: Seen; score: number; gap: string } | undefined;
    for (const s of list) {
      let gap: string;
      let recency: number;
      if (Number.isFinite(t) && s.timeMs !== undefined) {
        const d = t - s.timeMs;
        // A second of slack: log lines of one request and its follow-up can share a timestamp or be reordered.
        if (d < -1000 || d > this.windowMs) continue;
        gap = `${Math.max(0, Math.round(d / 1000))} s earlier`;
        recency = 1 - Math.max(0, d) / this.windowMs;
      } else if (s.file !== undefined && s.file === leak.file && s.line !== undefined && leak.line !== undefined) {
        const d = leak.line - s.line;
        if (d < 0 || d > this.windowLines) continue;
        gap = `${d} lines earlier`;
        recency = 1 - d / this.windowLines;
      } else continue;
      const score = (CLASS_RANK[s.pathClass ?? ''] ?? 0) * 10 + (s.outcome === 'likely-success' ? 5 : 0) + recency;
      // Equal scores go to the earlier place in the logs, not to whichever log a parallel scan read first.
      if (!best || score > best.score || (score === best.score && earlierPlace(s, best.s))) best = { s, score, gap };
    }
    if (!best) return undefined;
    const where =
      best.s.file !== undefined ? ` (${best.s.file}${best.s.line !== undefined ? `:${best.s.line}` : ''})` : '';
    return {
      ...(best.s.file !== undefined ? { file: best.s.file } : {}),
      ...(best.s.line !== undefined ? { line: best.s.line } : {}),
      finding_id: best.s.id,
      note: `most likely cause: SSRF to ${best.s.target.slice(0, 200)} by the same client ${best.gap}${where}`,
    };
  }
}
