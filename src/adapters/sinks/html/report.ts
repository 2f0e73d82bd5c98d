import { createHash } from 'node:crypto';
import type { Incident } from '../../../core/investigate/incident.ts';
import { STEP_LABEL } from '../../../core/investigate/step.ts';
import type { Finding } from '../../../core/model/finding.ts';
import { SEVERITIES, type Severity, severityRank } from '../../../core/model/severity.ts';
import { escapeHtml as esc } from '../sanitize.ts';
import { REPORT_CSS } from './style.ts';
import { cut, graphSvg, timelineSvg } from './svg.ts';

/** What one report holds: incidents (from `investigate`) or findings (from `scan`, `cloudtrail`, `posture`). */
export interface ReportInput {
  title: string;
  version: string;
  incidents: Incident[];
  findings: Finding[];
  /** Records counted but not listed (beyond the report's limits), per severity. */
  counts: Record<Severity, number>;
  omittedFindings: number;
  omittedIncidents: number;
}

/** Steps listed per incident; the JSON output has every one. */
const STEPS_SHOWN = 200;

/** The CSP hash source of a style block, as browsers compute it (SHA-256 of the exact text between the tags). */
export function styleHash(css: string): string {
  return `sha256-${createHash('sha256').update(css, 'utf8').digest('base64')}`;
}

function badge(sev: string): string {
  return `<span class="badge sev-${esc(sev)}">${esc(sev.toUpperCase())}</span>`;
}

function where(o: { file?: string; line?: number; sensor?: string; event_ids?: string[] } | undefined): string {
  if (!o) return '';
  if (o.file) return `${o.file}${o.line !== undefined ? `:${o.line}` : ''}`;
  if (o.event_ids?.length)
    return `events ${o.event_ids.slice(0, 4).join(', ')}${o.event_ids.length > 4 ? `, … (${o.event_ids.length})` : ''}`;
  if (o.sensor) return `sensor ${o.sensor}`;
  return '';
}

function facts(f: Record<string, string>): string {
  const rows = Object.entries(f)
    .map(([k, v]) => `<dt>${esc(k)}</dt><dd>${esc(cut(v, 600))}</dd>`)
    .join('');
  return rows ? `<dl class="facts">${rows}</dl>` : '';
}

function incidentSection(inc: Incident): string {
  const n = new Map(inc.steps.map((s, i) => [s.finding_id, i + 1]));
  const meta: Array<[string, string]> = [
    ['incident id', inc.id],
    ['confidence', `${inc.confidence} (the weakest link)`],
    ['first seen', inc.first_time ?? 'unknown'],
    ['last seen', inc.last_time ?? 'unknown'],
  ];
  if (inc.clients.length) meta.push(['clients', inc.clients.join(', ')]);
  if (inc.roles.length) meta.push(['roles', inc.roles.join(', ')]);
  if (inc.instances.length) meta.push(['instances', inc.instances.join(', ')]);
  if (inc.providers.length) meta.push(['providers', inc.providers.join(', ')]);
  const steps = inc.steps
    .slice(0, STEPS_SHOWN)
    .map(
      (s, i) =>
        `<tr class="step k-${s.kind}"><td class="num">${i + 1}</td><td class="time">${esc(s.time ?? '—')}</td>` +
        `<td>${esc(STEP_LABEL[s.kind])}</td><td>${badge(s.severity)}</td>` +
        `<td class="text"><div class="step-title">${esc(cut(s.title, 400))}</div>${facts(s.facts)}</td>` +
        `<td class="text where">${esc(cut(where(s.origin), 300))}<div class="fid">finding ${esc(s.finding_id)}<br>read at ${esc(cut(where(s.source), 200))}</div></td></tr>`,
    )
    .join('');
  const more =
    inc.steps.length > STEPS_SHOWN
      ? `<p class="note">${inc.steps.length - STEPS_SHOWN} more step(s) are in the JSON output (<code>--format jsonl --incident ${esc(inc.id)}</code>).</p>`
      : '';
  const links = inc.links
    .slice(0, STEPS_SHOWN * 2)
    .map(
      (l) =>
        `<tr class="${l.confidence < 0.5 ? 'weak' : ''}"><td class="num">#${n.get(l.from) ?? '?'} → #${n.get(l.to) ?? '?'}</td>` +
        `<td>${esc(l.reason)}</td><td class="num">${l.confidence}</td><td class="text">${esc(cut(l.explanation, 400))}</td>` +
        `<td class="text">${l.evidence.map((e) => esc(cut(e, 200))).join('<br>')}</td></tr>`,
    )
    .join('');
  const remediation = inc.remediation
    .map(
      (r) =>
        `<li><strong>${esc(r.title)}</strong><p>${esc(r.why)}</p><pre><code>${r.commands.map((c) => esc(c)).join('\n')}</code></pre></li>`,
    )
    .join('');
  return (
    `<section class="incident sev-${esc(inc.severity)}" id="${esc(inc.id)}">` +
    `<h2>${badge(inc.severity)} ${esc(cut(inc.title, 300))}</h2>` +
    `<dl class="meta">${meta.map(([k, v]) => `<dt>${esc(k)}</dt><dd>${esc(cut(v, 400))}</dd>`).join('')}</dl>` +
    `<h3>Timeline</h3><div class="figure">${timelineSvg(inc)}</div>` +
    `<h3>Chain</h3><div class="figure">${graphSvg(inc)}</div>` +
    `<h3>Steps (${inc.steps.length})</h3><table class="steps"><thead><tr><th>#</th><th>time</th><th>step</th><th>severity</th><th>what</th><th>evidence</th></tr></thead><tbody>${steps}</tbody></table>${more}` +
    (links
      ? `<h3>Links (${inc.links.length})</h3><table class="links"><thead><tr><th>steps</th><th>reason</th><th>confidence</th><th>why</th><th>evidence</th></tr></thead><tbody>${links}</tbody></table>`
      : '<p class="note">A single step: nothing else in the input ties to it.</p>') +
    (remediation ? `<h3>Remediation</h3><ol class="remediation">${remediation}</ol>` : '') +
    '</section>'
  );
}

