/**
 * Request lines written on a plain socket: proxy agents such as https-proxy-agent open a TCP connection to the
 * proxy and write `CONNECT 169.254.169.254:80 HTTP/1.1` on it themselves, without node:http or undici. Every
 * socket write passes through `net.Socket.prototype._writeGeneric`; a write that starts with a request line in
 * CONNECT or absolute form is checked like the one node:http would send. The test on an ordinary write is a
 * couple of byte reads (`GET /…`, `HTTP/1.1 …`, TLS records and bodies leave at the first or second byte).
 *
 * The request line node:http or undici built and the guard already checked there (with the caller recorded for
 * the request) is not checked twice; any other line on their sockets is.
 */

/**
 * Request lines written on a plain socket: proxy agents such as https-proxy-agent open a TCP connection to the
 * proxy and write `CONNECT 169.254.169.254:80 HTTP/1.1` on it themselves, without node:http or undici. Every
 * socket write passes through `net.Socket.prototype._writeGeneric`; a write that starts with a request line in
 * CONNECT or absolute form is checked like the one node:http would send. The test on an ordinary write is a
 * couple of byte reads (`GET /…`, `HTTP/1.1 …`, TLS records and bodies leave at the first or second byte).
 *
 * The request line node:http or undici built and the guard already checked there (with the caller recorded for
 * the request) is not checked twice; any other line on their sockets is.
 */
import net, { isIP } from 'node:net';
import { captureCaller } from './caller.ts';
import { kCheckedLine } from './context.ts';
import { metadataAtTarget, proxyTarget } from './hook-http.ts';
import type { Decide } from './hook-net.ts';

type WriteGeneric = (this: net.Socket, writev: boolean, data: unknown, encoding: string, cb: unknown) => unknown;

const MAX_LINE = 2048;
const kDecidedLine = Symbol('imdsguard.decidedLine');

/** The request line at the start of a chunk when it is CONNECT or absolute-form, else null. */
function proxyLine(chunk: unknown): string | null {
  let at: (i: number) => number;
  let length: number;
  if (typeof chunk === 'string') {
    at = (i) => chunk.charCodeAt(i);
    length = chunk.length;
  } else if (chunk instanceof Uint8Array) {
    at = (i) => chunk[i]!;
    length = chunk.length;
  } else return null;
  const c0 = length > 10 ? at(0) : 0;
  if (c0 < 65 || c0 > 90) return null;
  let sp = 1;
  while (sp < 10 && at(sp) >= 65 && at(sp) <= 90) sp++;
  if (sp >= 10 || at(sp) !== 32) return null;
  const next = at(sp + 1);
  // Origin-form (`/`) and `*` leave here (a response's `HTTP/1.1` left at its `/`).
  if (next === 47 || next === 42) return null;
  const end = Math.min(length, MAX_LINE);
  const text =
    typeof chunk === 'string' ? chunk.slice(0, end) : Buffer.from(chunk as Uint8Array).toString('latin1', 0, end);
  const eol = text.indexOf('\r\n');
  return eol > 0 ? text.slice(0, eol) : null;
}

export function hookWrites(decide: Decide): () => void {
  const proto = net.Socket.prototype as unknown as { _writeGeneric: WriteGeneric };
  const original = proto._writeGeneric;
  if (typeof original !== 'function') return () => {};
  const patched: WriteGeneric = function _writeGeneric(this: net.Socket, writev, data, encoding, cb) {
    const chunk = writev ? (data as Array<{ chunk?: unknown } | unknown>)[0] : data;
    const first = writev && chunk && typeof chunk === 'object' && 'chunk' in chunk ? chunk.chunk : chunk;
    const line = proxyLine(first);
    if (line !== null) {
      const req = (this as unknown as { _httpMessage?: Record<symbol, unknown> })._httpMessage;
      const checked = (req?.[kCheckedLine] ?? (this as unknown as Record<symbol, unknown>)[kCheckedLine]) as
        | string
        | undefined;
      const self = this as unknown as Record<symbol, unknown>;
      // net calls this again for a write it held back while connecting: one decision per line.
      const seen = self[kDecidedLine] === line;
      self[kDecidedLine] = line;
      if (!seen && !(typeof checked === 'string' && checked.startsWith(`${line}\r\n`))) {
        const sp = line.indexOf(' ');
        const method = line.slice(0, sp);
        const end = line.lastIndexOf(' HTTP/');
        const t = proxyTarget(method, line.slice(sp + 1, end > sp ? end : undefined));
        const d = t ? metadataAtTarget(t) : null;
        if (t && d) {
          const dec = decide(d, {
            host: t.host,
            address: isIP(t.host) !== 0 ? t.host : null,
            port: t.port,
            method,
            ...(t.path !== undefined ? { path: t.path } : {}),
            via: method === 'CONNECT' ? 'socket-connect-line' : 'socket-proxy-line',
            callers: [captureCaller()],
          });
          if (!dec.allowed && dec.error) {
            // Nothing of the line is written: the socket fails with the guard's error.
            this.destroy(dec.error);
            return undefined;
          }
        }
      }
    }
    return Reflect.apply(original, this, [writev, data, encoding, cb]);
  };
  proto._writeGeneric = patched;
  return () => {
    if (proto._writeGeneric === patched) proto._writeGeneric = original;
  };
}
