/**
 * A finding too large for one NATS message (the server's max_payload, 1 MiB by default) would be refused by the
 * client at every try and hold up every finding behind it. Its longest strings are cut, with a marker, until the
 * encoded envelope fits. The envelope is cut after masking, so a cut never exposes a secret that masking would hide.
 */
import { encodeEnvelope, type FleetEnvelope } from './contract.ts';

/** What replaces the end of a string that was cut. */
export const TRUNCATION_MARKER = '…[truncated by imdsguard: message size limit]';

/** Room left for the message's headers and subject (Nats-Msg-Id and the protocol line). */
export const HEADER_ALLOWANCE_BYTES = 512;

const utf8 = new TextEncoder();
export function byteLength(s: string): number {
  return utf8.encode(s).length;
}

interface StringAt {
  holder: Record<string, unknown> | unknown[];
  key: string | number;
  /** Bytes it takes in the encoded envelope (UTF-8, JSON escapes included, quotes not). */
  bytes: number;
}

/** Bytes a string takes inside a JSON text, as JSON.stringify writes it, without its quotes. */
function jsonBytes(s: string): number {
  return byteLength(JSON.stringify(s)) - 2;
}

function strings(v: unknown, out: StringAt[]): void {
  if (Array.isArray(v)) {
    v.forEach((x, i) => {
      if (typeof x === 'string') out.push({ holder: v, key: i, bytes: jsonBytes(x) });
      else strings(x, out);
    });
  } else if (v && typeof v === 'object') {
    for (const [k, x] of Object.entries(v)) {
      if (typeof x === 'string') out.push({ holder: v as Record<string, unknown>, key: k, bytes: jsonBytes(x) });
      else strings(x, out);
    }
  }
}

const MARKER_BYTES = jsonBytes(TRUNCATION_MARKER);

/**
 * The longest start of `s` that takes at most `max` bytes as `jsonBytes` counts them, never ending between the two
 * halves of a surrogate pair (a lone half is text that JSON readers such as PostgreSQL's jsonb refuse).
 */
function prefixWithin(s: string, max: number): string {
  let used = 0;
  let i = 0;
  while (i < s.length) {
    const c = s.charCodeAt(i);
    const pair = c >= 0xd800 && c <= 0xdbff && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00;
    let b: number;
    if (pair) b = 4;
    else if (c === 0x22 || c === 0x5c || c === 8 || c === 9 || c === 10 || c === 12 || c === 13) b = 2;
    else if (c < 0x20 || (c >= 0xd800 && c <= 0xdfff)) b = 6;
    else b = c < 0x80 ? 1 : c < 0x800 ? 2 : 3;
    if (used + b > max) break;
    used += b;
    i += pair ? 2 : 1;
  }
  return s.slice(0, i);
}

/**
 * The length to cut the longest strings down to, in bytes, so that together they lose `over` bytes (each cut one
 * gains the marker): the same length for all of them, so that each keeps as much of its start as the limit allows
 * (a request line and its decoded copy, often the two longest, keep equal parts). Undefined when cutting every
 * string worth cutting to nothing is not enough.
 */
function cutLength(sorted: readonly StringAt[], over: number): number | undefined {
  let sum = 0;
  for (let k = 1; k <= sorted.length; k++) {
    sum += sorted[k - 1]!.bytes;
    const cap = Math.floor((sum - k * MARKER_BYTES - over) / k);
    if (cap >= (sorted[k]?.bytes ?? 0)) return cap >= 0 ? cap : undefined;
  }
  return undefined;
}

/**
 * The envelope's encoding when it fits in `maxBytes`; else the finding with its longest strings cut to one length
 * (ids, rule and severity are short and never reached first), or undefined when even that does not fit.
 */
export function fitEnvelope(env: FleetEnvelope, maxBytes: number): { body: string; cut: boolean } | undefined {
  const limit = maxBytes - HEADER_ALLOWANCE_BYTES;
  let body = encodeEnvelope(env);
  if (byteLength(body) <= limit) return { body, cut: false };
  const copy = structuredClone(env);
  // One round is enough; a second one only if the lengths were misjudged.
  for (let round = 0; round < 4 && byteLength(body) > limit; round++) {
    const all: StringAt[] = [];
    strings(copy.finding, all);
    // A string no longer than twice the marker is not worth cutting.
    const long = all.filter((x) => x.bytes > MARKER_BYTES * 2).sort((a, b) => b.bytes - a.bytes);
    const cap = cutLength(long, byteLength(body) - limit);
    if (cap === undefined) return undefined;
    for (const x of long) {
      if (x.bytes <= cap) break;
      const h = x.holder as Record<string | number, string>;
      // A string cut in an earlier round is cut again before its marker, which it keeps once.
      const v = h[x.key]!;
      const whole = round > 0 && v.endsWith(TRUNCATION_MARKER) ? v.slice(0, -TRUNCATION_MARKER.length) : v;
      h[x.key] = prefixWithin(whole, cap) + TRUNCATION_MARKER;
    }
    body = encodeEnvelope(copy);
  }
  return byteLength(body) <= limit ? { body, cut: true } : undefined;
}
