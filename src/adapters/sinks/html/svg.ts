import type { Incident, IncidentStep } from '../../../core/investigate/incident.ts';
import { STEP_LABEL, type StepKind, stageOf } from '../../../core/investigate/step.ts';
import { escapeHtml as esc } from '../sanitize.ts';

/** Cut attacker text to a width before escaping (escaping first could cut an entity in two). */
export function cut(s: string, max: number): string {
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}

const LANES: Array<{ label: string; kinds: StepKind[] }> = [
  { label: 'requests', kinds: ['ssrf-attempt', 'ssrf-success', 'host-fetch'] },
  { label: 'leak', kinds: ['credential-leak'] },
  { label: 'key use', kinds: ['cloud-use'] },
  { label: 'recon', kinds: ['cloud-recon', 'posture', 'other'] },
];

function laneOf(kind: StepKind): number {
  return LANES.findIndex((l) => l.kinds.includes(kind));
}

/** Short UTC time for axis labels. */
function shortTime(iso: string): string {
  const m = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})/.exec(iso);
  return m ? `${m[1]} ${m[2]}` : iso;
}

/**
 * The incident's steps on a time axis, one lane per stage; each dot carries its step as a tooltip. Steps without a
 * time are counted under the axis. Pure markup, sizes in the viewBox: no script, no style attribute.
 */
export function timelineSvg(inc: Incident, maxDots = 2000): string {
  const W = 960;
  const left = 90;
  const right = 24;
  const laneH = 34;
  const top = 16;
  const H = top + LANES.length * laneH + 40;
  const timed = inc.steps.filter((s) => s.time && Number.isFinite(Date.parse(s.time)));
  const untimed = inc.steps.length - timed.length;
  const t0 = timed.reduce((m, s) => Math.min(m, Date.parse(s.time!)), Number.POSITIVE_INFINITY);
  const t1 = timed.reduce((m, s) => Math.max(m, Date.parse(s.time!)), Number.NEGATIVE_INFINITY);
  const span = t1 - t0;
  const x = (ms: number) => (span > 0 ? left + ((ms - t0) / span) * (W - left - right) : left + (W - left - right) / 2);
  const parts: string[] = [];
  parts.push(
    `<svg class="timeline" viewBox="0 0 ${W} ${H}" role="img" aria-label="Timeline of incident ${esc(inc.id)}" xmlns="http://www.w3.org/2000/svg">`,
  );
  LANES.forEach((lane, i) => {
    const y = top + i * laneH + laneH / 2;
    parts.push(`<line class="lane" x1="${left}" y1="${y}" x2="${W - right}" y2="${y}"/>`);
    parts.push(`<text class="lane-label" x="${left - 8}" y="${y + 4}" text-anchor="end">${esc(lane.label)}</text>`);
  });
  const axisY = top + LANES.length * laneH + 6;
  parts.push(`<line class="axis" x1="${left}" y1="${axisY}" x2="${W - right}" y2="${axisY}"/>`);
  if (timed.length) {
    parts.push(`<text class="tick" x="${left}" y="${axisY + 16}">${esc(shortTime(timed[0]!.time!))}</text>`);
    if (span > 0)
      parts.push(
        `<text class="tick" x="${W - right}" y="${axisY + 16}" text-anchor="end">${esc(shortTime(new Date(t1).toISOString()))} UTC</text>`,
      );
  }
  if (untimed > 0)
    parts.push(
      `<text class="tick" x="${(W + left) / 2}" y="${axisY + 30}" text-anchor="middle">${untimed} step(s) without a time (placed in the tables by their links)</text>`,
    );
  const index = new Map(inc.steps.map((s, i) => [s.finding_id, i + 1]));
  for (const s of timed.slice(0, maxDots)) {
    const lane = laneOf(s.kind);
    const cx = x(Date.parse(s.time!)).toFixed(1);
    const cy = top + lane * laneH + laneH / 2;
    const n = index.get(s.finding_id);
    parts.push(
      `<circle class="dot k-${s.kind} sev-${s.severity}" cx="${cx}" cy="${cy}" r="6"><title>#${n} ${esc(s.time!)} ${esc(STEP_LABEL[s.kind])}: ${esc(cut(s.title, 200))}</title></circle>`,
    );
  }
  parts.push('</svg>');
  return parts.join('');
}