function findingRow(f: Finding): string {
  const fx: Record<string, string> = {};
  if (f.client?.ip) fx.client = f.client.ip;
  if (f.target) fx.target = f.target.decoded || f.target.raw;
  if (f.target?.raw && f.target.raw !== f.target.decoded) fx['as written'] = f.target.raw;
  if (f.transforms?.length) fx.obfuscation = f.transforms.join(', ');
  if (f.http?.status !== undefined) fx.status = String(f.http.status);
  if (f.http?.bytes !== undefined) fx.bytes = String(f.http.bytes);
  if (f.outcome) fx.outcome = f.outcome_reason ? `${f.outcome}: ${f.outcome_reason}` : f.outcome;
  if (f.secret) fx.secret = `${f.secret.kind} ${f.secret.masked}`;
  if (f.principal) fx.principal = f.principal;
  if (f.resource) fx.resource = `${f.resource.kind} ${f.resource.id}`;
  if (f.process) fx.process = `pid ${f.process.pid} ${f.process.exe ?? ''}`;
  return (
    `<tr><td>${badge(f.severity)}</td><td class="time">${esc(f.time ?? '—')}</td><td>${esc(f.rule?.id ?? '')}</td>` +
    `<td class="text"><div class="step-title">${esc(cut(f.title ?? '', 400))}</div>${facts(fx)}</td>` +
    `<td class="text where">${esc(cut(where(f.origin), 300))}<div class="fid">finding ${esc(f.id ?? '')}</div></td></tr>`
  );
}

function findingsSection(findings: Finding[]): string {
  const rows = findings.map(findingRow).join('');
  const rules = new Map<string, { name: string; remediation: string; count: number; severity: Severity }>();
  for (const f of findings) {
    const r = rules.get(f.rule.id);
    if (r) r.count++;
    else rules.set(f.rule.id, { name: f.rule.name, remediation: f.remediation, count: 1, severity: f.severity });
  }
  const remediation = [...rules.entries()]
    .map(
      ([id, r]) =>
        `<li><strong>${esc(r.name)}</strong> <code>${esc(id)}</code> (${r.count})<p>${esc(cut(r.remediation, 2000))}</p></li>`,
    )
    .join('');
  return (
    `<section class="findings"><h2>Findings</h2><table class="findings-list"><thead><tr><th>severity</th><th>time</th><th>rule</th><th>what</th><th>where</th></tr></thead><tbody>${rows}</tbody></table>` +
    (remediation ? `<h3>Remediation by rule</h3><ol class="remediation">${remediation}</ol>` : '') +
    '</section>'
  );
}

/**
 * One self-contained HTML document: inline CSS allowed by its hash in a strict Content-Security-Policy, inline SVG,
 * no script, no external resource, no link that leaves the page. Every string from the input goes through the one
 * escaping function.
 */
export function renderReport(r: ReportInput): string {
  const hash = styleHash(REPORT_CSS);
  const csp = `default-src 'none'; style-src '${hash}'; img-src 'none'; script-src 'none'; base-uri 'none'; form-action 'none'`;
  const total = SEVERITIES.reduce((a, s) => a + r.counts[s], 0);
  const summary = [...SEVERITIES]
    .reverse()
    .map((s) => `<li class="count sev-${s}">${badge(s)} <span class="n">${r.counts[s]}</span></li>`)
    .join('');
  const toc = r.incidents
    .map(
      (inc) =>
        `<li><a href="#${esc(inc.id)}">${badge(inc.severity)} ${esc(cut(inc.title, 160))}</a> <span class="fid">${esc(inc.id)}</span></li>`,
    )
    .join('');
  const what = r.incidents.length > 0 || r.findings.length === 0 ? 'incidents' : 'findings';
  const omitted =
    r.omittedIncidents + r.omittedFindings > 0
      ? `<p class="note">${r.omittedIncidents > 0 ? `${r.omittedIncidents} lower-ranked incident(s)` : `${r.omittedFindings} finding(s)`} not listed here; the JSON output has them all.</p>`
      : '';
  const body =
    r.incidents.length > 0
      ? `<nav><h2>Incidents</h2><ol class="toc">${toc}</ol></nav>${r.incidents.map(incidentSection).join('')}`
      : r.findings.length > 0
        ? findingsSection(r.findings)
        : `<p class="note">No ${what} in the input.</p>`;
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${esc(csp)}">
<meta name="referrer" content="no-referrer">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(r.title)}</title>
<style>${REPORT_CSS}</style>
</head><body>
<header><h1>${esc(r.title)}</h1><p class="sub">imdsguard ${esc(r.version)} · ${total} ${what} · every string from the evidence is shown as text, secrets only masked</p><ul class="summary">${summary}</ul>${omitted}</header>
<main>${body}</main>
<footer><p>Severity: critical, high, medium, low, info. Link confidence: 0.95 shared identifier (key hash, trail record, the scan's own cause), 0.9 same client, 0.6 same role in the credentials' lifetime, 0.3 time only.</p></footer>
</body></html>
`;
}

/** Highest severity first, then time. */
export function rankFindings(a: Finding, b: Finding): number {
  return severityRank(b.severity) - severityRank(a.severity) || (a.time ?? '').localeCompare(b.time ?? '');
}
