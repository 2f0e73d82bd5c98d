import { sanitizeField } from '../adapters/sinks/sanitize.ts';
import type { Finding } from '../core/model/finding.ts';
import { SEVERITIES, type Severity } from '../core/model/severity.ts';
import { Masker } from '../core/secrets/masker.ts';

/** Per client: repeated attempts grouped for the summary (each line still has its own finding). */
export interface ClientGroup {
  ip: string;
  first?: string;
  last?: string;
  count: number;
  maxSeverity: Severity;
  techniques: Set<string>;
  providers: Set<string>;
  outcomes: Set<string>;
}

const MAX_CLIENTS = 10_000;

/** What the summary on stderr reports. Bounded whatever the input size. */
export class ScanStats {
  inputs = 0;
  inputsFailed: string[] = [];
  linesRead = 0;
  bytesRead = 0;
  linesParsed = 0;
  skipped = new Map<string, number>();
  notes = new Map<string, number>();
  formats = new Map<string, number>();
  findings = 0;
  bySeverity = new Map<Severity, number>();
  byProvider = new Map<string, number>();
  byRule = new Map<string, number>();
  clients = new Map<string, ClientGroup>();
  clientsDropped = 0;
  /** The signal that stopped the scan, if one did. */
  interruptedBy: string | undefined;
  /** Inputs a stop left unread, or read in part ("a.log (after line 120)"). */
  notRead: string[] = [];
  /** Inputs whose reading broke off in the middle (truncated gzip, a read error): what was read before counts. */
  inputsCut: Array<{ file: string; message: string }> = [];

  skip(reason: string, n = 1): void {
    this.skipped.set(reason, (this.skipped.get(reason) ?? 0) + n);
  }

  note(what: string, n = 1): void {
    this.notes.set(what, (this.notes.get(what) ?? 0) + n);
  }

  get skippedTotal(): number {
    let n = 0;
    for (const v of this.skipped.values()) n += v;
    return n;
  }

  add(f: Finding): void {
    this.findings++;
    this.bySeverity.set(f.severity, (this.bySeverity.get(f.severity) ?? 0) + 1);
    this.byRule.set(f.rule.id, (this.byRule.get(f.rule.id) ?? 0) + 1);
    if (f.provider) this.byProvider.set(f.provider, (this.byProvider.get(f.provider) ?? 0) + 1);
    const ip = f.client?.ip;
    if (!ip) return;
    let g = this.clients.get(ip);
    if (!g) {
      if (this.clients.size >= MAX_CLIENTS) {
        this.clientsDropped++;
        return;
      }
      g = { ip, count: 0, maxSeverity: f.severity, techniques: new Set(), providers: new Set(), outcomes: new Set() };
      this.clients.set(ip, g);
    }
    g.count++;
    if (SEVERITIES.indexOf(f.severity) > SEVERITIES.indexOf(g.maxSeverity)) g.maxSeverity = f.severity;
    if (f.time) {
      if (!g.first || f.time < g.first) g.first = f.time;
      if (!g.last || f.time > g.last) g.last = f.time;
    }
    for (const t of f.transforms ?? []) if (g.techniques.size < 20) g.techniques.add(t);
    if ((f.transforms ?? []).length === 0 && f.verdict)
      g.techniques.add(f.verdict === 'metadata' ? 'plain' : 'internal');
    if (f.provider) g.providers.add(f.provider);
    if (f.outcome) g.outcomes.add(f.outcome);
  }

  /** The summary as text for stderr. */
  render(elapsedMs: number): string {
    const mib = this.bytesRead / (1 << 20);
    const secs = Math.max(elapsedMs, 1) / 1000;
    const lines: string[] = [];
    lines.push(
      `imdsguard scan: ${this.inputs} input(s), ${this.linesRead} lines (${mib.toFixed(1)} MiB) in ${secs.toFixed(2)} s — ${(mib / secs).toFixed(1)} MiB/s, ${Math.round(this.linesRead / secs)} lines/s`,
    );
    if (this.formats.size > 0)
      lines.push(`  formats: ${[...this.formats].map(([k, v]) => `${k} ${v}`).join(', ')} (lines parsed)`);
    if (this.interruptedBy)
      lines.push(
        `  interrupted by ${this.interruptedBy}${this.notRead.length > 0 ? `; not read: ${this.notRead.join(', ')}` : ''}`,
      );
    if (this.inputsFailed.length > 0) lines.push(`  inputs not read: ${this.inputsFailed.join(', ')}`);
    if (this.inputsCut.length > 0) lines.push(`  inputs read in part: ${this.inputsCut.map((c) => c.file).join(', ')}`);
    lines.push(
      `  lines skipped: ${this.skippedTotal}${this.skipped.size > 0 ? ` (${[...this.skipped].map(([k, v]) => `${k}: ${v}`).join('; ')})` : ''}`,
    );
    if (this.notes.size > 0) lines.push(`  notes: ${[...this.notes].map(([k, v]) => `${k}: ${v}`).join('; ')}`);
    const sev = SEVERITIES.slice()
      .reverse()
      .filter((s) => this.bySeverity.has(s))
      .map((s) => `${s} ${this.bySeverity.get(s)}`);
    lines.push(`  findings: ${this.findings}${sev.length > 0 ? ` (${sev.join(', ')})` : ''}`);
    if (this.byProvider.size > 0)
      lines.push(`  by provider: ${[...this.byProvider].map(([k, v]) => `${k} ${v}`).join(', ')}`);
    const groups = [...this.clients.values()].sort((a, b) => b.count - a.count);
    if (groups.length > 0) {
      lines.push('  by client:');
      // Every value here comes from a log line: one with a line feed in it must not start a line of its own.
      const masker = new Masker();
      const f = (v: string) => sanitizeField(v, masker);
      for (const g of groups.slice(0, 20)) {
        lines.push(
          `    ${f(g.ip)}: ${g.count} finding(s), max ${g.maxSeverity}, ${f([...g.outcomes].join('/'))}, ${f(g.first ?? '?')} … ${f(g.last ?? '?')}, techniques: ${f([...g.techniques].join(', '))}`,
        );
      }
      if (groups.length > 20) lines.push(`    … and ${groups.length - 20} more client(s)`);
    }
    return `${lines.join('\n')}\n`;
  }
}
