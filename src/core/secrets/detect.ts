import { B64, B64_NOPAD, decodeSecretText, END_B64, END_WORD, QUOTE, SEP, START } from './encoding.ts';
import { classifyJwt, JWT_PATTERN } from './jwt.ts';
import { SECRET_KINDS, type SecretKind, type SecretMatch } from './kinds.ts';

/**
 * Per-line secret detection. A little state crosses lines, because the documents we look for are often
 * pretty-printed or dumped over several lines (curl -v, util.inspect, pretty JSON): whether we are inside a PEM
 * private key, and whether an AWS credential document was seen in the last few lines (which is what makes a bare
 * `"Token" : "…"` an AWS session token rather than any application's token).
 */
export interface DetectState {
  /** 1-based number of the last line seen. */
  line: number;
  /** Until this line, a bare `Token` key is read as an AWS session token. */
  awsContextUntil: number;
  /** Lines of PEM body seen so far, or -1 when outside a PEM block. */
  pemLines: number;
}

export function newDetectState(): DetectState {
  return { line: 0, awsContextUntil: 0, pemLines: -1 };
}

/** How many lines an AWS credential document's context lasts (a pretty-printed document is 9 lines). */
const AWS_CONTEXT_LINES = 12;
/** A PEM block longer than this is not a key we recognise; stop masking its lines. */
const PEM_MAX_LINES = 120;

/**
 * Cheap test run before anything else: a line without any of these cannot hold a secret we detect. Most log lines
 * fail it, which is what keeps scanning and redaction fast.
 */
const PREFILTER = /A[KS]IA|ABIA|ACCA|STS\.|ya29\.|eyJ|secret|token|PRIVATE KEY|AQA[A-Z]A|IQoJ|FwoG|FQoG|AgoJ|CAIS/i;

/** Text that opens an AWS credential document's context even before any key is seen. */
/** False when `text` (one line or many) cannot hold any secret `detectLine` finds. */
export function mayHoldSecret(text: string): boolean {
  return PREFILTER.test(text);
}

const CONTEXT_HINT = /AWS-HMAC|\/security-credentials\//;

/** AWS key ids: a documented 4-letter prefix and 16 base32 characters. Only prefixes that sign requests. */
const KEY_ID_RE = new RegExp(`${START}(?:AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16}${END_WORD}`, 'g');
/** Alibaba STS key ids. */
const STS_ID_RE = new RegExp(`${START}STS\\.[A-Za-z0-9]{16,40}${END_WORD}`, 'g');
/** Prefixes of AWS session tokens (base64 of the token's binary header), old and new formats. */
const AWS_TOKEN_PREFIX = /^(?:IQoJb3JpZ2luX2Vj|FwoGZXIvYXdz|FQoGZXIvYXdz|AgoJb3JpZ2luX2Vj)/;
const AWS_TOKEN_RE = new RegExp(
  `${START}(?:IQoJb3JpZ2luX2Vj|FwoGZXIvYXdz|FQoGZXIvYXdz|AgoJb3JpZ2luX2Vj)${B64}{80,}${END_B64}`,
  'g',
);
/** IMDSv2 session tokens as returned by PUT /latest/api/token: `AQA?A` then base64. */
const IMDSV2_TOKEN_RE = new RegExp(`${START}AQA[A-Z]A${B64}{36,200}${END_B64}`, 'g');
/** Google OAuth access tokens. */
const GCP_TOKEN_RE = new RegExp(`${START}ya29\\.[A-Za-z0-9_-][A-Za-z0-9._-]{30,}${END_WORD}`, 'g');
const JWT_RE = new RegExp(`${START}${JWT_PATTERN}`, 'g');

/** Keys whose value is a secret, in any spelling a log shows them (JSON, env, query, camelCase, snake_case). */
const KEY_SECRET_RE = new RegExp(
  `${START}(?:aws_?)?secret_?access_?key${QUOTE}${SEP}${QUOTE}(?<value>${B64_NOPAD}{40})${END_B64}`,
  'gid',
);
const KEY_ALI_SECRET_RE = new RegExp(
  `${START}access_?key_?secret${QUOTE}${SEP}${QUOTE}(?<value>[A-Za-z0-9]{30})${END_WORD}`,
  'gid',
);
const KEY_TOKEN_RE = new RegExp(
  `${START}(?<key>(?:aws_?)?session_?token|x-amz-security-token|security_?token|token)${QUOTE}${SEP}${QUOTE}(?<value>${B64}{100,})${END_B64}(?![.])`,
  'gid',
);
const KEY_IMDSV2_RE = new RegExp(
  `${START}x-aws-ec2-metadata-token(?!-)${QUOTE}${SEP}${QUOTE}(?<value>${B64}{16,})${END_B64}`,
  'gid',
);

