/**
 * The proxy's HTTP/1.1 front end on plain TCP sockets. node:http costs about four times the CPU per request of
 * everything else the proxy does (measured with perf under wrk: IncomingMessage/ServerResponse streams, header
 * objects, per-request timers); this keeps one small object per connection, parses heads with the strict
 * core/http parser, writes each response in one system call where it can, and checks every timeout from one
 * sweep per server rather than a timer per socket.
 *
 * One request at a time per connection: pipelined requests wait in the buffer (and the socket is paused when too
 * much waits), so responses always leave in order. Request bodies are small (metadata clients send none; the cap
 * is 64 KiB by default, 413 beyond) and are read whole before the request is handed on; responses are streamed.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { ChunkedDecoder } from '../../core/http/chunked-decoder.ts';
import { HttpRequestError, parseRequestHead, type RequestHead } from '../../core/http/request-head.ts';

export interface H1ServerOptions {
  host: string;
  port: number;
  /** A complete request head within this time of its first byte (or of the connection). Default 5000. */
  headersTimeoutMs?: number;
  /** The whole request (head and body) within this time. Default 10000. */
  requestTimeoutMs?: number;
  /** An idle keep-alive connection is closed after this time. Default 5000. */
  keepAliveTimeoutMs?: number;
  /** Largest request head (431 beyond). Default 8192. */
  maxHeaderSize?: number;
  /** Largest request body (413 beyond). Default 65536. */
  maxBodyBytes?: number;
  backlog?: number;
}

export interface H1Request {
  readonly head: RequestHead;
  /** The body, read whole; null when the request has none. */
  readonly body: Buffer | null;
}

export interface H1Handler<C> {
  /** A connection was accepted: start whatever per-connection work (attribution) can run while its head arrives. */
  onConnection(conn: H1Connection<C>): void;
  /** The connection has closed (whichever end closed it). */
  onClose?(conn: H1Connection<C>): void;
  /** A complete request. Answer it exactly once: respond(), or beginResponse()/sendBody()/endResponse(), or abort(). */
  onRequest(conn: H1Connection<C>, req: H1Request): void;
  /**
   * A request that could not be read (malformed, too large, too slow). The connection reads no more; answer with
   * reject(err) — soon: a connection not answered within a second is dropped.
   */
  onClientError(conn: H1Connection<C>, err: HttpRequestError, head: RequestHead | undefined): void;
}

const CRLFCRLF = Buffer.from('\r\n\r\n');
const CONTINUE = 'HTTP/1.1 100 Continue\r\n\r\n';
const LAST_CHUNK = '0\r\n\r\n';
const MAX_CACHED_HEADS = 512;
const MAX_CACHED_HEAD = 2048;
/** Bodies up to this size are copied next to their head and sent in one write; larger ones are not copied. */
const SMALL_BODY = 16 * 1024;

type State = 'head' | 'body' | 'busy' | 'idle' | 'rejecting' | 'closed';

/** RFC 9110 date, made once a second. */
let dateSecond = -1;
let dateText = '';
function httpDate(now: number): string {
  const s = Math.floor(now / 1000);
  if (s !== dateSecond) {
    dateSecond = s;
    dateText = new Date(s * 1000).toUTCString();
  }
  return dateText;
}

export const REASON: Readonly<Record<number, string>> = {
  200: 'OK',
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  408: 'Request Timeout',
  413: 'Content Too Large',
  417: 'Expectation Failed',
  429: 'Too Many Requests',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  501: 'Not Implemented',
  502: 'Bad Gateway',
  504: 'Gateway Timeout',
  505: 'HTTP Version Not Supported',
};

