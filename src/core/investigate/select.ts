import type { Incident } from './incident.ts';

export interface Selection {
  /** Epoch ms: keep incidents with a step at or after it (incidents without any time are kept). */
  sinceMs?: number;
  /** Epoch ms: keep incidents with a step at or before it. */
  untilMs?: number;
  /** Keep only this incident: its full id or a prefix of it, as `normalIncidentId` gives it. */
  id?: string;
}

/** The shortest prefix of an incident id `--incident` takes, `inc-` counted: `inc-` and 4 hex digits. */
export const INCIDENT_ID_MIN = 8;

/**
 * An id or prefix as given (`inc-3f2a`, `3f2a9c1e`, upper case) as a prefix of ids (`inc-3f2a…`); undefined when it
 * cannot be one or is shorter than `INCIDENT_ID_MIN`.
 */
export function normalIncidentId(given: string): string | undefined {
  const hex = given.trim().toLowerCase().replace(/^inc-/, '');
  if (!/^[0-9a-f]{1,20}$/.test(hex)) return undefined;
  const id = `inc-${hex}`;
  return id.length >= INCIDENT_ID_MIN ? id : undefined;
}

/**
 * The incidents a `--since/--until/--incident` selection keeps: an incident whose span (its first step to the end
 * of its last, a cloud finding's span included) meets the window, edges included, is kept whole; one without any
 * time is kept.
 */
export function selectIncidents(incidents: readonly Incident[], sel: Selection): Incident[] {
  return incidents.filter((inc) => {
    if (sel.id !== undefined && !inc.id.startsWith(sel.id)) return false;
    if (sel.sinceMs === undefined && sel.untilMs === undefined) return true;
    if (!inc.first_time || !inc.last_time) return true;
    const first = Date.parse(inc.first_time);
    const last = Date.parse(inc.last_time);
    if (sel.sinceMs !== undefined && last < sel.sinceMs) return false;
    if (sel.untilMs !== undefined && first > sel.untilMs) return false;
    return true;
  });
}
