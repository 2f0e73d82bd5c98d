/**
 * The head of an HTTP request as seen in the first bytes a process wrote on a metadata socket. Only the request
 * line and header *names* are kept, plus the presence of the metadata token headers: a token's value is a secret
 * and never leaves this function.
 */
export interface RequestHead {
  method: string;
  path: string;
  /** Header names, lower-case, in order. */
  headerNames: string[];
  /** A metadata token/flavour header was sent (AWS token, GCP Metadata-Flavor, Azure Metadata, Oracle/ECS Authorization). */
  token: boolean;
  /** AWS IMDSv2 session token header present. */
  awsToken: boolean;
  /** AWS token-TTL header present (the IMDSv2 token PUT). */
  awsTokenTtl: boolean;
}

/** Header names whose presence means "the caller spoke the protected protocol". */
const TOKEN_HEADERS = new Set([
  'x-aws-ec2-metadata-token',
  'metadata-flavor',
  'metadata',
  'authorization',
  'x-identity-header',
]);
const METHOD = /^[A-Z]{3,7}$/;

/**
 * Undo bpftrace's `%r` escaping (`\xNN` for bytes outside printable ASCII) and keep the first `len` bytes: `buf()`
 * copies a fixed size whatever was written, so what follows `len` is unrelated memory.
 */
export function unescapeBpftraceBuf(text: string, len: number): string {
  const out = text.replace(/\\x([0-9a-fA-F]{2})/g, (_m, h: string) => String.fromCharCode(Number.parseInt(h, 16)));
  return len >= 0 ? out.slice(0, len) : out;
}

/**
 * Parse the request line and header names. Returns null when the bytes are not the start of an HTTP/1.x request
 * (a body, a TLS record, a continuation of an earlier write).
 * @example parseRequestHead('GET /latest/meta-data/ HTTP/1.1\r\nHost: x\r\n\r\n')?.path // '/latest/meta-data/'
 */
export function parseRequestHead(bytes: string): RequestHead | null {
  const eol = bytes.indexOf('\r\n');
  const first = eol >= 0 ? bytes.slice(0, eol) : bytes;
  const parts = first.split(' ');
  if (parts.length !== 3) return null;
  const [method, target, version] = parts as [string, string, string];
  if (!METHOD.test(method) || !/^HTTP\/1\.[01]$/.test(version) || target.length === 0) return null;
  let path = target;
  // Absolute-form (through a proxy, or some clients): keep the path only.
  const abs = /^https?:\/\/[^/]*(\/.*)?$/i.exec(target);
  if (abs) path = abs[1] ?? '/';
  const headerNames: string[] = [];
  if (eol >= 0) {
    for (const line of bytes.slice(eol + 2).split('\r\n')) {
      if (line === '') break;
      const colon = line.indexOf(':');
      if (colon <= 0) continue;
      const name = line.slice(0, colon).trim().toLowerCase();
      if (/^[!#$%&'*+.^_`|~0-9a-z-]+$/.test(name)) headerNames.push(name);
    }
  }
  const names = new Set(headerNames);
  return {
    method,
    path,
    headerNames,
    token: headerNames.some((n) => TOKEN_HEADERS.has(n)),
    awsToken: names.has('x-aws-ec2-metadata-token'),
    awsTokenTtl: names.has('x-aws-ec2-metadata-token-ttl-seconds'),
  };
}