export class H1Connection<C> {
  readonly socket: Socket;
  /** The handler's per-connection value (the caller's identity). */
  context: C | undefined;
  /** Called once if the connection closes while a request is being answered. */
  onAbort: (() => void) | undefined;
  private state: State = 'head';
  private buf: Buffer | null = null;
  private deadline: number;
  private gotBytes = false;
  private requestStart = 0;
  private head: RequestHead | undefined;
  private bodyParts: Buffer[] = [];
  private bodyRemaining = 0;
  private decoder: ChunkedDecoder | undefined;
  private pumping = false;
  private paused = false;
  private clientEnded = false;
  /** Of the request being answered. */
  private keepAlive = false;
  private bodyless = false;
  private chunkedOut = false;
  private pendingHead: string | null = null;
  private readonly server: H1Server<C>;

  constructor(server: H1Server<C>, socket: Socket) {
    this.server = server;
    this.socket = socket;
    this.requestStart = Date.now();
    this.deadline = this.requestStart + server.headersTimeoutMs;
    socket.on('data', (c: Buffer) => this.onData(c));
    socket.on('end', () => this.onEnd());
    socket.on('error', () => this.socket.destroy());
    socket.on('close', () => this.onClose());
  }

  /** The request now being answered is HTTP/1.0 (framing and keep-alive differ). */
  private get minor(): 0 | 1 {
    return this.head?.minor ?? 1;
  }

  private onData(chunk: Buffer): void {
    if (this.state === 'rejecting' || this.state === 'closed') return;
    this.gotBytes = true;
    this.buf = this.buf === null ? chunk : Buffer.concat([this.buf, chunk]);
    if (this.state === 'busy') {
      // Pipelined: kept for later; stop reading when a client sends far ahead of its answers.
      if (this.buf.length > this.server.maxHeaderSize + this.server.maxBodyBytes && !this.paused) {
        this.paused = true;
        this.socket.pause();
      }
      return;
    }
    this.pump();
  }

  private onEnd(): void {
    this.clientEnded = true;
    // A client may send its request and half-close: answer it, then close. Anything else incomplete is dropped.
    if (this.state !== 'busy' && this.state !== 'rejecting') this.socket.destroy();
  }

  private onClose(): void {
    const wasBusy = this.state === 'busy';
    this.state = 'closed';
    this.server.forget(this);
    this.server.handler.onClose?.(this);
    const abort = this.onAbort;
    this.onAbort = undefined;
    if (wasBusy && abort) abort();
  }

  /** Read as many requests from the buffer as are complete, one at a time. */
  private pump(): void {
    if (this.pumping) return;
    this.pumping = true;
    try {
      while (this.buf !== null && (this.state === 'idle' || this.state === 'head' || this.state === 'body')) {
        if (!this.advance()) break;
      }
    } finally {
      this.pumping = false;
    }
  }

