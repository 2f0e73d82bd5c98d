/** Base64 and base64url values that carry a URL (e.g. `?u=aHR0cDovLzE2OS4yNTQuMTY5LjI1NC8=`). */

const RUN = /[A-Za-z0-9+/_-]{12,}={0,2}/g;
const MARKER = /:\/\/|169\.254|metadata|latest\/|computeMetadata|100\.100|fd00|::ffff|\[|localhost|instance-data/i;

function decodeRun(run: string): string | null {
  const std = run.replace(/-/g, '+').replace(/_/g, '/').replace(/=+$/, '');
  if (std.length % 4 === 1) return null;
  let buf: Buffer;
  try {
    buf = Buffer.from(std, 'base64');
  } catch {
    return null;
  }
  if (buf.length < 8) return null;
  let printable = 0;
  for (const b of buf) if ((b >= 0x20 && b < 0x7f) || b === 9 || b === 10 || b === 13) printable++;
  if (printable / buf.length < 0.9) return null;
  return buf.toString('latin1');
}

/** Every base64 run in `s` that decodes to mostly printable text mentioning a URL or metadata marker. */
export function findBase64Urls(s: string): string[] {
  const out: string[] = [];
  for (const m of s.matchAll(RUN)) {
    const d = decodeRun(m[0]);
    if (d !== null && MARKER.test(d)) out.push(d);
    if (out.length >= 8) break;
  }
  return out;
}
