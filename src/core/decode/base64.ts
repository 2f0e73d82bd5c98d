/** Base64 and base64url values that carry a URL (e.g. `?u=aHR0cDovLzE2OS4yNTQuMTY5LjI1NC8=`). */

const RUN = /[A-Za-z0-9+/_-]{12,}={0,2}/g;
const WHOLE_RUN = /^[A-Za-z0-9+/_-]{16,}={0,2}$/;
/** What a decoded value must mention to be worth a view: a URL, a metadata marker, or an encoded URL. */
const MARKER =
  /:\/\/|:\\\\|169\.254|metadata|latest\/|computeMetadata|100\.100|fd00|::ffff|\[|localhost|instance-data|&#x?0*(?:3a|58);|%3a|%2f/i;
const utf8 = new TextDecoder('utf-8', { fatal: true });

function decodeRun(run: string): string | null {
  const std = run.replace(/-/g, '+').replace(/_/g, '/').replace(/=+$/, '');
  if (std.length % 4 === 1) return null;
  const buf = Buffer.from(std, 'base64');
  if (buf.length < 8) return null;
  let text: string;
  try {
    text = utf8.decode(buf);
  } catch {
    return null; // not text
  }
  let control = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if ((c < 0x20 && c !== 9 && c !== 10 && c !== 13) || c === 0xfffd) control++;
  }
  return control / text.length < 0.05 ? text : null;
}

/**
 * Every base64 run in `s` that decodes to text mentioning a URL or metadata marker. A run that decodes to another
 * base64 run is decoded once more (payloads are sometimes wrapped twice).
 */
export function findBase64Urls(s: string): string[] {
  const out: string[] = [];
  RUN.lastIndex = 0;
  for (const m of s.matchAll(RUN)) {
    let d = decodeRun(m[0]);
    if (d !== null && !MARKER.test(d) && WHOLE_RUN.test(d.trim())) d = decodeRun(d.trim());
    if (d !== null && MARKER.test(d)) out.push(d);
    if (out.length >= 8) break;
  }
  return out;
}
