/**
 * Generated credentials of every kind the leak detector knows, the documents they come in, the encodings a log may
 * wrap them in, and the log lines that carry them. Shared by the masking regression and property tests.
 */
import fc from 'fast-check';

const B32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
const URL64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

function str(alphabet: string, n: number): fc.Arbitrary<string> {
  return fc
    .array(fc.integer({ min: 0, max: alphabet.length - 1 }), { minLength: n, maxLength: n })
    .map((a) => a.map((i) => alphabet[i]).join(''));
}

/** A random string of `alphabet` with at least two character classes (what a real secret has). */
function secretOf(alphabet: string, n: number): fc.Arbitrary<string> {
  return str(alphabet, n).filter(
    (s) => /[a-z]/.test(s) && /[A-Z]/.test(s) && /[0-9]/.test(s) && new Set(s.slice(0, 64)).size >= 16,
  );
}

const b64url = (s: string | Buffer) => Buffer.from(s).toString('base64url');

/** One credential document: its text as an application would log it (JSON) and the secret values in it. */
export interface SecretDoc {
  provider: string;
  json: string;
  /** Values that must never appear in any output (the random part of each secret). */
  secrets: string[];
}

function jwt(payload: object, sig: string): string {
  return `${b64url(JSON.stringify({ typ: 'JWT', alg: 'RS256' }))}.${b64url(JSON.stringify(payload))}.${sig}`;
}

/** A credentials document of every provider and kind the detector knows. */
export const secretDoc: fc.Arbitrary<SecretDoc> = fc.oneof(
  fc
    .record({ id: str(B32, 16), secret: secretOf(B64, 40), token: secretOf(B64, 320) })
    .map(({ id, secret, token }) => ({
      provider: 'aws',
      json: JSON.stringify({
        Code: 'Success',
        Type: 'AWS-HMAC',
        AccessKeyId: `ASIA${id}`,
        SecretAccessKey: secret,
        Token: `IQoJb3JpZ2luX2VjE${token}`,
        Expiration: '2026-11-23T11:10:00Z',
      }),
      secrets: [`ASIA${id}`, secret, token],
    })),
  secretOf(B64, 52).map((t) => ({
    provider: 'aws-imdsv2',
    json: JSON.stringify({ 'x-aws-ec2-metadata-token': `AQAEA${t}` }),
    secrets: [t],
  })),
  secretOf(URL64, 160).map((t) => ({
    provider: 'gcp',
    json: JSON.stringify({ access_token: `ya29.${t}`, expires_in: 3599, token_type: 'Bearer' }),
    secrets: [t],
  })),
  fc.record({ sig: secretOf(URL64, 342), oid: fc.uuid() }).map(({ sig, oid }) => ({
    provider: 'azure',
    json: JSON.stringify({
      access_token: jwt(
        {
          iss: 'https://sts.windows.net/72f988bf-86f1-41af-91ab-2d7cd011db47/',
          oid,
          xms_mirid:
            '/subscriptions/0000/resourcegroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id',
          exp: 1795420000,
        },
        sig,
      ),
      token_type: 'Bearer',
    }),
    secrets: [sig],
  })),
  fc.record({ sig: secretOf(URL64, 342) }).map(({ sig }) => ({
    provider: 'gcp-identity',
    json: JSON.stringify({
      id_token: jwt(
        { iss: 'https://accounts.google.com', email: 'app@proj.iam.gserviceaccount.com', exp: 1795420000 },
        sig,
      ),
    }),
    secrets: [sig],
  })),
  fc.record({ sig: secretOf(URL64, 342) }).map(({ sig }) => ({
    provider: 'oracle',
    json: JSON.stringify({
      token: jwt({ iss: 'authService.oracle.com', sub: 'ocid1.instance.oc1.iad.abc', exp: 1795420000 }, sig),
    }),
    secrets: [sig],
  })),
  fc
    .record({ id: str(ALNUM, 24), secret: secretOf(ALNUM, 30), token: secretOf(B64, 300) })
    .map(({ id, secret, token }) => ({
      provider: 'alibaba',
      json: JSON.stringify({
        AccessKeyId: `STS.${id}`,
        AccessKeySecret: secret,
        Expiration: '2026-11-23T11:10:00Z',
        SecurityToken: `CAIS${token}`,
        Code: 'Success',
      }),
      secrets: [`STS.${id}`, secret, token],
    })),
  fc
    .record({ id: str(ALNUM, 24), secret: secretOf(B64, 44), token: secretOf(B64, 300) })
    .map(({ id, secret, token }) => ({
      provider: 'alibaba-sts-long-secret',
      json: JSON.stringify({ AccessKeyId: `STS.${id}`, AccessKeySecret: secret, SecurityToken: `CAIS${token}` }),
      secrets: [`STS.${id}`, secret, token],
    })),
  secretOf(B64, 640).map((body) => ({
    provider: 'private-key',
    json: JSON.stringify({
      key: `-----BEGIN RSA PRIVATE KEY-----\n${body.match(/.{1,64}/g)!.join('\n')}\n-----END RSA PRIVATE KEY-----\n`,
    }),
    secrets: body.match(/.{1,64}/g)!,
  })),
);