const PEM_BEGIN = /-----BEGIN (?:RSA |EC |DSA |OPENSSH |ENCRYPTED )?PRIVATE KEY-----/;
const PEM_END = /-----END (?:RSA |EC |DSA |OPENSSH |ENCRYPTED )?PRIVATE KEY-----/;
const PEM_BODY_RUN = /[A-Za-z0-9+/=]{16,}/;

/** Documentation examples (AKIAIOSFODNN7EXAMPLE, wJalr…EXAMPLEKEY) are not leaks. */
function isDocExample(v: string): boolean {
  return v.includes('EXAMPLE');
}

/** A random secret has characters of several classes; words, hex ids and repeated characters do not. */
function looksRandom(v: string): boolean {
  let classes = 0;
  if (/[a-z]/.test(v)) classes++;
  if (/[A-Z]/.test(v)) classes++;
  if (/[0-9]/.test(v)) classes++;
  if (classes < 2) return false;
  return new Set(v).size >= Math.min(12, Math.floor(v.length / 3));
}

function make(
  kind: SecretKind,
  start: number,
  end: number,
  value: string,
  extra: Partial<SecretMatch> = {},
): SecretMatch {
  const k = SECRET_KINDS[kind];
  return { kind, provider: k.provider, start, end, value, live: k.live, ...extra };
}

function keyed(
  re: RegExp,
  text: string,
  out: SecretMatch[],
  accept: (value: string, m: RegExpExecArray) => SecretKind | null,
): void {
  re.lastIndex = 0;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) {
    const span = m.indices?.groups?.value;
    if (!span) continue;
    const raw = text.slice(span[0], span[1]);
    const value = decodeSecretText(raw);
    const kind = accept(value, m);
    if (kind) out.push(make(kind, span[0], span[1], value));
  }
}

function shaped(
  re: RegExp,
  text: string,
  out: SecretMatch[],
  f: (raw: string, start: number) => SecretMatch | null,
): void {
  re.lastIndex = 0;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) {
    const r = f(m[0], m.index);
    if (r) out.push(r);
  }
}

/**
 * Secrets written right next to a key id without a key name: `ASIA…,<secret>`, `ASIA…:<secret>`, `ASIA… <secret>`,
 * or as the next query parameter whatever its name (`?k=ASIA…&s=<secret>`).
 */
const NEXT_TO_ID_RE = new RegExp(
  `^(?:[ \\t,;:|/"'=]|%2[Cc]|%3[AaBb]|%20|%2[Ff]|%22|\\\\"|&(?:amp;)?[A-Za-z0-9_.-]{1,40}=){1,6}(?<value>${B64_NOPAD}{40})${END_B64}`,
  'd',
);

function pemMatches(text: string, state: DetectState, out: SecretMatch[]): void {
  const begin = PEM_BEGIN.exec(text);
  if (state.pemLines >= 0) {
    const end = PEM_END.exec(text);
    const bodyText = end ? text.slice(0, end.index) : text;
    const run = PEM_BODY_RUN.exec(bodyText);
    if (run) out.push(make('private-key', run.index, run.index + run[0].length, run[0]));
    state.pemLines = end || ++state.pemLines > PEM_MAX_LINES ? -1 : state.pemLines;
    return;
  }
  if (!begin) return;
  const bodyStart = begin.index + begin[0].length;
  const rest = text.slice(bodyStart);
  const end = PEM_END.exec(rest);
  const body = end ? rest.slice(0, end.index) : rest;
  // The body as written: everything between the markers, escaped newlines included, trimmed of separators.
  const lead = body.length - body.replace(/^(?:\s|\\+[nr])+/, '').length;
  const trail = body.length - body.replace(/(?:\s|\\+[nr])+$/, '').length;
  const s = bodyStart + lead;
  const e = bodyStart + body.length - trail;
  if (e - s >= 16) out.push(make('private-key', s, e, decodeSecretText(text.slice(s, e)).replace(/\\+[nr]|\s/g, '')));
  if (!end) state.pemLines = 0;
}

/** Keep the first of overlapping matches (sorted by start, longer first). */
function dedupe(list: SecretMatch[]): SecretMatch[] {
  list.sort((a, b) => a.start - b.start || b.end - a.end);
  const out: SecretMatch[] = [];
  let lastEnd = -1;
  for (const m of list) {
    if (m.start < lastEnd) continue;
    out.push(m);
    lastEnd = m.end;
  }
  return out;
}