  /** One step over the buffer; false when more bytes are needed. */
  private advance(): boolean {
    const buf = this.buf!;
    const now = Date.now();
    if (this.state === 'idle') {
      this.state = 'head';
      this.requestStart = now;
      this.deadline = now + this.server.headersTimeoutMs;
    }
    if (this.state === 'head') {
      // RFC 9112 §2.2: empty lines before a request line are ignored.
      let start = 0;
      while (start + 1 < buf.length && buf[start] === 13 && buf[start + 1] === 10) start += 2;
      const end = buf.indexOf(CRLFCRLF, start);
      const max = this.server.maxHeaderSize;
      if (end < 0 || end - start > max) {
        if (buf.length - start > max || end >= 0) {
          this.fail(new HttpRequestError(431, 'HPE_HEADER_OVERFLOW', `request head over ${max} bytes`));
          return false;
        }
        this.buf = start === 0 ? buf : start === buf.length ? null : buf.subarray(start);
        return false;
      }
      let head: RequestHead;
      try {
        head = this.server.parseHead(buf.toString('latin1', start, end));
      } catch (e) {
        this.fail(e instanceof HttpRequestError ? e : new HttpRequestError(400, 'HPE_INVALID_REQUEST', String(e)));
        return false;
      }
      this.head = head;
      const rest = end + 4 === buf.length ? null : buf.subarray(end + 4);
      this.buf = rest;
      if (head.chunked) {
        this.decoder = new ChunkedDecoder(this.server.maxBodyBytes);
      } else if (head.contentLength > 0) {
        if (head.contentLength > this.server.maxBodyBytes) {
          this.fail(
            new HttpRequestError(413, 'HPE_BODY_TOO_LARGE', `request body over ${this.server.maxBodyBytes} bytes`),
            head,
          );
          return false;
        }
        this.bodyRemaining = head.contentLength;
        this.bodyParts = [];
      } else {
        this.dispatch(head, null);
        return true;
      }
      this.state = 'body';
      this.deadline = this.requestStart + this.server.requestTimeoutMs;
      if (head.expectContinue) this.socket.write(CONTINUE, 'latin1');
      return rest !== null;
    }
    // Body.
    const head = this.head!;
    if (this.decoder) {
      let used: number;
      try {
        used = this.decoder.write(buf);
      } catch (e) {
        this.fail(e as HttpRequestError, head);
        return false;
      }
      this.buf = used === buf.length ? null : buf.subarray(used);
      if (!this.decoder.done) return false;
      const body = this.decoder.body();
      this.decoder = undefined;
      this.dispatch(head, body);
      return true;
    }
    const n = Math.min(this.bodyRemaining, buf.length);
    this.bodyParts.push(buf.subarray(0, n));
    this.bodyRemaining -= n;
    this.buf = n === buf.length ? null : buf.subarray(n);
    if (this.bodyRemaining > 0) return false;
    const body = Buffer.concat(this.bodyParts);
    this.bodyParts = [];
    this.dispatch(head, body);
    return true;
  }

  private dispatch(head: RequestHead, body: Buffer | null): void {
    this.state = 'busy';
    this.deadline = Number.POSITIVE_INFINITY;
    this.keepAlive = head.keepAlive && !this.server.closing;
    this.pendingHead = null;
    this.server.handler.onRequest(this, { head, body });
  }

  private fail(err: HttpRequestError, head?: RequestHead): void {
    this.state = 'rejecting';
    this.buf = null;
    this.deadline = Date.now() + 1000;
    this.server.handler.onClientError(this, err, head);
  }

  /** Answer a request that could not be read, and close. */
  reject(err: HttpRequestError): void {
    if (this.state !== 'rejecting') return;
    this.state = 'closed';
    const s = this.socket;
    if (s.writable && !s.destroyed) {
      s.end(
        `HTTP/1.1 ${err.status} ${REASON[err.status] ?? 'Error'}\r\nconnection: close\r\ncontent-length: 0\r\ndate: ${httpDate(Date.now())}\r\n\r\n`,
        'latin1',
      );
      s.destroySoon();
    } else s.destroy();
  }

  private connectionLines(): string {
    if (!this.keepAlive) return 'connection: close\r\n';
    return this.server.keepAliveLines;
  }

  /** A whole response with a small body (a refusal). `headerLines` are complete lines, each ending in CRLF. */
  respond(status: number, headerLines: string, body: string): void {
    if (this.state !== 'busy') return;
    const isHead = this.head?.method === 'HEAD';
    const text =
      `HTTP/1.1 ${status} ${REASON[status] ?? 'Status'}\r\n${headerLines}content-length: ${Buffer.byteLength(body)}\r\n` +
      `date: ${httpDate(Date.now())}\r\n${this.connectionLines()}\r\n${isHead ? '' : body}`;
    this.socket.write(text);
    this.finish();
  }