/** The encodings a secret may be wrapped in, each a function of the text. */
export const ENCODINGS: Record<string, (s: string) => string> = {
  percent: (s) => encodeURIComponent(s),
  'percent-form': (s) => new URLSearchParams({ v: s }).toString().slice(2),
  'percent-every-char': (s) => [...Buffer.from(s, 'utf8')].map((b) => `%${b.toString(16).padStart(2, '0')}`).join(''),
  'json-string': (s) => JSON.stringify(s).slice(1, -1),
  'json-every-char': (s) => [...s].map((c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`).join(''),
  'hex-escape': (s) => [...Buffer.from(s, 'utf8')].map((b) => `\\x${b.toString(16).padStart(2, '0')}`).join(''),
  'html-decimal': (s) => [...s].map((c) => `&#${c.charCodeAt(0)};`).join(''),
  'html-named': (s) =>
    s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!),
  base64: (s) => Buffer.from(s, 'utf8').toString('base64'),
  base64url: (s) => Buffer.from(s, 'utf8').toString('base64url'),
  hex: (s) => Buffer.from(s, 'utf8').toString('hex'),
  'json-spaced': (s) =>
    s
      .replace(/":"/g, '": "')
      .replace(/","/g, '", "')
      .replace(/":(\d)/g, '": $1'),
};

/** A composition of encodings, innermost first. */
export const encodingChain = (min: number, max: number): fc.Arbitrary<string[]> =>
  fc.array(fc.constantFrom(...Object.keys(ENCODINGS)), { minLength: min, maxLength: max });

export function encode(text: string, chain: readonly string[]): string {
  return chain.reduce((t, e) => ENCODINGS[e]!(t), text);
}

/** Log lines that carry an (encoded) payload, in the formats the scanner reads and as plain application text. */
export const LOG_FORMATS: Record<string, (payload: string, i: number) => string> = {
  combined: (p, i) =>
    `198.51.100.${i % 250} - - [23/Nov/2026:05:10:32 +0000] "GET /fetch?url=http%3A%2F%2F169.254.169.254%2Flatest%2Fmeta-data%2F&d=${p} HTTP/1.1" 200 512 "-" "python-requests/2.31.0"`,
  json: (p, i) =>
    JSON.stringify({
      time: '2026-11-23T05:10:32Z',
      remote_addr: `198.51.100.${i % 250}`,
      request_uri: `/cb?d=${p}`,
      status: 200,
    }),
  text: (p) => `2026-11-23T05:10:32Z DEBUG upstream said ${p}`,
  logfmt: (p) => `ts=2026-11-23T05:10:32Z level=debug msg="upstream" body="${p}"`,
};

/** Benign lines that look like secrets and must never change. */
export const benignLine: fc.Arbitrary<string> = fc.oneof(
  fc.uuid().map((u) => `2026-11-23T05:10:32Z INFO request_id=${u} GET /account 200`),
  str('0123456789abcdef', 64).map((h) => `2026-11-23T05:10:32Z INFO sha256=${h} uploaded`),
  str('0123456789abcdef', 40).map((h) => `commit ${h} merged`),
  fc.uint8Array({ minLength: 24, maxLength: 96 }).map((b) => `session=${Buffer.from(b).toString('base64')} ok`),
  fc.uint8Array({ minLength: 24, maxLength: 96 }).map((b) => `csrf_token=${Buffer.from(b).toString('base64url')}`),
  fc.constant('aws configure set aws_access_key_id AKIAIOSFODNN7EXAMPLE'),
  fc.constant('export AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY'),
  fc.constant('{"AccessKeyId":"AKIAIOSFODNN7EXAMPLE","SecretAccessKey":"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}'),
  fc.constant(
    `198.51.100.7 - - [23/Nov/2026:05:10:32 +0000] "GET /search?q=caf%C3%A9+cr%C3%A8me&page=2 HTTP/1.1" 200 5120 "-" "Mozilla/5.0"`,
  ),
  fc.constant('<a href="/x?a=1&amp;b=2">&quot;quoted&quot; &#169; 2026</a>'),
);

/** True when `text` holds a piece of `secret` at least `n` characters long. */
export function holdsPiece(text: string, secret: string, n = 12): string | null {
  for (let i = 0; i + n <= secret.length; i++) {
    const p = secret.slice(i, i + n);
    if (text.includes(p)) return p;
  }
  return null;
}

/**
 * Inverse of each encoding, written independently of the masking engine and lenient: it decodes what it can and
 * keeps the rest, so that a mask in the middle of a value does not stop it from reading what is around the mask.
 * Base64 and hex runs are decoded at every alignment (a mask shifts the alignment of what follows it).
 */
const DECODE: Record<string, (s: string) => string> = {
  percent: (s) => s.replace(/%([0-9A-Fa-f]{2})/g, (_m, h: string) => String.fromCharCode(Number.parseInt(h, 16))),
  'percent-form': (s) =>
    s.replace(/\+/g, ' ').replace(/%([0-9A-Fa-f]{2})/g, (_m, h: string) => String.fromCharCode(Number.parseInt(h, 16))),
  'percent-every-char': (s) => DECODE.percent!(s),
  'json-string': (s) =>
    s.replace(/\\(?:u([0-9A-Fa-f]{4})|(["\\/bfnrt]))/g, (_m, u: string | undefined, e: string | undefined) =>
      u
        ? String.fromCharCode(Number.parseInt(u, 16))
        : (({ b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' } as Record<string, string>)[e!] ?? e!),
    ),
  'json-every-char': (s) => DECODE['json-string']!(s),
  'hex-escape': (s) =>
    s.replace(/\\x([0-9A-Fa-f]{2})/g, (_m, h: string) => String.fromCharCode(Number.parseInt(h, 16))),
  'html-decimal': (s) => s.replace(/&#(\d+);/g, (_m, d: string) => String.fromCharCode(Number(d))),
  'html-named': (s) =>
    s.replace(
      /&(amp|lt|gt|quot|#39);/g,
      (_m, n: string) => ({ amp: '&', lt: '<', gt: '>', quot: '"', '#39': "'" })[n]!,
    ),
  base64: (s) => runs(s, /[A-Za-z0-9+/_-]{4,}/g, 4, (r) => Buffer.from(r, 'base64').toString('latin1')),
  base64url: (s) => DECODE.base64!(s),
  hex: (s) => runs(s, /[0-9A-Fa-f]{2,}/g, 2, (r) => Buffer.from(r.slice(0, r.length & ~1), 'hex').toString('latin1')),
  'json-spaced': (s) => s,
};

function runs(s: string, re: RegExp, align: number, dec: (r: string) => string): string {
  const out: string[] = [s];
  for (const m of s.matchAll(re)) for (let k = 0; k < align; k++) out.push(dec(m[0].slice(k)));
  return out.join('\n');
}

/** `text` with the chain undone (outermost first), leniently. */
export function undo(text: string, chain: readonly string[]): string {
  return [...chain].reverse().reduce((t, e) => `${t}\n${DECODE[e]!(t)}`, text);
}

/** A piece of a secret (12 characters) left in `text`, as written or once the chain is undone; or null. */
export function leftOver(text: string, secret: string, chain: readonly string[]): string | null {
  return holdsPiece(text, secret) ?? holdsPiece(undo(text, chain), secret);
}

/** Credentials of one identity per provider, generated from `seed` (the same seed gives the same values). */
export interface GeneratedCredentials {
  awsKeyId: string;
  /** 40 base64 characters, both cases, a digit and a `/` or `+`. */
  awsSecret: string;
  awsToken: string;
  aliKeyId: string;
  /** 30 alphanumerics (a RAM user's secret). */
  aliSecret: string;
  aliToken: string;
  gcpToken: string;
}

export function generatedCredentials(seed: number): GeneratedCredentials {
  // mulberry32: small, seeded and good enough to draw characters.
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const draw = (alphabet: string, n: number) => {
    let s = '';
    for (let i = 0; i < n; i++) s += alphabet[Math.floor(next() * alphabet.length)];
    return s;
  };
  let awsSecret = draw(B64, 40);
  while (!/[a-z]/.test(awsSecret) || !/[A-Z]/.test(awsSecret) || !/[0-9]/.test(awsSecret) || !/[+/]/.test(awsSecret))
    awsSecret = draw(B64, 40);
  return {
    awsKeyId: `ASIA${draw(B32, 16)}`,
    awsSecret,
    awsToken: `IQoJb3JpZ2luX2Vj${draw(B64, 400)}=`,
    aliKeyId: `STS.${draw(ALNUM, 25)}`,
    aliSecret: draw(ALNUM, 30),
    aliToken: `CAIS${draw(B64, 400)}=`,
    gcpToken: `ya29.${draw(URL64, 160)}`,
  };
}
