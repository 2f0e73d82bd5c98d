import type { Incident } from './incident.ts';

export interface Selection {
  /** Epoch ms: keep incidents with a step at or after it (incidents without any time are kept). */
  sinceMs?: number;
  /** Epoch ms: keep incidents with a step at or before it. */
  untilMs?: number;
  /** Keep only this incident (its full id, or a prefix of at least 8 characters of it). */
  id?: string;
}

/** The incidents a `--since/--until/--incident` selection keeps: an incident overlapping the window is kept whole. */
export function selectIncidents(incidents: readonly Incident[], sel: Selection): Incident[] {
  return incidents.filter((inc) => {
    if (sel.id !== undefined && !(inc.id === sel.id || (sel.id.length >= 8 && inc.id.startsWith(sel.id)))) return false;
    if (sel.sinceMs === undefined && sel.untilMs === undefined) return true;
    if (!inc.first_time || !inc.last_time) return true;
    const first = Date.parse(inc.first_time);
    const last = Date.parse(inc.last_time);
    if (sel.sinceMs !== undefined && last < sel.sinceMs) return false;
    if (sel.untilMs !== undefined && first > sel.untilMs) return false;
    return true;
  });
}
