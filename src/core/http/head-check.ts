/**
 * What the proxy checks in a request head after Node's parser (llhttp, strict mode) accepted it: the few things
 * llhttp lets through that a metadata client never sends and a smuggling attempt might. llhttp itself refuses
 * obs-fold, bare LF and CR, whitespace before a colon, control characters, malformed or repeated Content-Length,
 * Transfer-Encoding next to Content-Length, and unknown methods (tested in test/proxy/front-end.test.ts).
 * Pure: the head as node:http hands it over (version and raw header list), no I/O.
 */

export class HttpRequestError extends Error {
  /** The status to answer with: 400, 408, 413, 417, 431, 501 or 505. */
  readonly status: number;
  /** A stable code for records (llhttp's `HPE_*` where it has one). */
  readonly code: string;
  constructor(status: number, code: string, message: string) {
    super(message);
    this.status = status;
    this.code = code;
    this.name = 'HttpRequestError';
  }
}

export interface HeadLimits {
  /** Most header fields accepted (431 beyond). Default 100. */
  maxFields?: number;
}

const bad = (message: string) => new HttpRequestError(400, 'HPE_INVALID_REQUEST', message);

/**
 * The first problem of a parsed head, or null.
 * @example headProblem('1.1', ['Host', 'a', 'Host', 'b'])?.message // 'repeated Host header'
 */
export function headProblem(
  httpVersion: string,
  rawHeaders: readonly string[],
  limits: HeadLimits = {},
): HttpRequestError | null {
  // llhttp accepts HTTP/0.9 (`GET /`) and any single-digit version.
  if (httpVersion !== '1.1' && httpVersion !== '1.0')
    return new HttpRequestError(505, 'HPE_INVALID_VERSION', `HTTP version not supported (${httpVersion})`);
  const maxFields = limits.maxFields ?? 100;
  if (rawHeaders.length / 2 > maxFields)
    return new HttpRequestError(431, 'HPE_HEADER_OVERFLOW', `more than ${maxFields} header fields`);
  let hosts = 0;
  let te: string | undefined;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!.toLowerCase();
    const value = rawHeaders[i + 1]!;
    if (name === 'host') hosts++;
    else if (name === 'transfer-encoding') te = te === undefined ? value : `${te}, ${value}`;
    else if (name === 'expect' && value.toLowerCase() !== '100-continue')
      return new HttpRequestError(417, 'HPE_INVALID_EXPECT', `unsupported expectation "${value}"`);
  }
  // Node keeps the first of two Host fields; which one a server behind reads is anyone's guess.
  if (hosts > 1) return bad('repeated Host header');
  if (httpVersion === '1.1' && hosts === 0) return bad('missing Host header');
  if (te !== undefined) {
    // RFC 9112 §6.1: Transfer-Encoding in HTTP/1.0 is a smuggling shape; llhttp reads it as chunked.
    if (httpVersion === '1.0') return bad('Transfer-Encoding in an HTTP/1.0 request');
    // llhttp accepts any coding list ending in chunked (`gzip, chunked`); metadata clients send none.
    if (te.trim().toLowerCase() !== 'chunked')
      return new HttpRequestError(501, 'HPE_INVALID_TRANSFER_ENCODING', `unsupported Transfer-Encoding "${te}"`);
  }
  return null;
}

/**
 * An HTTP/0.9 request line (`GET /path`, no version) at the start of a connection's first bytes, read as latin1:
 * its method, target and the 505 it gets, or null. llhttp takes such a line for the start of a head and waits for a
 * blank line that an HTTP/0.9 client never sends; seen here, it is answered at once instead of at the headers
 * timeout. Anything else (a line not complete in these bytes, or malformed otherwise) is left to llhttp.
 * @example requestLineProblem('GET /latest/meta-data/\r\n')?.error.status // 505
 */
export function requestLineProblem(first: string): { method: string; target: string; error: HttpRequestError } | null {
  const lf = first.indexOf('\n');
  if (lf < 0) return null;
  const line = first.slice(0, first[lf - 1] === '\r' ? lf - 1 : lf);
  const m = /^([A-Z]{1,20}) ([^\s]{1,8192})$/.exec(line);
  if (!m) return null;
  return {
    method: m[1]!,
    target: m[2]!.slice(0, 2048),
    error: new HttpRequestError(505, 'HPE_INVALID_VERSION', 'HTTP/0.9 request line (no HTTP version)'),
  };
}
