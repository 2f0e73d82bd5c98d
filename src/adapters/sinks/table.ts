import type { FindingSink } from '../../core/ports.ts';
import { Masker, maskRecord } from '../../core/secrets/masker.ts';
import type { TextOutput } from './output.ts';
import { sanitizeField } from './sanitize.ts';

/** Longest cell we print before truncating with an ellipsis: attacker URLs can be megabytes long. */
const MAX_CELL = 160;

/** A cell's text: sanitised (which masks after stripping escape sequences), then cut to width. */
function cellOf(v: unknown, masker: Masker): string {
  const s = sanitizeField(v === undefined || v === null ? '' : String(v), masker);
  return s.length > MAX_CELL ? `${s.slice(0, MAX_CELL - 1)}…` : s;
}

function where(r: Record<string, unknown>): string {
  const o = (r.origin ?? {}) as { file?: string; line?: number; sensor?: string; event_ids?: string[] };
  if (o.file) return o.line !== undefined ? `${o.file}:${o.line}` : o.file;
  if (o.sensor) return o.sensor;
  if (o.event_ids?.length) return `events ${o.event_ids.slice(0, 3).join(',')}${o.event_ids.length > 3 ? ',…' : ''}`;
  return '';
}

/**
 * One readable block per record; every attacker-controlled field is stripped of control and ANSI sequences and masked
 * once they are gone (a secret with a colour code inside is recognised only then).
 */
export function renderRecord(r: Record<string, unknown>, masker: Masker = new Masker()): string {
  const cell = (v: unknown) => cellOf(v, masker);
  if (r.type === 'incident') return renderIncident(r, cell);
  if (r.type !== 'finding') {
    const lines = [`${cell(r.type ?? 'record')}`];
    for (const [k, v] of Object.entries(r)) {
      if (k === 'type') continue;
      lines.push(`  ${k}: ${cell(typeof v === 'object' ? JSON.stringify(v) : v)}`);
    }
    return `${lines.join('\n')}\n`;
  }
  const rule = (r.rule ?? {}) as { id?: string; name?: string };
  const sev = String(r.severity ?? '').toUpperCase();
  const head = [`[${sev}]`, cell(r.title ?? rule.name)];
  const lines = [head.join(' ')];
  const loc = where(r);
  if (loc) lines.push(`  at:        ${cell(loc)}`);
  lines.push(`  rule:      ${cell(rule.id)}`);
  if (r.verdict) lines.push(`  verdict:   ${cell(r.verdict)}${r.provider ? `  provider: ${cell(r.provider)}` : ''}`);
  const target = r.target as { raw?: string; decoded?: string } | undefined;
  if (target) {
    lines.push(`  target:    ${cell(target.raw)}`);
    if (target.decoded && target.decoded !== target.raw) lines.push(`  decoded:   ${cell(target.decoded)}`);
  }
  const transforms = r.transforms as string[] | undefined;
  if (transforms?.length) lines.push(`  transforms: ${cell(transforms.join(' → '))}`);
  const client = r.client as { ip?: string } | undefined;
  const http = r.http as { method?: string; status?: number; bytes?: number } | undefined;
  const req = [client?.ip, http?.method, http?.status, http?.bytes !== undefined ? `${http.bytes}B` : undefined].filter(
    (x) => x !== undefined,
  );
  if (req.length) lines.push(`  request:   ${cell(req.join(' '))}`);
  if (r.outcome) lines.push(`  outcome:   ${cell(r.outcome)}${r.outcome_reason ? ` (${cell(r.outcome_reason)})` : ''}`);
  const proc = r.process as { pid?: number; exe?: string } | undefined;
  if (proc) lines.push(`  process:   ${cell(proc.pid)} ${cell(proc.exe)}`);
  const secret = r.secret as { kind?: string; masked?: string } | undefined;
  if (secret) lines.push(`  secret:    ${cell(secret.kind)} ${cell(secret.masked)}`);
  if (r.time) lines.push(`  time:      ${cell(r.time)}`);
  // Findings read back from the fleet store say which host and sensor reported them.
  const fleet = r.fleet as { host?: { id?: string; name?: string }; source?: string } | undefined;
  if (fleet?.host) lines.push(`  host:      ${cell(fleet.host.name ?? fleet.host.id)} (${cell(fleet.source)})`);
  return `${lines.join('\n')}\n\n`;
}

/** An incident: its chain, one line per step and per link (the JSON output has the rest). */
function renderIncident(r: Record<string, unknown>, cell: (v: unknown) => string): string {
  const steps = (r.steps ?? []) as Array<{
    finding_id: string;
    kind: string;
    time?: string;
    title: string;
    origin?: object;
  }>;
  const links = (r.links ?? []) as Array<{
    from: string;
    to: string;
    reason: string;
    confidence: number;
    explanation: string;
  }>;
  const n = new Map(steps.map((s, i) => [s.finding_id, i + 1]));
  const lines = [
    `[${cell(String(r.severity ?? '').toUpperCase())}] ${cell(r.title)}`,
    `  incident:  ${cell(r.id)}  confidence ${cell(r.confidence)}`,
  ];
  for (const [i, s] of steps.entries())
    lines.push(
      `  #${i + 1} ${cell(s.time ?? '-')} ${cell(s.kind)}: ${cell(s.title)} (${cell(where(s as Record<string, unknown>))})`,
    );
  for (const l of links)
    lines.push(
      `  link #${n.get(l.from) ?? '?'} -> #${n.get(l.to) ?? '?'} ${cell(l.reason)} ${cell(l.confidence)}: ${cell(l.explanation)}`,
    );
  return `${lines.join('\n')}\n\n`;
}

/** Human-readable blocks for a terminal. */
export function tableSink(out: TextOutput): FindingSink {
  const masker = new Masker();
  return {
    // Masked before cells are cut to width: a secret cut in two is no longer recognisable.
    write: (record) => out.write(renderRecord(maskRecord(record, masker) as Record<string, unknown>, masker)),
    close: () => out.close(),
  };
}
