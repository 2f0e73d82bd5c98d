/**
 * A strict HTTP/1.1 request-head parser (RFC 9112) for the metadata proxy. Metadata clients send a tiny subset of
 * HTTP — a GET or a token PUT with a handful of short headers — so everything outside the grammar is refused rather
 * than repaired: no obs-fold, no bare LF, no whitespace before a colon, no control characters, no duplicate or
 * conflicting framing. Refusing what a lenient parser would guess at is what keeps request smuggling out.
 * Pure: no I/O; the connection handling lives in adapters/net/h1-server.ts.
 */

export class HttpRequestError extends Error {
  /** The status to answer with: 400, 413, 417, 431, 501 or 505. */
  readonly status: number;
  /** A stable code for records ("HPE_HEADER_OVERFLOW" style where Node has one). */
  readonly code: string;
  constructor(status: number, code: string, message: string) {
    super(message);
    this.status = status;
    this.code = code;
    this.name = 'HttpRequestError';
  }
}

/** A parsed head is a value: the server may hand the same object to every request that sent the same bytes. */
export interface RequestHead {
  readonly method: string;
  /** As sent: origin-form for a well-behaved client; anything else is for the policy's target check to refuse. */
  readonly target: string;
  /** HTTP/1.<minor>. */
  readonly minor: 0 | 1;
  /** Lower-cased names; repeated fields joined with ", " (RFC 9110 §5.3). */
  readonly headers: Readonly<Record<string, string>>;
  /** Every field as sent, in order, name (lower-cased) then value: what is forwarded, duplicates kept. */
  readonly fields: readonly string[];
  /** Content-Length, 0 when absent. */
  readonly contentLength: number;
  /** Transfer-Encoding: chunked. */
  readonly chunked: boolean;
  /** Whether the connection stays open after the response (version default, then Connection). */
  readonly keepAlive: boolean;
  /** Expect: 100-continue. */
  readonly expectContinue: boolean;
}

export interface RequestHeadLimits {
  /** Most header fields accepted (431 beyond). Default 100. */
  maxFields?: number;
}

// tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." / "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA
const TCHAR = new Uint8Array(128);
for (const c of "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
  TCHAR[c.charCodeAt(0)] = 1;

function isToken(s: string, from: number, to: number): boolean {
  if (to <= from) return false;
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i);
    if (c >= 128 || TCHAR[c] === 0) return false;
  }
  return true;
}

function bad(message: string): HttpRequestError {
  return new HttpRequestError(400, 'HPE_INVALID_REQUEST', message);
}

/** The tokens of a comma-separated list field, lower-cased. */
function listTokens(v: string): string[] {
  const out: string[] = [];
  for (const part of v.split(',')) {
    const t = part.trim().toLowerCase();
    if (t) out.push(t);
  }
  return out;
}

/**
 * Parse a request head: the request line and header fields, without the blank line that ends them (the caller
 * found it), read as latin1 so every byte is one character. Throws HttpRequestError with the status to answer.
 * @example parseRequestHead('GET /latest/meta-data/ HTTP/1.1\r\nHost: 169.254.169.254').target // '/latest/meta-data/'
 */