  /**
   * Start a streamed response. `length` is the body's length when known (-1 otherwise: chunked to an HTTP/1.1
   * client, close-delimited to an HTTP/1.0 one). The head is sent with the first piece of body, in one write.
   */
  beginResponse(status: number, reason: string, headerLines: string, length: number): void {
    if (this.state !== 'busy') return;
    this.bodyless = this.head?.method === 'HEAD' || status === 204 || status === 304 || status < 200;
    let framing = '';
    this.chunkedOut = false;
    if (length >= 0) {
      if (status !== 204 && status >= 200) framing = `content-length: ${length}\r\n`;
    } else if (!this.bodyless) {
      if (this.minor === 1) {
        this.chunkedOut = true;
        framing = 'transfer-encoding: chunked\r\n';
      } else this.keepAlive = false;
    }
    this.pendingHead = `HTTP/1.1 ${status} ${reason}\r\n${headerLines}${framing}${this.connectionLines()}\r\n`;
  }

  /** A piece of the body; `last` ends the response. False when the client is slow: wait for onDrain(). */
  sendBody(chunk: Buffer, last: boolean): boolean {
    if (this.state !== 'busy') return true;
    const s = this.socket;
    const data = !this.bodyless && chunk.length > 0;
    const head = this.pendingHead;
    this.pendingHead = null;
    const prefix = `${head ?? ''}${data && this.chunkedOut ? `${chunk.length.toString(16)}\r\n` : ''}`;
    const suffix = `${data && this.chunkedOut ? '\r\n' : ''}${last && this.chunkedOut ? LAST_CHUNK : ''}`;
    if (!data) {
      if (prefix || suffix) s.write(prefix + suffix, 'latin1');
    } else if (chunk.length <= SMALL_BODY) {
      // The usual metadata answer: head and whole body in one buffer, one write, one system call.
      const out = Buffer.allocUnsafe(prefix.length + chunk.length + suffix.length);
      out.write(prefix, 0, 'latin1');
      chunk.copy(out, prefix.length);
      if (suffix) out.write(suffix, prefix.length + chunk.length, 'latin1');
      s.write(out);
    } else {
      s.cork();
      if (prefix) s.write(prefix, 'latin1');
      s.write(chunk);
      if (suffix) s.write(suffix, 'latin1');
      s.uncork();
    }
    if (last) {
      this.finish();
      return true;
    }
    return !s.writableNeedDrain;
  }

  /** End the response (after its last sendBody, or with no body at all). */
  endResponse(): void {
    if (this.state !== 'busy') return;
    this.sendBody(Buffer.alloc(0), true);
  }

  /** Call `f` once the client has taken what was written; the connection is dropped if it never does. */
  onDrain(f: () => void): void {
    this.deadline = Date.now() + this.server.requestTimeoutMs;
    this.socket.once('drain', () => {
      if (this.state === 'busy') this.deadline = Number.POSITIVE_INFINITY;
      f();
    });
  }

  /** Give up on the response (the upstream failed mid-body): the client sees the connection close. */
  abort(): void {
    this.onAbort = undefined;
    this.state = 'closed';
    this.socket.destroy();
  }

  /** Whether the request in hand is still being answered (the client has not gone). */
  get answering(): boolean {
    return this.state === 'busy';
  }

  private finish(): void {
    this.onAbort = undefined;
    this.head = undefined;
    if (!this.keepAlive || this.clientEnded) {
      this.state = 'closed';
      const s = this.socket;
      // Everything written is with the kernel already (the usual case): close at once, and the kernel sends it
      // followed by FIN. Otherwise end after the queue drains.
      if (s.writableLength === 0 && this.buf === null) s.destroy();
      else s.destroySoon();
      return;
    }
    this.state = 'idle';
    this.deadline = Date.now() + this.server.keepAliveTimeoutMs;
    if (this.paused) {
      this.paused = false;
      this.socket.resume();
    }
    // A pipelined request waits: answered from inside onRequest (a refusal), the running pump carries on; answered
    // from inside the upstream client's callback, the next request starts once that callback has returned.
    if (this.buf !== null && !this.pumping) queueMicrotask(() => this.pump());
  }

