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
  length: number;
}

function strings(v: unknown, out: StringAt[]): void {
  if (Array.isArray(v)) {
    v.forEach((x, i) => {
      if (typeof x === 'string') out.push({ holder: v, key: i, length: x.length });
      else strings(x, out);
    });
  } else if (v && typeof v === 'object') {
    for (const [k, x] of Object.entries(v)) {
      if (typeof x === 'string') out.push({ holder: v as Record<string, unknown>, key: k, length: x.length });
      else strings(x, out);
    }
  }
}

/**
 * The envelope's encoding when it fits in `maxBytes`; else the finding with its longest strings cut (ids, rule and
 * severity are short and never reached first), or undefined when even that does not fit.
 */
export function fitEnvelope(env: FleetEnvelope, maxBytes: number): { body: string; cut: boolean } | undefined {
  const limit = maxBytes - HEADER_ALLOWANCE_BYTES;
  let body = encodeEnvelope(env);
  if (byteLength(body) <= limit) return { body, cut: false };
  const copy = structuredClone(env);
  for (let round = 0; round < 64 && byteLength(body) > limit; round++) {
    const all: StringAt[] = [];
    strings(copy.finding, all);
    const longest = all.sort((a, b) => b.length - a.length)[0];
    if (!longest || longest.length <= TRUNCATION_MARKER.length * 2) return undefined;
    const over = byteLength(body) - limit;
    // Cut by the bytes over (a character is at most 4 bytes in UTF-8, at least 1), and at least by half.
    const keep = Math.max(
      0,
      Math.min(Math.floor(longest.length / 2), longest.length - over - TRUNCATION_MARKER.length),
    );
    const s = (longest.holder as Record<string | number, string>)[longest.key]!;
    (longest.holder as Record<string | number, string>)[longest.key] = s.slice(0, keep) + TRUNCATION_MARKER;
    body = encodeEnvelope(copy);
  }
  return byteLength(body) <= limit ? { body, cut: true } : undefined;
}