/**
 * Every secret in one line, in order, without overlaps. `state` carries what earlier lines taught (AWS context,
 * PEM blocks) and is updated in place; pass the same object for consecutive lines of one input.
 * @example detectLine('{"AccessKeyId":"ASIAQ3EGU7LR2WNPQX7Z"}', newDetectState())[0].kind // 'aws-access-key-id'
 */
export function detectLine(text: string, state: DetectState): SecretMatch[] {
  state.line++;
  const out: SecretMatch[] = [];
  if (state.pemLines >= 0) pemMatches(text, state, out);
  if (!PREFILTER.test(text)) return out;
  if (CONTEXT_HINT.test(text)) state.awsContextUntil = state.line + AWS_CONTEXT_LINES;

  if (state.pemLines < 0 && out.length === 0) pemMatches(text, state, out);

  shaped(KEY_ID_RE, text, out, (raw, start) => {
    if (isDocExample(raw)) return null;
    return make('aws-access-key-id', start, start + raw.length, raw);
  });
  // A 40-character secret right after a key id, with no key name in between.
  for (const id of out.filter((m) => m.kind === 'aws-access-key-id')) {
    const m = NEXT_TO_ID_RE.exec(text.slice(id.end, id.end + 80));
    const span = m?.indices?.groups?.value;
    if (!m || !span) continue;
    const value = decodeSecretText(m.groups!.value!);
    if (!isDocExample(value) && looksRandom(value) && /[a-z]/.test(value))
      out.push(make('aws-secret-access-key', id.end + span[0], id.end + span[1], value));
  }
  // A real (non-example) key id or secret on this line opens the context for the `Token` lines that follow.
  if (out.length > 0) state.awsContextUntil = state.line + AWS_CONTEXT_LINES;
  const awsContext = state.line <= state.awsContextUntil;
  shaped(STS_ID_RE, text, out, (raw, start) =>
    isDocExample(raw) ? null : make('alibaba-sts-access-key-id', start, start + raw.length, raw),
  );

  keyed(KEY_SECRET_RE, text, out, (v) => (!isDocExample(v) && looksRandom(v) ? 'aws-secret-access-key' : null));
  keyed(KEY_ALI_SECRET_RE, text, out, (v) => (!isDocExample(v) && looksRandom(v) ? 'alibaba-access-key-secret' : null));
  keyed(KEY_TOKEN_RE, text, out, (v, m) => {
    if (isDocExample(v) || !looksRandom(v)) return null;
    if (v.startsWith('CAIS')) return 'alibaba-sts-security-token';
    if (AWS_TOKEN_PREFIX.test(v)) return 'aws-session-token';
    const key = (m.groups?.key ?? '').toLowerCase();
    // Only session-token keys are specific enough on their own; a bare "token" needs an AWS document around it.
    if (key !== 'token' || awsContext) return 'aws-session-token';
    return null;
  });
  keyed(KEY_IMDSV2_RE, text, out, (v) => (looksRandom(v) ? 'aws-imdsv2-session-token' : null));
  shaped(AWS_TOKEN_RE, text, out, (raw, start) =>
    make('aws-session-token', start, start + raw.length, decodeSecretText(raw)),
  );
  shaped(IMDSV2_TOKEN_RE, text, out, (raw, start) => {
    const v = decodeSecretText(raw);
    return looksRandom(v) ? make('aws-imdsv2-session-token', start, start + raw.length, v) : null;
  });
  shaped(GCP_TOKEN_RE, text, out, (raw, start) =>
    isDocExample(raw) ? null : make('gcp-access-token', start, start + raw.length, raw),
  );
  shaped(JWT_RE, text, out, (raw, start) => {
    const id = classifyJwt(raw);
    if (!id) return null;
    return make(id.kind, start, start + raw.length, raw, {
      ...(id.owner ? { owner: id.owner } : {}),
      ...(id.expires ? { expires: id.expires } : {}),
      claims: id.claims,
    });
  });
  return dedupe(out);
}

/**
 * The line with every secret replaced by its mask (`mask` decides the text). Every other character is kept.
 * @example redactLine('key=ASIAQ3EGU7LR2WNPQX7Z', detectLine('key=ASIAQ3EGU7LR2WNPQX7Z', newDetectState()), mask)
 */
export function applyMasks(text: string, matches: readonly SecretMatch[], maskOf: (m: SecretMatch) => string): string {
  if (matches.length === 0) return text;
  let out = '';
  let at = 0;
  for (const m of matches) {
    out += text.slice(at, m.start) + maskOf(m);
    at = m.end;
  }
  return out + text.slice(at);
}
