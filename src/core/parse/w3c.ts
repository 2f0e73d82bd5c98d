import type { HttpEvent } from '../model/event.ts';
import { intOrUndef, orUndef, w3cTime } from './fields.ts';
import { httpEvent, type LineOrigin, META, NOMATCH, type ParseResult } from './types.ts';

/**
 * The W3C Extended Log File Format shared by CloudFront (tab-separated) and IIS (space-separated): `#Fields:` names
 * the columns, and may be repeated mid-file when the fields change (IIS does so on every restart or config change).
 */
export class W3cState {
  fields: string[];
  readonly separator: RegExp | string;
  constructor(separator: RegExp | string, defaults: string[]) {
    this.separator = separator;
    this.fields = defaults;
  }

  /** Consume a `#` directive; true when it was one. */
  directive(line: string): boolean {
    if (!line.startsWith('#')) return false;
    const m = /^#Fields:\s*(.*)$/i.exec(line);
    if (m) this.fields = m[1]!.trim().split(/\s+/);
    return true;
  }

  record(line: string): Record<string, string> | null {
    const values = line.split(this.separator);
    if (values.length < Math.min(this.fields.length, 6)) return null;
    const rec: Record<string, string> = {};
    for (let i = 0; i < this.fields.length; i++) {
      const v = values[i];
      if (v !== undefined && v !== '-' && v !== '') rec[this.fields[i]!.toLowerCase()] = v;
    }
    return rec;
  }
}

export interface W3cMapping {
  /** Undo the format's own escaping of a field (CloudFront percent-encodes `%` and spaces a second time). */
  unescape?: (v: string) => string;
  /** Transform names recorded when the unescape changed the value. */
  format: string;
}

/** The common W3C field names, mapped to an HttpEvent. */
export function w3cEvent(rec: Record<string, string>, origin: LineOrigin, map: W3cMapping): HttpEvent {
  const un = map.unescape ?? ((v: string) => v);
  const stem = rec['cs-uri-stem'];
  const query = rec['cs-uri-query'];
  const target = stem !== undefined ? un(stem) + (query ? `?${un(query)}` : '') : undefined;
  const host = rec['x-host-header'] ?? rec['cs-host'] ?? rec['cs(host)'];
  const ev = httpEvent({
    origin: { file: origin.file, line: origin.line, format: map.format },
    time: w3cTime(rec.date, rec.time),
    method: rec['cs-method'],
    target,
    host: host ? un(host) : undefined,
    referer: orUndef(rec['cs(referer)'] ? un(rec['cs(referer)']) : undefined),
    userAgent: rec['cs(user-agent)'] ? un(rec['cs(user-agent)']) : undefined,
    status: intOrUndef(rec['sc-status']),
    bytes: intOrUndef(rec['sc-bytes'] ?? rec['sc-content-len']),
    clientIp: rec['c-ip'],
  });
  const xff = rec['x-forwarded-for'];
  if (xff) ev.headers = { 'x-forwarded-for': xff };
  return ev;
}

/**
 * The values `w3cEvent` puts in attack-bearing fields (target, host, Referer, X-Forwarded-For), without building the
 * event; null for directives and lines the parse would not take (the full parse then decides).
 */
export function w3cPlaces(
  state: W3cState,
  line: string,
  map: W3cMapping,
  looksRight: (rec: Record<string, string>) => boolean,
): string[] | null {
  if (line.startsWith('#')) return null;
  const rec = state.record(line);
  if (!rec || !looksRight(rec)) return null;
  const un = map.unescape ?? ((v: string) => v);
  const out: string[] = [];
  const stem = rec['cs-uri-stem'];
  const query = rec['cs-uri-query'];
  if (stem !== undefined) out.push(un(stem) + (query ? `?${un(query)}` : ''));
  const host = rec['x-host-header'] ?? rec['cs-host'] ?? rec['cs(host)'];
  if (host) out.push(un(host));
  if (rec['cs(referer)']) out.push(un(rec['cs(referer)']));
  if (rec['x-forwarded-for']) out.push(rec['x-forwarded-for']);
  return out;
}

/** Shared parse step: directives are META; a record that does not split into enough fields is NOMATCH. */
export function w3cParse(
  state: W3cState,
  line: string,
  origin: LineOrigin,
  map: W3cMapping,
  looksRight: (rec: Record<string, string>) => boolean,
): ParseResult {
  if (state.directive(line)) return META;
  const rec = state.record(line);
  if (!rec || !looksRight(rec)) return NOMATCH;
  return { kind: 'event', event: w3cEvent(rec, origin, map) };
}