export function parseRequestHead(head: string, limits: RequestHeadLimits = {}): RequestHead {
  const maxFields = limits.maxFields ?? 100;
  let eol = head.indexOf('\r\n');
  if (eol < 0) eol = head.length;

  // request-line = method SP request-target SP HTTP-version
  const sp1 = head.indexOf(' ');
  if (sp1 <= 0 || sp1 >= eol) throw bad('malformed request line');
  if (!isToken(head, 0, sp1)) throw bad('malformed method');
  const sp2 = head.indexOf(' ', sp1 + 1);
  if (sp2 < 0 || sp2 >= eol || sp2 === sp1 + 1) throw bad('malformed request line');
  for (let i = sp1 + 1; i < sp2; i++) {
    const c = head.charCodeAt(i);
    // Visible ASCII only: a client percent-encodes everything else.
    if (c <= 0x20 || c >= 0x7f) throw bad('invalid character in request target');
  }
  const version = head.slice(sp2 + 1, eol);
  let minor: 0 | 1;
  if (version === 'HTTP/1.1') minor = 1;
  else if (version === 'HTTP/1.0') minor = 0;
  else if (/^HTTP\/\d\.\d$/.test(version))
    throw new HttpRequestError(505, 'HPE_INVALID_VERSION', `HTTP version not supported (${version})`);
  else throw bad('malformed HTTP version');

  const headers: Record<string, string> = {};
  const fields: string[] = [];
  let hosts = 0;
  let contentLength = -1;
  let te: string | undefined;
  let close = false;
  let keepAliveToken = false;
  let expectContinue = false;
  let pos = eol + 2;
  // Each pass reads one field line; the head ends without a CRLF, so the last line runs to its end.
  while (eol < head.length) {
    let end = head.indexOf('\r\n', pos);
    if (end < 0) end = head.length;
    if (end === pos) throw bad('empty header line');
    if (fields.length / 2 >= maxFields)
      throw new HttpRequestError(431, 'HPE_HEADER_OVERFLOW', `more than ${maxFields} header fields`);
    const first = head.charCodeAt(pos);
    if (first === 0x20 || first === 0x09) throw bad('obsolete line folding');
    const colon = head.indexOf(':', pos);
    if (colon < 0 || colon >= end) throw bad('header line without a colon');
    if (!isToken(head, pos, colon)) throw bad('malformed header name');
    const name = head.slice(pos, colon).toLowerCase();
    let vs = colon + 1;
    let ve = end;
    while (vs < ve && (head.charCodeAt(vs) === 0x20 || head.charCodeAt(vs) === 0x09)) vs++;
    while (ve > vs && (head.charCodeAt(ve - 1) === 0x20 || head.charCodeAt(ve - 1) === 0x09)) ve--;
    for (let i = vs; i < ve; i++) {
      const c = head.charCodeAt(i);
      // field-vchar / SP / HTAB / obs-text: every control character but HTAB is refused (CR, LF and NUL included).
      if ((c < 0x20 && c !== 0x09) || c === 0x7f) throw bad(`invalid character in header "${name}"`);
    }
    const value = head.slice(vs, ve);
    fields.push(name, value);
    const prev = headers[name];
    headers[name] = prev === undefined ? value : `${prev}, ${value}`;
    switch (name) {
      case 'host':
        hosts++;
        break;
      case 'content-length':
        if (contentLength >= 0) throw bad('repeated Content-Length');
        if (!/^\d{1,15}$/.test(value)) throw bad('malformed Content-Length');
        contentLength = Number(value);
        break;
      case 'transfer-encoding':
        te = prev === undefined ? value : `${prev}, ${value}`;
        break;
      case 'connection':
        for (const t of listTokens(value)) {
          if (t === 'close') close = true;
          else if (t === 'keep-alive') keepAliveToken = true;
        }
        break;
      case 'expect':
        if (value.toLowerCase() !== '100-continue')
          throw new HttpRequestError(417, 'HPE_INVALID_EXPECT', `unsupported expectation "${value}"`);
        expectContinue = true;
        break;
    }
    if (end === head.length) break;
    pos = end + 2;
  }

  if (minor === 1 && hosts !== 1) throw bad(hosts === 0 ? 'missing Host header' : 'repeated Host header');
  if (hosts > 1) throw bad('repeated Host header');
  let chunked = false;
  if (te !== undefined) {
    // RFC 9112 §6.1: a Transfer-Encoding in HTTP/1.0, or next to Content-Length, is a smuggling attempt.
    if (minor === 0) throw bad('Transfer-Encoding in an HTTP/1.0 request');
    if (contentLength >= 0) throw bad('both Transfer-Encoding and Content-Length');
    const codings = listTokens(te);
    if (codings.length !== 1 || codings[0] !== 'chunked')
      throw new HttpRequestError(501, 'HPE_INVALID_TRANSFER_ENCODING', `unsupported Transfer-Encoding "${te}"`);
    chunked = true;
  }
  return {
    method: head.slice(0, sp1),
    target: head.slice(sp1 + 1, sp2),
    minor,
    headers,
    fields,
    contentLength: contentLength < 0 ? 0 : contentLength,
    chunked,
    keepAlive: !close && (minor === 1 || keepAliveToken),
    expectContinue,
  };
}
