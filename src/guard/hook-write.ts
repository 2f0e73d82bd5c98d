/**
 * Request lines written on a plain socket: proxy agents such as https-proxy-agent open a TCP connection to the
 * proxy and write `CONNECT 169.254.169.254:80 HTTP/1.1` on it themselves, without node:http or undici. Every
 * socket write passes through `net.Socket.prototype._writeGeneric` (one chunk, or the chunks of a corked socket
 * as one writev); a request line in CONNECT or absolute form is checked like the one node:http would send.
 *
 * A line can be split over any number of writes (`CON` then `NECT …`, `GET` then the rest, one byte at a time),
 * so each socket keeps the start of an unfinished candidate line until it is decided: by the end of its target,
 * or by the bound. Bytes before that point are written as they come; the write that completes the target is
 * checked before any of it is written, so a proxy never receives the end of a refused line. Past the bound
 * (8 KiB) without the end of a CONNECT or absolute-form target the socket is refused in block mode: no client
 * writes such a line, and the guard does not know which sockets lead to a proxy.
 *
 * Read the way a lenient proxy reads: methods in any case, empty lines before the request line, a bare LF (or CR)
 * as line end, string chunks in any encoding Node accepts (`hex`, `base64`, `utf16le` are decoded first). The
 * test on an ordinary write is a byte read or two (TLS records and binary protocols leave at the first byte,
 * origin-form `GET /…` at the target's `/`).
 *
 * The request line node:http or undici built and the guard already checked there (with the caller recorded for
 * the request) is not checked twice; any other line on their sockets is.
 */
import net from 'node:net';
import { captureCaller } from './caller.ts';
import { checkedLineOf, privateSlot } from './context.ts';
import { ipFamily } from './destination.ts';
import { isConnectMethod, metadataAtTarget, proxyTarget } from './hook-http.ts';
import type { Decide } from './hook-net.ts';
import {
  ArrayIsArray,
  BufferFrom,
  BufferIsBuffer,
  BufferPrototypeLatin1Slice,
  isUint8Array,
  MathMin,
  ReflectApply,
  SetPrototypeHas,
  StringPrototypeCharCodeAt,
  StringPrototypeSlice,
  StringPrototypeStartsWith,
  TypedArrayPrototypeGetBuffer,
  TypedArrayPrototypeGetByteLength,
  TypedArrayPrototypeGetByteOffset,
} from './intrinsics.ts';

type WriteGeneric = (this: net.Socket, writev: boolean, data: unknown, encoding: string, cb: unknown) => unknown;

/** How much of an unfinished request line a socket keeps before deciding without its end. */
export const LINE_BOUND = 8192;
/** What a write shows the scanner first; a candidate that needs more is read again up to the bound. */
const WINDOW = 256;
/** Longer tokens are not methods (the longest registered ones have 17 characters). */
const MAX_METHOD = 32;
/** The start of an unfinished candidate line, per socket (kept by the guard: a property could be cleared). */
const pendingOf = privateSlot<string | undefined>();