/** Node titles short enough for a box. */
const NODE_LABEL: Record<StepKind, string> = {
  'ssrf-attempt': 'SSRF attempt',
  'ssrf-success': 'SSRF success',
  'host-fetch': 'Host fetch',
  'credential-leak': 'Leaked in a log',
  'cloud-use': 'Key used',
  'cloud-recon': 'Reconnaissance',
  posture: 'Instance setting',
  other: 'Other finding',
};

interface GraphNode {
  key: string;
  kind: StepKind;
  label: string;
  detail: string;
  steps: number;
  first: number;
  severity: string;
}

/** Which node of the graph a step is drawn in: one per SSRF client, process, leaking file, key-use address. */
function nodeKey(s: IncidentStep): { key: string; detail: string } {
  const f = s.facts;
  switch (s.kind) {
    case 'ssrf-attempt':
    case 'ssrf-success':
      return { key: `${s.kind} ${f.client ?? s.finding_id}`, detail: f.client ? `client ${f.client}` : '' };
    case 'host-fetch':
      return { key: `${s.kind} ${f.process ?? s.finding_id}`, detail: f.process ?? '' };
    case 'credential-leak':
      return { key: `${s.kind} ${s.origin.file ?? s.finding_id}`, detail: `${s.origin.file ?? ''} ${f.secret ?? ''}` };
    case 'cloud-use':
      return { key: `${s.kind} ${f.from ?? s.finding_id}`, detail: f.from ? `from ${f.from}` : (f.principal ?? '') };
    default:
      return { key: `${s.kind} ${s.finding_id}`, detail: f.principal ?? f.resource ?? '' };
  }
}

const REASON_SHORT: Record<string, string> = {
  'same-line': 'same log line',
  'leak-cause': 'caused the leak',
  'same-key-hash': 'same key hash',
  'shared-events': 'same trail records',
  'same-client': 'same client',
  'same-client-ip': 'same client IP',
  'same-process': 'same process',
  'same-masked-key-and-role': 'masked key + role',
  'same-instance': 'same instance',
  'same-role-imdsv1': 'same role, IMDSv1',
  'same-role-time-window': 'same role, in window',
  'time-proximity': 'time only (guess)',
};

/**
 * The chain as a graph: steps grouped into nodes (one per client, process, leaking file, address of use), nodes in
 * columns by stage, one edge per pair of nodes with the strongest reason on it. Weak links are dashed.
 */
