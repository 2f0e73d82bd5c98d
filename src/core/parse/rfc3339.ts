/**
 * An RFC 3339 time (`2026-11-21T09:00:00Z`, `2026-11-21T10:00:00.5+01:00`; `t`, `z` and a space for `T` as the RFC
 * allows) or a full date alone (`2026-11-21`, midnight UTC) as epoch ms; undefined for anything else. Stricter than
 * `Date.parse`, which also reads `2026-02-30` (as 2 March), `1` and `Dec 5`: a time a person typed wrong is refused,
 * not read as another.
 */
export function parseRfc3339(text: string): number | undefined {
  const m = /^(\d{4})-(\d{2})-(\d{2})(?:[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?([Zz]|([+-])(\d{2}):(\d{2})))?$/.exec(
    text,
  );
  if (!m) return undefined;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const [h, mi, s] = [Number(m[4] ?? 0), Number(m[5] ?? 0), Number(m[6] ?? 0)];
  if (mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || s > 60) return undefined;
  // Days per month, leap years included: a date that does not exist is refused.
  if (d > new Date(Date.UTC(y, mo, 0)).getUTCDate()) return undefined;
  const offH = Number(m[10] ?? 0);
  const offM = Number(m[11] ?? 0);
  if (offH > 23 || offM > 59) return undefined;
  const frac = m[7] ? Number(m[7].slice(1, 4).padEnd(3, '0')) : 0;
  // A leap second is read as the last moment of its minute.
  const utc = Date.UTC(y, mo - 1, d, h, mi, Math.min(s, 59), s === 60 ? 999 : frac);
  const sign = m[9] === '-' ? -1 : 1;
  return utc - sign * (offH * 60 + offM) * 60_000;
}