/** RFC 9110 tchar: the characters of a method token. */
const TCHAR = new Uint8Array(128);
for (const c of "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz") {
  TCHAR[c.charCodeAt(0)] = 1;
}
const isTchar = (c: number) => c >= 0 && c < 128 && TCHAR[c] === 1;
const isBlank = (c: number) => c === 32 || c === 9;
const isEol = (c: number) => c === 13 || c === 10;
const isAlpha = (c: number) => (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
const isSchemeChar = (c: number) => isAlpha(c) || (c >= 48 && c <= 57) || c === 43 || c === 45 || c === 46;

/** Encodings whose string characters are the bytes written (for the ASCII the grammar is made of). */
const DIRECT = new Set(['', 'buffer', 'utf8', 'utf-8', 'latin1', 'binary', 'ascii']);

type Scan =
  | { kind: 'pass' }
  | { kind: 'more' }
  | { kind: 'line'; method: string; target: string; line: string | null; start: number };

const PASS: Scan = { kind: 'pass' };
const MORE: Scan = { kind: 'more' };

/** Could `text[k…e)` still be (the start of) an absolute URL: a scheme, then `:`? */
function schemeLike(text: string, k: number, e: number): boolean {
  if (k >= e) return true;
  if (!isAlpha(StringPrototypeCharCodeAt(text, k))) return false;
  for (let i = k + 1; i < e; i++) {
    const c = StringPrototypeCharCodeAt(text, i);
    if (c === 58) return true;
    if (!isSchemeChar(c)) return false;
  }
  return true;
}

/** Where the text stands as the start of a request line in CONNECT or absolute form. */
export function scanLine(text: string): Scan {
  const n = text.length;
  let i = 0;
  // RFC 9112 §2.2: a server should ignore empty lines before a request line.
  while (i < n && isEol(StringPrototypeCharCodeAt(text, i))) i++;
  if (i === n) return PASS;
  let j = i;
  while (j < n && j - i < MAX_METHOD && isTchar(StringPrototypeCharCodeAt(text, j))) j++;
  if (j === i) return PASS;
  if (j === n) return j - i < MAX_METHOD ? MORE : PASS;
  if (!isBlank(StringPrototypeCharCodeAt(text, j))) return PASS;
  const method = StringPrototypeSlice(text, i, j);
  let k = j;
  while (k < n && isBlank(StringPrototypeCharCodeAt(text, k))) k++;
  if (k === n) return MORE;
  const connect = isConnectMethod(method);
  const t0 = StringPrototypeCharCodeAt(text, k);
  // Origin-form (`/…`) and `*`: the common case, decided at the target's first character.
  if (!connect && (t0 === 47 || t0 === 42)) return PASS;
  let e = k;
  while (e < n && !isBlank(StringPrototypeCharCodeAt(text, e)) && !isEol(StringPrototypeCharCodeAt(text, e))) e++;
  if (!connect && !schemeLike(text, k, e)) return PASS;
  if (e === n) return MORE;
  let eol = e;
  while (eol < n && !isEol(StringPrototypeCharCodeAt(text, eol))) eol++;
  return {
    kind: 'line',
    method,
    target: StringPrototypeSlice(text, k, e),
    line: eol < n ? StringPrototypeSlice(text, i, eol) : null,
    start: i,
  };
}

/** Up to `max` characters of a chunk as the bytes that go on the wire (latin1 for bytes), or null for no data. */
function chunkText(chunk: unknown, encoding: string | undefined, max: number): string | null {
  if (typeof chunk === 'string') {
    if (SetPrototypeHas(DIRECT, encoding ?? ''))
      return chunk.length > max ? StringPrototypeSlice(chunk, 0, max) : chunk;
    // `socket.write('434f4e4e454354…', 'hex')`: the bytes are what a proxy reads.
    try {
      const b = BufferFrom(chunk, encoding as BufferEncoding);
      return BufferPrototypeLatin1Slice(b, 0, MathMin(TypedArrayPrototypeGetByteLength(b), max));
    } catch {
      return null;
    }
  }
  if (isUint8Array(chunk)) {
    const b = BufferIsBuffer(chunk)
      ? chunk
      : BufferFrom(
          TypedArrayPrototypeGetBuffer(chunk),
          TypedArrayPrototypeGetByteOffset(chunk),
          TypedArrayPrototypeGetByteLength(chunk),
        );
    return BufferPrototypeLatin1Slice(b as Buffer, 0, MathMin(TypedArrayPrototypeGetByteLength(b), max));
  }
  return null;
}

/** The first byte of a chunk could begin a request line (a token character, or an empty line before one). */
function mayStart(chunk: unknown, encoding: string | undefined): boolean {
  let c: number;
  if (typeof chunk === 'string') {
    if (chunk.length === 0) return false;
    if (!SetPrototypeHas(DIRECT, encoding ?? '')) return true;
    c = StringPrototypeCharCodeAt(chunk, 0);
  } else if (isUint8Array(chunk)) {
    if (TypedArrayPrototypeGetByteLength(chunk) === 0) return false;
    c = chunk[0]!;
  } else return false;
  return isTchar(c) || isEol(c);
}

/** The request line node:http or undici built and checked for this socket's request, if any. */
function checkedLineFor(socket: net.Socket): string | undefined {
  const req = (socket as unknown as { _httpMessage?: object })._httpMessage;
  const v = checkedLineOf.get(req) ?? checkedLineOf.get(socket);
  return typeof v === 'string' ? v : undefined;
}

export class UncheckableLineError extends Error {
  readonly code = 'ERR_IMDSGUARD_BLOCKED';
  constructor() {
    super(
      `imdsguard refused a socket write: a request line in CONNECT or absolute form ran past ${LINE_BOUND} bytes without the end of its target, so its destination cannot be checked`,
    );
    this.name = 'GuardBlockedError';
  }
}

export function hookWrites(decide: Decide, blocking: () => boolean): () => void {
  const proto = net.Socket.prototype as unknown as { _writeGeneric: WriteGeneric };
  const original = proto._writeGeneric;
  if (typeof original !== 'function') return () => {};

  /** A decided line: the guard's error when it is refused, else null. */
  const decideLine = (socket: net.Socket, s: Extract<Scan, { kind: 'line' }>): Error | null => {
    const checked = s.line !== null && s.start === 0 ? checkedLineFor(socket) : undefined;
    if (
      checked !== undefined &&
      s.line !== null &&
      StringPrototypeStartsWith(checked, s.line) &&
      isEol(StringPrototypeCharCodeAt(checked, s.line.length))
    )
      return null;
    const t = proxyTarget(s.method, s.target);
    const d = t ? metadataAtTarget(t) : null;
    if (!t || !d) return null;
    const dec = decide(d, {
      host: t.host,
      address: ipFamily(t.host) !== 0 ? t.host : null,
      port: t.port,
      method: s.method,
      ...(t.path !== undefined ? { path: t.path } : {}),
      via: isConnectMethod(s.method) ? 'socket-connect-line' : 'socket-proxy-line',
      callers: [captureCaller()],
    });
    return !dec.allowed && dec.error ? dec.error : null;
  };

  /** One chunk, continuing the socket's unfinished line if it has one. */
  const inspect = (socket: net.Socket, chunk: unknown, encoding: string | undefined): Error | null => {
    const pending = pendingOf.get(socket);
    if (pending === undefined && !mayStart(chunk, encoding)) return null;
    const before = pending ?? '';
    let text = chunkText(chunk, encoding, WINDOW);
    if (text === null) return null;
    let s = scanLine(before + text);
    if (s.kind === 'more' && text.length === WINDOW) {
      text = chunkText(chunk, encoding, LINE_BOUND - before.length) ?? text;
      s = scanLine(before + text);
    }
    pendingOf.set(socket, undefined);
    if (s.kind === 'pass') return null;
    if (s.kind === 'line') return decideLine(socket, s);
    const all = before + text;
    if (all.length < LINE_BOUND) {
      pendingOf.set(socket, all);
      return null;
    }
    return blocking() ? new UncheckableLineError() : null;
  };

  const patched: WriteGeneric = function _writeGeneric(this: net.Socket, writev, data, encoding, cb) {
    // While connecting, net keeps the write and calls this again once connected: it is inspected then, once.
    if (!this.connecting) {
      let refused: Error | null = null;
      if (writev && ArrayIsArray(data)) {
        // A corked socket's writes arrive together; a line may run across them.
        for (let i = 0; i < data.length; i++) {
          const item: unknown = data[i];
          const o = item as { chunk?: unknown; encoding?: string } | null;
          const isEntry = o !== null && typeof o === 'object' && !isUint8Array(o) && 'chunk' in o;
          refused = isEntry ? inspect(this, o.chunk, o.encoding) : inspect(this, item, undefined);
          if (refused) break;
        }
      } else refused = inspect(this, data, encoding);
      if (refused) {
        // Nothing of this write goes out: the socket fails with the guard's error.
        this.destroy(refused);
        return undefined;
      }
    }
    return ReflectApply(original, this, [writev, data, encoding, cb]);
  };
  proto._writeGeneric = patched;
  return () => {
    if (proto._writeGeneric === patched) proto._writeGeneric = original;
  };
}