  /** Called by the sweep. */
  check(now: number): void {
    if (now < this.deadline) return;
    switch (this.state) {
      case 'head':
        // A connection that never sent a byte is not a request: it is closed without an answer or a record.
        if (!this.gotBytes && this.buf === null) this.socket.destroy();
        else this.fail(new HttpRequestError(408, 'ERR_HTTP_REQUEST_TIMEOUT', 'request head not complete in time'));
        return;
      case 'body':
        this.fail(
          new HttpRequestError(408, 'ERR_HTTP_REQUEST_TIMEOUT', 'request body not complete in time'),
          this.head,
        );
        return;
      default:
        // Idle keep-alive, a client not reading its response, or a refusal nobody answered.
        this.socket.destroy();
    }
  }
}

export class H1Server<C> {
  readonly handler: H1Handler<C>;
  readonly headersTimeoutMs: number;
  readonly requestTimeoutMs: number;
  readonly keepAliveTimeoutMs: number;
  readonly maxHeaderSize: number;
  readonly maxBodyBytes: number;
  readonly keepAliveLines: string;
  closing = false;
  private readonly net: Server;
  private readonly conns = new Set<H1Connection<C>>();
  private readonly heads = new Map<string, RequestHead>();
  private sweep: NodeJS.Timeout | undefined;
  private readonly opts: H1ServerOptions;

  constructor(opts: H1ServerOptions, handler: H1Handler<C>) {
    this.opts = opts;
    this.handler = handler;
    this.headersTimeoutMs = opts.headersTimeoutMs ?? 5000;
    this.requestTimeoutMs = opts.requestTimeoutMs ?? 10_000;
    this.keepAliveTimeoutMs = opts.keepAliveTimeoutMs ?? 5000;
    this.maxHeaderSize = opts.maxHeaderSize ?? 8192;
    this.maxBodyBytes = opts.maxBodyBytes ?? 64 * 1024;
    this.keepAliveLines = `connection: keep-alive\r\nkeep-alive: timeout=${Math.max(1, Math.floor(this.keepAliveTimeoutMs / 1000))}\r\n`;
    // allowHalfOpen: a client that sends its request and shuts its sending side still gets its answer.
    this.net = createServer({ allowHalfOpen: true, noDelay: true }, (sock) => {
      const c = new H1Connection(this, sock);
      this.conns.add(c);
      handler.onConnection(c);
    });
  }

  /**
   * Parse a head, or reuse the result for a head seen before byte for byte: a client asks the same few things over
   * and over, and each answer is an immutable value. Bounded; refused heads are never kept.
   */
  parseHead(text: string): RequestHead {
    let h = this.heads.get(text);
    if (h === undefined) {
      h = parseRequestHead(text);
      if (text.length <= MAX_CACHED_HEAD) {
        if (this.heads.size >= MAX_CACHED_HEADS) this.heads.clear();
        this.heads.set(text, h);
      }
    }
    return h;
  }

  forget(c: H1Connection<C>): void {
    this.conns.delete(c);
  }

  get connections(): number {
    return this.conns.size;
  }

  listen(): Promise<{ host: string; port: number }> {
    const { host, port } = this.opts;
    return new Promise((resolve, reject) => {
      this.net.once('error', reject);
      this.net.listen({ host, port, ipv6Only: host.includes(':'), backlog: this.opts.backlog ?? 4096 }, () => {
        this.net.off('error', reject);
        const every = Math.max(
          10,
          Math.min(1000, Math.floor(Math.min(this.headersTimeoutMs, this.keepAliveTimeoutMs) / 4)),
        );
        this.sweep = setInterval(() => {
          const now = Date.now();
          for (const c of this.conns) c.check(now);
        }, every);
        this.sweep.unref();
        const a = this.net.address();
        resolve({ host, port: typeof a === 'object' && a ? a.port : port });
      });
    });
  }

  /** Stop accepting, and close every connection. */
  close(): Promise<void> {
    this.closing = true;
    clearInterval(this.sweep);
    return new Promise((resolve) => {
      this.net.close(() => resolve());
      for (const c of this.conns) c.socket.destroy();
    });
  }
}