export function graphSvg(inc: Incident): string {
  const nodes = new Map<string, GraphNode>();
  const stepNode = new Map<string, string>();
  inc.steps.forEach((s, i) => {
    const { key, detail } = nodeKey(s);
    stepNode.set(s.finding_id, key);
    const n = nodes.get(key);
    if (n) n.steps++;
    else
      nodes.set(key, {
        key,
        kind: s.kind,
        label: NODE_LABEL[s.kind],
        detail,
        steps: 1,
        first: i,
        severity: s.severity,
      });
  });
  const edges = new Map<string, { from: string; to: string; reason: string; confidence: number; count: number }>();
  for (const l of inc.links) {
    const a = stepNode.get(l.from);
    const b = stepNode.get(l.to);
    if (!a || !b || a === b) continue;
    const k = `${a}\u0000${b}`;
    const e = edges.get(k);
    if (!e) edges.set(k, { from: a, to: b, reason: l.reason, confidence: l.confidence, count: 1 });
    else {
      e.count++;
      if (l.confidence > e.confidence) {
        e.confidence = l.confidence;
        e.reason = l.reason;
      }
    }
  }
  const columns = new Map<number, GraphNode[]>();
  for (const n of nodes.values()) {
    // The instance's settings are where the story starts: drawn left of the requests.
    const c = n.kind === 'posture' ? -1 : stageOf(n.kind);
    const list = columns.get(c) ?? [];
    list.push(n);
    columns.set(c, list);
  }
  const used = [...columns.keys()].sort((a, b) => a - b);
  const maxNodes = 12;
  const boxW = 180;
  const boxH = 54;
  // Wide enough for an edge's label between two columns.
  const gapX = 130;
  const gapY = 30;
  // Room above the first row for edges that jump over a column.
  const top = 56;
  const pos = new Map<string, { x: number; y: number }>();
  let rows = 0;
  used.forEach((c, ci) => {
    const list = columns
      .get(c)!
      .sort((a, b) => a.first - b.first)
      .slice(0, maxNodes);
    rows = Math.max(rows, list.length);
    list.forEach((n, ri) => {
      pos.set(n.key, { x: 16 + ci * (boxW + gapX), y: top + ri * (boxH + gapY) });
    });
  });
  const W = Math.max(480, 32 + used.length * (boxW + gapX) - gapX);
  const H = top + 16 + rows * (boxH + gapY);
  const parts: string[] = [
    `<svg class="graph" viewBox="0 0 ${W} ${H}" role="img" aria-label="Chain of incident ${esc(inc.id)}" xmlns="http://www.w3.org/2000/svg">`,
    '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" class="arrowhead"/></marker></defs>',
  ];
  for (const e of edges.values()) {
    const a = pos.get(e.from);
    const b = pos.get(e.to);
    if (!a || !b) continue;
    const sameColumn = a.x === b.x;
    const x1 = sameColumn ? a.x + boxW / 2 : a.x + boxW;
    const y1 = sameColumn ? a.y + boxH : a.y + boxH / 2;
    const x2 = sameColumn ? b.x + boxW / 2 : b.x;
    const y2 = sameColumn ? b.y : b.y + boxH / 2;
    const weak = e.confidence < 0.5 ? ' weak' : '';
    const title = `<title>${esc(REASON_SHORT[e.reason] ?? e.reason)} (confidence ${e.confidence})${e.count > 1 ? `, ${e.count} links` : ''}</title>`;
    // An edge past a column arcs over the boxes instead of running behind them.
    const jump = Math.abs(b.x - a.x) > boxW + gapX;
    let mx = (x1 + x2) / 2;
    let my = (y1 + y2) / 2 - 5;
    if (jump) {
      const sx = a.x + boxW / 2;
      const ex = b.x + boxW / 2;
      const arc = 12;
      parts.push(
        `<path class="edge${weak}" d="M${sx},${a.y} C${sx},${arc} ${ex},${arc} ${ex},${b.y}" fill="none" marker-end="url(#arrow)">${title}</path>`,
      );
      mx = (sx + ex) / 2;
      my = arc + 20;
    } else
      parts.push(
        `<line class="edge${weak}" x1="${x1}" y1="${y1}" x2="${x2}" y2="${y2}" marker-end="url(#arrow)">${title}</line>`,
      );
    parts.push(
      `<text class="edge-label" x="${mx}" y="${my}" text-anchor="middle">${esc(REASON_SHORT[e.reason] ?? e.reason)} · ${e.confidence}</text>`,
    );
  }
  for (const n of nodes.values()) {
    const p = pos.get(n.key);
    if (!p) continue;
    parts.push(
      `<g class="node k-${n.kind} sev-${esc(n.severity)}"><rect x="${p.x}" y="${p.y}" width="${boxW}" height="${boxH}" rx="6"/>`,
      `<text class="node-label" x="${p.x + 10}" y="${p.y + 21}">${esc(cut(n.label, 22))}${n.steps > 1 ? ` ×${n.steps}` : ''}</text>`,
      `<text class="node-detail" x="${p.x + 10}" y="${p.y + 42}">${esc(cut(n.detail.trim(), 26))}</text>`,
      `<title>${esc(STEP_LABEL[n.kind])}: ${esc(cut(n.detail, 300))}</title></g>`,
    );
  }
  const hidden = [...columns.values()].reduce((a, l) => a + Math.max(0, l.length - maxNodes), 0);
  if (hidden > 0)
    parts.push(`<text class="tick" x="16" y="${H - 4}">${hidden} more node(s) not drawn: see the steps table</text>`);
  parts.push('</svg>');
  return parts.join('');
}
