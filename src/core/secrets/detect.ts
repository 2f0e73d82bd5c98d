import {
  B64,
  B64_NOPAD,
  decodeSecretText,
  END_B64,
  END_WORD,
  NAME_SEP,
  PARTIAL_ESCAPE,
  QUOTE,
  SEP,
  VALUE_OPEN,
} from './encoding.ts';
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
  /** The last line that held a JWT's start (`eyJ`), so that a JWT cut at its end is looked for only there. */
  jwtLine?: number;
  /** A line that ended with a field naming a secret (`- name: AWS_SECRET_ACCESS_KEY`): its value may open the next. */
  namedField?: { line: number; name: string };
  /** A CSV header named a secret's column: each row under it with as many fields holds that secret there. */
  csvColumn?: { index: number; name: string; fields: number; sep: string };
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
const PREFILTER =
  /A[KS]IA|ABIA|ACCA|STS\.|ya29\.|eyJ|[Ss][Ee][Cc][Rr][Ee][Tt]|[Tt][Oo][Kk][Ee][Nn]|PRIVATE KEY|AQA[A-Z]A|IQoJ|FwoG|FQoG|AgoJ|AQoD|CAIS/;

/** False when `text` (one line or many) cannot hold any secret `detectLine` finds. */
export function mayHoldSecret(text: string): boolean {
  return PREFILTER.test(text);
}

/** Text that opens an AWS credential document's context even before any key is seen. */
const CONTEXT_HINT = /AWS-HMAC|\/security-credentials\//;

// Every pattern starts with a literal, so the regex engine can skip ahead quickly; whether a match starts at a
// token boundary (escapes included) is checked afterwards by `startsToken`.

/** AWS key ids: a documented 4-letter prefix and 16 base32 characters. Only prefixes that sign requests. */
const KEY_ID_RE = /(?:AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16}(?![A-Z0-9])/g;
/**
 * A key id's base32 alphabet has no lowercase letter, so one right after its 16 characters ends it
 * (`key-AKIA…x.log`, a key id used in a file's name). Such a run is masked unless it reads as a word in capitals
 * glued to a lowercase tail (`ASIAPACIFICREGIONSettings`): a random id has a digit (2-7) or few vowels, a word in
 * capitals has neither.
 */
function keyIdBeforeLower(id: string): boolean {
  const body = id.slice(4);
  return /[2-7]/.test(body) || (body.match(/[AEIOU]/g)?.length ?? 0) <= 4;
}
/** Alibaba STS key ids. */
const STS_ID_RE = new RegExp(`STS\\.[A-Za-z0-9]{16,40}${END_WORD}`, 'g');
/** Prefixes of AWS session tokens (base64 of the token's binary header), old and new formats. */
const AWS_TOKEN_PREFIX = /^(?:IQoJb3JpZ2luX2Vj|FwoGZXIvYXdz|FQoGZXIvYXdz|AgoJb3JpZ2luX2Vj|AQoDYXdz)/;
const AWS_TOKEN_PREFIXES = ['IQoJb3JpZ2luX2Vj', 'FwoGZXIvYXdz', 'FQoGZXIvYXdz', 'AgoJb3JpZ2luX2Vj', 'AQoDYXdz'];
const AWS_TOKEN_RE = new RegExp(
  `(?:IQoJb3JpZ2luX2Vj|FwoGZXIvYXdz|FQoGZXIvYXdz|AgoJb3JpZ2luX2Vj|AQoDYXdz)${B64}{80,}${END_B64}`,
  'g',
);
/** IMDSv2 session tokens as returned by PUT /latest/api/token: `AQA?A` then base64. */
const IMDSV2_TOKEN_RE = new RegExp(`AQA[A-Z]A(?:${B64}|[_-]){36,200}${END_B64}(?![_-])`, 'g');
/** Google OAuth access tokens. */
const GCP_TOKEN_RE = new RegExp(`ya29\\.[A-Za-z0-9_-][A-Za-z0-9._-]{30,}${END_WORD}`, 'g');
const JWT_RE = new RegExp(JWT_PATTERN, 'g');

/**
 * Names of an AWS secret key, in any spelling a log shows them: JSON, env, query, header, XML, camelCase, snake_case,
 * kebab-case, SDK and CLI forms (`SecretAccessKey`, `secret_key`, `AWS_SECRET_KEY`, `awsSecretKey`,
 * `X-Amz-Secret-Access-Key`, `--secret-key`, `secret access key`).
 */
const SECRET_KEY_NAME = 'secret[-_ ]?(?:access[-_ ]?)?key';
/** Keys whose value is an AWS secret key. */
/**
 * An AWS secret key may hold `/`, so a path separator right after its 40 characters cannot be told from the key by
 * the alphabet: under the key's own name the 40 characters are the key and a `/` after them starts the next path
 * segment (`/d/aws_secret_access_key=<key>/a.log`, a key used as a directory's name).
 */
const AFTER_SECRET = String.raw`(?:${END_B64}|(?=\/|%2[Ff]|%252[Ff]|\{1,7}\/|\{1,7}u002[Ff]))`;
const KEY_SECRET_RE = new RegExp(
  `${SECRET_KEY_NAME}${QUOTE}${NAME_SEP}${VALUE_OPEN}(?<value>${B64_NOPAD}{40})${AFTER_SECRET}`,
  'gid',
);
/** Alibaba AccessKeySecret: 30 alphanumerics for a RAM user's key, longer and base64-like for an STS credential. */
const KEY_ALI_SECRET_RE = new RegExp(
  `access[-_]?key[-_]?secret${QUOTE}${NAME_SEP}${VALUE_OPEN}(?<value>${B64_NOPAD}{30,64})${END_B64}`,
  'gid',
);
/** Any key ending in "token"; which key it is (the word in front) decides how much else is needed. */
const KEY_TOKEN_RE = new RegExp(`token${QUOTE}${SEP}${QUOTE}(?<value>${B64}{100,})${END_B64}(?![.])`, 'gid');
/** Token keys that name an AWS session token on their own (AWS API, CLI, SDK and SigV4 spellings). */
const AWS_TOKEN_KEY = /(?:^|[^A-Za-z])(?:aws_?session_?|x-amz-security-)$|(?:^|[^A-Za-z])Session$|(?:^|\.)session$/i;
/**
 * The value of an IMDSv2 token header, its name spelled with `-` or `_` (`X_AWS_EC2_METADATA_TOKEN` as a CGI or JSON
 * key): base64 as EC2 issues it, but read on through `-` and `_` (a token written in base64url, or a forged one), so
 * that masking never stops inside the value.
 */
const KEY_IMDSV2_RE = new RegExp(
  `x[-_]aws[-_]ec2[-_]metadata[-_]token(?![-_])${QUOTE}${SEP}${QUOTE}(?<value>(?:${B64}|[_-]){16,})${END_B64}(?![_-])`,
  'gid',
);

function isAlnum(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
}
function isHex(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102);
}

/**
 * True when a token starting at `i` starts at a word boundary, escapes counting as boundaries: `%22ASIA…`,
 * `%2522ASIA…`, `\u0022ASIA…`, `\x22ASIA…` and `\nASIA…` all start a token although an alphanumeric character precedes it.
 */
export function startsToken(text: string, i: number): boolean {
  if (i === 0 || !isAlnum(text.charCodeAt(i - 1))) return true;
  // `%22`, and quoted-printable's `=3D` (a mailed `key=ASIA…`).
  const esc = text.charCodeAt(i - 3);
  if (i >= 3 && (esc === 37 || esc === 61) && isHex(text.charCodeAt(i - 2)) && isHex(text.charCodeAt(i - 1)))
    return true;
  if (i >= 5 && text.charCodeAt(i - 5) === 37 && text.startsWith('25', i - 4) && isHex(text.charCodeAt(i - 2)))
    return true;
  if (i >= 4 && text.charCodeAt(i - 4) === 92 && text.charCodeAt(i - 3) === 120 && isHex(text.charCodeAt(i - 2)))
    return true;
  if (i >= 6 && text.charCodeAt(i - 6) === 92 && text.charCodeAt(i - 5) === 117) return true;
  if (i >= 2 && text.charCodeAt(i - 2) === 92 && 'nrtbf'.includes(text[i - 1]!)) return true;
  return false;
}

/** The word in front of a key ending at `i` (e.g. `aws_session_` in front of `token`). */
function keyPrefix(text: string, i: number): string {
  let j = i;
  while (j > 0 && i - j < 40) {
    const c = text.charCodeAt(j - 1);
    if (isAlnum(c) || c === 95 || c === 45 || c === 46) j--;
    else break;
  }
  return text.slice(j, i);
}

const PEM_BEGIN = /-----BEGIN (?:RSA |EC |DSA |OPENSSH |ENCRYPTED )?PRIVATE KEY-----/;
const PEM_END = /-----END (?:RSA |EC |DSA |OPENSSH |ENCRYPTED )?PRIVATE KEY-----/;
const PEM_BODY_RUNS = /[A-Za-z0-9+/=]{16,}/g;

/** Documentation examples (AKIAIOSFODNN7EXAMPLE, wJalr…EXAMPLEKEY) are not leaks. */
function isDocExample(v: string): boolean {
  return v.includes('EXAMPLE');
}

const SEEN = new Uint8Array(128);

/**
 * A random secret has characters of several classes and many distinct characters; words, hex ids and repeated
 * characters do not. Looks at the first 64 characters only: enough to tell, and cheap on long tokens.
 */
export function looksRandom(v: string): boolean {
  const n = Math.min(v.length, 64);
  SEEN.fill(0);
  let lower = 0;
  let upper = 0;
  let digit = 0;
  let distinct = 0;
  for (let i = 0; i < n; i++) {
    const c = v.charCodeAt(i) & 127;
    if (c >= 97 && c <= 122) lower = 1;
    else if (c >= 65 && c <= 90) upper = 1;
    else if (c >= 48 && c <= 57) digit = 1;
    if (SEEN[c] === 0) {
      SEEN[c] = 1;
      distinct++;
    }
  }
  return lower + upper + digit >= 2 && distinct >= Math.min(12, Math.floor(v.length / 3));
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
    if (!startsToken(text, m.index)) {
      re.lastIndex = m.index + 1;
      continue;
    }
    const r = f(m[0], m.index);
    if (r) out.push(r);
  }
}

/**
 * What may stand between a key id and its secret key, in either order: separators, escaped or not, a key name of
 * any spelling with its separator (`key=ASIA… secret=<secret>`, `AccessKey=ASIA…; Secret=<secret>`,
 * `access_key='ASIA…', secret_key='<secret>'`), the next query parameter whatever its name (`?k=ASIA…&s=<secret>`,
 * `?s=<secret>&k=ASIA…`), the AWS CLI's text output's expiry (`CREDENTIALS ASIA… <expiry> <secret>`), or a table's
 * cell boundaries (HTML `</td><td>`, the CLI's `  |  ` with an expiry column between).
 */
const BETWEEN_ID_AND_SECRET = String.raw`(?:<\/?(?:td|th|tr)\b[^<>]{0,40}>|=3D|[ \t\u00a0,;:|/"'=&(){}\[\]]|\u00c2\u00a0|%2[Cc]|%3[AaBb]|%20|%2[Ff]|%22|\\"|&amp;|[A-Za-z_][A-Za-z0-9_.-]{0,39}${QUOTE}${SEP}|\d{4}-\d\d-\d\d[T ][0-9:.]+(?:Z|[+-]\d\d:?\d\d)?)`;
/** A secret key right after a key id. */
const NEXT_TO_ID_RE = new RegExp(`^${BETWEEN_ID_AND_SECRET}{1,12}(?<value>${B64_NOPAD}{40})${END_B64}`, 'd');
/** A secret key right before a key id (the end of the text before it). */
const BEFORE_ID_RE = new RegExp(`(?<value>${B64_NOPAD}{40})${END_B64}${BETWEEN_ID_AND_SECRET}{1,12}$`, 'd');
/** An Alibaba access key secret (30 alphanumerics, longer and base64-like for STS) right after its key id. */
const NEXT_TO_ALI_ID_RE = new RegExp(`^${BETWEEN_ID_AND_SECRET}{1,12}(?<value>${B64_NOPAD}{30,64})${END_B64}`, 'd');
/** How far from a key id its secret key is looked for. */
const NEAR_ID = 100;

/**
 * True when a value next to a key id has the shape of an AWS secret key: random, with both cases (a hex digest or a
 * git commit id has one), and not a documentation example.
 */
function secretNextToId(value: string): boolean {
  return !isDocExample(value) && looksRandom(value) && /[a-z]/.test(value) && /[A-Z]/.test(value);
}

function pemMatches(text: string, state: DetectState, out: SecretMatch[]): void {
  const begin = PEM_BEGIN.exec(text);
  if (state.pemLines >= 0) {
    const end = PEM_END.exec(text);
    const bodyText = end ? text.slice(0, end.index) : text;
    // Every run: a JSON-escaped key cut by wrapping holds several (`\n` between its lines), and the first may be
    // the short rest of the line before.
    const head = /^[A-Za-z0-9+/=]{1,15}(?=$|\\|["'\s])/.exec(bodyText);
    if (head) out.push(make('private-key', 0, head[0].length, head[0]));
    PEM_BODY_RUNS.lastIndex = 0;
    for (let run = PEM_BODY_RUNS.exec(bodyText); run !== null; run = PEM_BODY_RUNS.exec(bodyText))
      out.push(make('private-key', run.index, run.index + run[0].length, run[0]));
    // And the last, however short, when the body goes on past the end of the line.
    const cut = end ? null : /(?<=\\|\s)[A-Za-z0-9+/=]{1,15}$/.exec(bodyText);
    if (cut && cut.index > 0) out.push(make('private-key', cut.index, bodyText.length, cut[0]));
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
  // Without its end marker on the line, the body may have been cut by wrapping: even a short start is key material.
  if (e - s >= 16 || (!end && e > s))
    out.push(make('private-key', s, e, decodeSecretText(text.slice(s, e)).replace(/\\+[nr]|\s/g, '')));
  if (!end) state.pemLines = 0;
}

/**
 * A secret's name held in a field of its own, its value in the next field: ECS task definitions and Kubernetes env
 * (`{"name": "AWS_SECRET_ACCESS_KEY", "value": "…"}`, `- name: …` / `value: …`), SSM parameters (`"Name": "/p/…",
 * "Type": "SecureString", "Value": "…"`), plists (`<key>SecretAccessKey</key><string>…</string>`), Hadoop
 * configuration (`<name>fs.s3a.secret.key</name><value>…</value>`) and HTML tables (`<td>AccessKeySecret</td><td>…`).
 */
const FIELD_NAME =
  '(?<name>secret[-_ .]?(?:access[-_ .]?)?key|access[-_ .]?key[-_ .]?secret|(?:session|security)[-_ .]?token|secret)[A-Za-z0-9_.-]{0,24}';
/** What closes a name's field: its quote, or its element (`</key>`, `</name>`, a table cell). */
const FIELD_CLOSE = String.raw`${QUOTE}(?:[ \t]*</(?:key|name|td|th|dt)>)?[ \t]*`;
/** What opens the value's field: a `value` key (after a `Type` field, in SSM's output), an element or a cell. */
const VALUE_FIELD = String.raw`(?:${QUOTE}value${QUOTE}[ \t]*[:=][ \t]*|<(?:td|dd)(?:[ \t][^>]{0,60})?>[ \t]*|<(?:string|value)>)${VALUE_OPEN}`;
const NAMED_FIELD_RE = new RegExp(
  String.raw`${FIELD_NAME}${FIELD_CLOSE}(?:[,;][ \t]*(?:${QUOTE}[A-Za-z]{1,12}${QUOTE}[ \t]*[:=][ \t]*${QUOTE}[A-Za-z]{1,20}${QUOTE}[ \t]*,[ \t]*)?)?${VALUE_FIELD}(?<value>${B64}{30,})${END_B64}`,
  'gid',
);
/**
 * The same pair with the value's field first (`{"value": "…", "name": "AWS_SECRET_ACCESS_KEY"}`: an env list
 * serialised with its keys sorted, or written by hand), a short field between them allowed as above.
 */
const VALUE_THEN_NAME_RE = new RegExp(
  String.raw`${QUOTE}value${QUOTE}[ \t]*[:=][ \t]*${VALUE_OPEN}(?<value>${B64}{30,})${END_B64}${QUOTE}[ \t]*,[ \t]*(?:${QUOTE}[A-Za-z]{1,12}${QUOTE}[ \t]*[:=][ \t]*${QUOTE}[A-Za-z]{1,20}${QUOTE}[ \t]*,[ \t]*)?${QUOTE}name${QUOTE}[ \t]*[:=][ \t]*${QUOTE}[A-Za-z0-9_./-]{0,40}?${FIELD_NAME}${QUOTE}(?![A-Za-z0-9_.-])`,
  'gid',
);
/**
 * A field naming a secret that ends its line (`- name: AWS_SECRET_ACCESS_KEY`, `<key>SecretAccessKey</key>`, a table
 * row's name cell `<td>SecretAccessKey</td>`).
 */
const NAMED_FIELD_AT_END = new RegExp(
  String.raw`(?:(?:name|key)${QUOTE}[ \t]*[:=>][ \t]*|<(?:td|th|dt)(?:[ \t][^>]{0,60})?>[ \t]*)${QUOTE}[A-Za-z0-9_./-]{0,40}?${FIELD_NAME}${FIELD_CLOSE},?[ \t]*$`,
  'i',
);
/**
 * A short field between a name's line and its value's (`"Type": "SecureString",` in `aws ssm get-parameter`'s
 * output, JSON or YAML): the value may open the line after it.
 */
const FIELD_BETWEEN = new RegExp(
  String.raw`^[ \t]*${QUOTE}[A-Za-z]{1,12}${QUOTE}[ \t]*[:=][ \t]*${QUOTE}[A-Za-z]{1,20}${QUOTE},?[ \t]*$`,
);
/** A table row whose value cell comes before its name cell (`<td>VALUE</td><td>SecretAccessKey</td>`). */
const CELL_VALUE_THEN_NAME_RE = new RegExp(
  String.raw`<(?:td|dd)(?:[ \t][^>]{0,60})?>[ \t]*(?<value>${B64}{30,})${END_B64}[ \t]*</(?:td|dd)>[ \t]*<(?:td|th|dt)(?:[ \t][^>]{0,60})?>[ \t]*[A-Za-z0-9_./-]{0,40}?${FIELD_NAME}[ \t]*</(?:td|th|dt)>`,
  'gid',
);
/** The value's field opening the next line (`  value: …`, `<string>…</string>`). */
const VALUE_FIELD_AT_START = new RegExp(
  String.raw`^[ \t]*(?:-[ \t]*)?${VALUE_FIELD}(?<value>${B64}{30,})${END_B64}`,
  'id',
);

/** The kind of secret a field named `name` holds when its value is `v`, or null when `v` is not shaped like one. */
function namedFieldKind(name: string, v: string): SecretKind | null {
  if (isDocExample(v) || !looksRandom(v)) return null;
  if (/token$/i.test(name))
    return v.length < 100 ? null : v.startsWith('CAIS') ? 'alibaba-sts-security-token' : 'aws-session-token';
  // A name that says only `secret` (an SSM parameter `/prod/app/secret`): an AWS secret key's shape, nothing else.
  if (/^secret$/i.test(name))
    return v.length === 40 && !v.includes('=') && secretNextToId(v) ? 'aws-secret-access-key' : null;
  if (/secret$/i.test(name)) return v.length <= 64 && !v.includes('=') ? 'alibaba-access-key-secret' : null;
  // Both letter cases, as next to a key id: a hex digest or a commit id under a secret's name is no secret key.
  return v.length === 40 && !v.includes('=') && secretNextToId(v) ? 'aws-secret-access-key' : null;
}

function namedFields(text: string, state: DetectState, out: SecretMatch[]): void {
  const prev = state.namedField;
  if (prev && prev.line === state.line - 1) {
    // The value is on the line after this one: the name goes on being the last line's.
    if (FIELD_BETWEEN.test(text)) state.namedField = { line: state.line, name: prev.name };
    const m = VALUE_FIELD_AT_START.exec(text);
    const span = m?.indices?.groups?.value;
    if (m && span) {
      const v = decodeSecretText(m.groups!.value!);
      const kind = namedFieldKind(prev.name, v);
      if (kind) out.push(make(kind, span[0], span[1], v));
    }
  }
  if (!/[Ss][Ee][Cc][Rr][Ee][Tt]|[Tt][Oo][Kk][Ee][Nn]/.test(text)) return;
  keyed(NAMED_FIELD_RE, text, out, (v, m) => namedFieldKind(m.groups!.name!, v));
  if (/[Vv][Aa][Ll][Uu][Ee]/.test(text))
    keyed(VALUE_THEN_NAME_RE, text, out, (v, m) => namedFieldKind(m.groups!.name!, v));
  if (/<\/t[dh]>/i.test(text)) keyed(CELL_VALUE_THEN_NAME_RE, text, out, (v, m) => namedFieldKind(m.groups!.name!, v));
  const end = NAMED_FIELD_AT_END.exec(text);
  if (end) state.namedField = { line: state.line, name: end.groups!.name! };
}

/** A CSV header: two or more names, separated by commas, semicolons or tabs, quoted or not. */
const CSV_HEADER =
  /^"?[A-Za-z][A-Za-z0-9 _./-]{0,40}"?(?:([,;\t])"?[A-Za-z][A-Za-z0-9 _./-]{0,40}"?)(?:\1"?[A-Za-z][A-Za-z0-9 _./-]{0,40}"?)*$/;
/** A column name that names a secret, whole (`Secret access key`, `aws_secret_access_key`, `SessionToken`). */
const CSV_SECRET_NAME = new RegExp(`^[A-Za-z0-9_./ -]{0,40}?${FIELD_NAME}$`, 'i');

/**
 * A CSV header row naming a secret's column (`user,aws_secret_access_key,region`): the rows under it are read in that
 * column, as long as they have the header's number of fields. A header row ends the table before it.
 */
function csvRows(text: string, state: DetectState, out: SecretMatch[]): void {
  const t = text.endsWith('\r') ? text.slice(0, -1) : text;
  const col = state.csvColumn;
  if (col) {
    const fields = t.split(col.sep);
    if (fields.length !== col.fields) delete state.csvColumn;
    else {
      let start = 0;
      for (let i = 0; i < col.index; i++) start += fields[i]!.length + 1;
      let raw = fields[col.index]!;
      if (raw.length > 1 && raw.startsWith('"') && raw.endsWith('"')) {
        raw = raw.slice(1, -1);
        start++;
      }
      const v = decodeSecretText(raw.trim());
      const kind = /^[A-Za-z0-9+/=]+$/.test(v) ? namedFieldKind(col.name, v) : null;
      const lead = raw.length - raw.trimStart().length;
      if (kind) out.push(make(kind, start + lead, start + lead + raw.trim().length, v));
      // A one-column table goes on only while its rows are secrets: any line has one field.
      else if (col.fields === 1) delete state.csvColumn;
    }
  }
  if (!/[Ss][Ee][Cc][Rr][Ee][Tt]|[Tt][Oo][Kk][Ee][Nn]/.test(t)) return;
  // A one-column header: a line holding only a secret's name (a label above its value, a one-column export).
  const alone = /^[ \t]*"?([A-Za-z][A-Za-z0-9 _.-]{0,60}?)"?[ \t]*$/.exec(t);
  if (alone && CSV_SECRET_NAME.test(alone[1]!)) {
    const name = CSV_SECRET_NAME.exec(alone[1]!)!.groups!.name!;
    state.csvColumn = { index: 0, name, fields: 1, sep: ',' };
    return;
  }
  const h = CSV_HEADER.exec(t);
  if (!h) return;
  const sep = h[1]!;
  const names = t.split(sep).map((f) => f.replace(/^"|"$/g, ''));
  const index = names.findIndex((n) => CSV_SECRET_NAME.test(n));
  if (index < 0) return;
  const name = CSV_SECRET_NAME.exec(names[index]!)!.groups!.name!;
  state.csvColumn = { index, name, fields: names.length, sep };
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
  // The value of a field named on the line before holds no marker of its own.
  if (!PREFILTER.test(text)) {
    if (state.namedField?.line === state.line - 1) namedFields(text, state, out);
    if (state.csvColumn) csvRows(text, state, out);
    return dedupe(out);
  }
  namedFields(text, state, out);
  csvRows(text, state, out);
  if (CONTEXT_HINT.test(text)) state.awsContextUntil = state.line + AWS_CONTEXT_LINES;

  if (state.pemLines < 0 && out.length === 0) pemMatches(text, state, out);

  if (/A[KS]IA|ABIA|ACCA/.test(text))
    shaped(KEY_ID_RE, text, out, (raw, start) => {
      if (isDocExample(raw)) return null;
      const next = text.charCodeAt(start + raw.length);
      if (next >= 97 && next <= 122 && !keyIdBeforeLower(raw)) return null;
      return make('aws-access-key-id', start, start + raw.length, raw);
    });
  // A 40-character secret next to a key id, whatever the key names around it.
  for (const id of out.filter((m) => m.kind === 'aws-access-key-id')) {
    const after = NEXT_TO_ID_RE.exec(text.slice(id.end, id.end + NEAR_ID));
    const span = after?.indices?.groups?.value;
    if (after && span) {
      const value = decodeSecretText(after.groups!.value!);
      if (secretNextToId(value)) out.push(make('aws-secret-access-key', id.end + span[0], id.end + span[1], value));
    }
    const from = Math.max(0, id.start - NEAR_ID);
    const before = BEFORE_ID_RE.exec(text.slice(from, id.start));
    const bspan = before?.indices?.groups?.value;
    if (before && bspan && startsToken(text, from + bspan[0])) {
      const value = decodeSecretText(before.groups!.value!);
      if (secretNextToId(value)) out.push(make('aws-secret-access-key', from + bspan[0], from + bspan[1], value));
    }
  }
  if (text.includes('STS.')) {
    shaped(STS_ID_RE, text, out, (raw, start) =>
      isDocExample(raw) ? null : make('alibaba-sts-access-key-id', start, start + raw.length, raw),
    );
    // An Alibaba secret right after its STS key id, whatever its key is called (`ak='STS.…', secret='…'`).
    for (const id of out.filter((m) => m.kind === 'alibaba-sts-access-key-id')) {
      const after = NEXT_TO_ALI_ID_RE.exec(text.slice(id.end, id.end + NEAR_ID));
      const span = after?.indices?.groups?.value;
      if (!after || !span) continue;
      const value = decodeSecretText(after.groups!.value!);
      if (secretNextToId(value) && /[0-9]/.test(value))
        out.push(make('alibaba-access-key-secret', id.end + span[0], id.end + span[1], value));
    }
  }
  if (/[Ss][Ee][Cc][Rr][Ee][Tt]/.test(text)) {
    keyed(KEY_SECRET_RE, text, out, (v) => (!isDocExample(v) && looksRandom(v) ? 'aws-secret-access-key' : null));
    keyed(KEY_ALI_SECRET_RE, text, out, (v) =>
      !isDocExample(v) && looksRandom(v) ? 'alibaba-access-key-secret' : null,
    );
  }
  // A real (non-example) key id or secret on this line opens the context for the `Token` lines that follow.
  if (out.length > 0) state.awsContextUntil = state.line + AWS_CONTEXT_LINES;
  const awsContext = state.line <= state.awsContextUntil;
  if (/[Tt][Oo][Kk][Ee][Nn]/.test(text)) {
    keyed(KEY_TOKEN_RE, text, out, (v, m) => {
      if (v.startsWith('CAIS')) return looksRandom(v) ? 'alibaba-sts-security-token' : null;
      if (AWS_TOKEN_PREFIX.test(v)) return 'aws-session-token';
      // Only AWS's own spellings of the key are specific enough alone; a bare "Token" needs an AWS document around
      // it, and any other "…token" (an application's session_token) is never read as AWS's.
      const prefix = keyPrefix(text, m.index);
      if (!AWS_TOKEN_KEY.test(prefix) && !(awsContext && prefix === '')) return null;
      return !isDocExample(v) && looksRandom(v) ? 'aws-session-token' : null;
    });
    if (/metadata[-_]token/i.test(text))
      keyed(KEY_IMDSV2_RE, text, out, (v) => (looksRandom(v) ? 'aws-imdsv2-session-token' : null));
  }
  if (/IQoJ|FwoG|FQoG|AgoJ|AQoD/.test(text))
    shaped(AWS_TOKEN_RE, text, out, (raw, start) =>
      make('aws-session-token', start, start + raw.length, decodeSecretText(raw)),
    );
  if (/AQA[A-Z]A/.test(text))
    shaped(IMDSV2_TOKEN_RE, text, out, (raw, start) => {
      const v = decodeSecretText(raw);
      return looksRandom(v) ? make('aws-imdsv2-session-token', start, start + raw.length, v) : null;
    });
  if (text.includes('ya29.'))
    shaped(GCP_TOKEN_RE, text, out, (raw, start) =>
      isDocExample(raw) ? null : make('gcp-access-token', start, start + raw.length, raw),
    );
  if (text.includes('eyJ')) {
    state.jwtLine = state.line;
    shaped(JWT_RE, text, out, (raw, start) => {
      const id = classifyJwt(raw);
      if (!id) return null;
      return make(id.kind, start, start + raw.length, raw, {
        ...(id.owner ? { owner: id.owner } : {}),
        ...(id.expires ? { expires: id.expires } : {}),
        claims: id.claims,
      });
    });
  }
  return dedupe(out);
}

/** A secret key's value that runs to the end of the line, possibly cut there by wrapping (checked by the caller). */
const OPEN_SECRET_RE = new RegExp(
  `(?:${SECRET_KEY_NAME}|access[-_]?key[-_]?secret)${QUOTE}${SEP}${VALUE_OPEN}(?<value>${B64_NOPAD}{0,63}${PARTIAL_ESCAPE}?)=?$`,
  'id',
);
/**
 * A secret key whose value is a YAML block scalar (`SecretAccessKey: |`, `Token: >-`): the value is on the next,
 * more indented lines, literal or folded over several.
 */
const BLOCK_SCALAR_KEY_RE = new RegExp(
  String.raw`(?:${SECRET_KEY_NAME}|access[-_]?key[-_]?secret|(?:session|security)[-_]?token|(?<![A-Za-z0-9_.-])token)${QUOTE}[ \t]*:[ \t]*[|>][-+]?[1-9]?[-+]?[ \t]*(?:#.*)?$`,
  'i',
);

/**
 * The key's name when `line` ends with a secret key whose value is a YAML block scalar on the lines that follow
 * (`SecretAccessKey: |` gives `SecretAccessKey`), else null.
 */
export function blockScalarKey(line: string): string | null {
  if (!/[|>]/.test(line)) return null;
  const m = BLOCK_SCALAR_KEY_RE.exec(line);
  return m ? m[0].replace(/[^A-Za-z0-9_.-].*$/s, '') : null;
}

/**
 * The kind of secret a key names whose value the lines cut (a YAML block scalar under it), once its pieces are
 * joined, or null when the whole is not shaped like that secret. The same tests as for a value in one piece: an AWS
 * secret key's 40 characters, an Alibaba secret's 30 to 64, a token's 100 or more; a bare `token` key is AWS's only
 * with the token's own prefix or inside an AWS credentials document (`awsContext`).
 */
export function blockScalarKind(key: string, value: string, awsContext: boolean): SecretKind | null {
  if (isDocExample(value) || !looksRandom(value)) return null;
  if (/access[-_]?key[-_]?secret/i.test(key))
    return /^[A-Za-z0-9+/]{30,64}$/.test(value) ? 'alibaba-access-key-secret' : null;
  if (new RegExp(SECRET_KEY_NAME, 'i').test(key))
    return /^[A-Za-z0-9+/]{40}$/.test(value) ? 'aws-secret-access-key' : null;
  if (value.length < 100 || !/^[A-Za-z0-9+/=]+$/.test(value)) return null;
  if (value.startsWith('CAIS')) return 'alibaba-sts-security-token';
  if (AWS_TOKEN_PREFIX.test(value) || /(?:session|security)[-_]?token$/i.test(key) || awsContext)
    return 'aws-session-token';
  return null;
}

/**
 * The secret a value a line's end cut (an `OpenValue` of `kind`) is once joined with its rest from the next line, or
 * null when the whole does not have that secret's shape: what `detectLine` would have accepted in one piece.
 */
export function joinedValueKind(kind: SecretKind, value: string): SecretKind | null {
  if (isDocExample(value)) return null;
  switch (kind) {
    case 'aws-secret-access-key':
      return /^[A-Za-z0-9+/]{40}$/.test(value) && looksRandom(value) ? kind : null;
    case 'alibaba-access-key-secret':
      return /^[A-Za-z0-9+/]{30,64}$/.test(value) && looksRandom(value) ? kind : null;
    case 'gcp-access-token':
      return /^ya29\.[A-Za-z0-9_-][A-Za-z0-9._-]{30,}$/.test(value) ? kind : null;
    case 'aws-access-key-id':
    case 'alibaba-sts-access-key-id':
      if (/^(?:AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16}$/.test(value)) return 'aws-access-key-id';
      return /^STS\.[A-Za-z0-9]{16,40}$/.test(value) ? 'alibaba-sts-access-key-id' : null;
    default:
      return value.length >= 100 && /^[A-Za-z0-9+/=]+$/.test(value) && looksRandom(value) ? tokenKind(value) : null;
  }
}
const OPEN_TOKEN_RE = new RegExp(
  `token${QUOTE}${SEP}${QUOTE}(?<value>ya29\\.[A-Za-z0-9._-]*|${B64}{0,99}${PARTIAL_ESCAPE}?)$`,
  'id',
);
/**
 * A token's value in a string literal that ends the line and goes on in the next line's literal: Python's pprint
 * splits a long string into adjacent literals (`'Token': ('IQoJ…'` / `'…'`), Node's util.inspect joined them with `+`.
 */
const SPLIT_TOKEN_RE = new RegExp(`token${QUOTE}${SEP}\\(?(["'])(?<value>${B64}{16,})\\1[ \\t]*\\+?[ \\t]*$`, 'id');
const LITERAL_AT_END = /["'][ \t]*\+?[ \t]*$/;
const OPEN_KEY_ID_RE = new RegExp(`access_?key_?id${QUOTE}${SEP}${QUOTE}(?<value>[A-Za-z0-9.]{1,39})$`, 'id');
/** The start of an AWS key id (a documented prefix, or a piece of one, then base32) or of an Alibaba STS key id. */
const KEY_ID_START =
  /^(?:(?:A|AK|AKI|AS|ASI|AB|ABI|AC|ACC)|(?:AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{0,15}|(?:S|ST|STS)|STS\.[A-Za-z0-9]{0,39})$/;

/** A secret's value that a line's end cut (or that the next line holds): where it starts and what is known of it. */
export interface OpenValue {
  start: number;
  /** Where its span on this line ends (the line's end, or the end of a split literal's closing quote and `+`). */
  end: number;
  value: string;
  /** How many characters the whole value has at least (0: no fixed length). */
  min: number;
  /** The value goes on inside the next line's string literal. */
  literal: boolean;
  /** The secret the whole value is, when joined and shaped like one (`joinedValueKind`). */
  kind: SecretKind;
  /** Too short a piece to tell from a word: not masked on its line, only its rest on the next. */
  quiet?: true;
  /** Prefixes one of which the whole value starts with (a piece cut inside its own prefix, `AS` / `IA…`). */
  prefixes?: readonly string[];
}

/**
 * The start of a secret cut by a logger's line wrapping: the value of a secret key (an AWS or Alibaba secret key, an
 * AWS session token) that runs to the end of the line shorter than such a secret is, so no shape above matched it;
 * or a token's string literal a pretty-printer split. Call after `detectLine` on the same line (it reads the AWS
 * context that line opened). The value of such a key is secret whatever its length; its rest, at the start of the
 * next line, is the caller's to join.
 */
export function openValueAtEnd(line: string, state: DetectState): OpenValue | null {
  // A key, its quotes and separator and a value shorter than any secret fit in the line's last characters.
  const from = Math.max(0, line.length - OPEN_WINDOW);
  const r = openValueIn(from === 0 ? line : line.slice(from), state);
  return r && { ...r, start: r.start + from, end: r.end + from };
}

const OPEN_WINDOW = 200;

function openValueIn(text: string, state: DetectState): OpenValue | null {
  const n = text.length;
  if (/[Ss][Ee][Cc][Rr][Ee][Tt]/.test(text)) {
    const m = OPEN_SECRET_RE.exec(text);
    const span = m?.indices?.groups?.value;
    if (m && span) {
      // A quoted-printable soft line break (`=` at the end) is no part of the value: the mail goes on on the next.
      const v = decodeSecretText(text.slice(span[0], span[1]));
      const min = /^access[-_]?key[-_]?secret/i.test(m[0]) ? 30 : 40;
      const kind = min === 30 ? 'alibaba-access-key-secret' : 'aws-secret-access-key';
      if (v.length < min) return { start: span[0], end: span[1], value: v, min, literal: false, kind };
    }
  }
  if (/[Kk][Ee][Yy]_?[Ii][Dd]/.test(text)) {
    const m = OPEN_KEY_ID_RE.exec(text);
    const span = m?.indices?.groups?.value;
    if (m && span && KEY_ID_START.test(m.groups!.value!)) {
      const kind = m.groups!.value!.startsWith('S') ? 'alibaba-sts-access-key-id' : 'aws-access-key-id';
      return { start: span[0], end: n, value: m.groups!.value!, min: 20, literal: false, kind };
    }
  }
  if (/[Tt][Oo][Kk][Ee][Nn]/.test(text)) {
    const awsKey = (m: RegExpExecArray, v: string) => {
      const prefix = keyPrefix(text, m.index);
      const aws = AWS_TOKEN_KEY.test(prefix) || (state.line <= state.awsContextUntil && prefix === '');
      // Alibaba's `SecurityToken` and EC2's `X-aws-ec2-metadata-token` name their token whatever its first characters.
      const named = /(?:security|metadata)[-_]?$/i.test(prefix);
      return aws || named || /^ya29\./.test(v) || v.startsWith('CAIS') || AWS_TOKEN_PREFIX.test(v);
    };
    /**
     * Under any other token key, a value cut inside a Google or AWS token's own prefix (`ya2`, `IQoJb3J`): not masked
     * here (another application's token may start so), and joined only with a rest that completes that prefix.
     */
    const cutInPrefix = (v: string): readonly string[] | null => {
      if (v !== '' && 'ya29.'.startsWith(v)) return ['ya29.'];
      return v.length >= 4 && AWS_TOKEN_PREFIXES.some((p) => p.startsWith(v)) ? AWS_TOKEN_PREFIXES : null;
    };
    const m = OPEN_TOKEN_RE.exec(text);
    const span = m?.indices?.groups?.value;
    if (m && span) {
      const v = decodeSecretText(text.slice(span[0]));
      const open = { start: span[0], end: n, value: v, min: 0, literal: false, kind: tokenKind(v) } as const;
      if (awsKey(m, v)) return open;
      const prefixes = cutInPrefix(v);
      if (prefixes) return { ...open, quiet: true, prefixes };
    }
    // Only a line ending in a closed literal can hold one (most lines with a token key do not).
    const lit = LITERAL_AT_END.test(text) ? SPLIT_TOKEN_RE.exec(text) : null;
    const lspan = lit?.indices?.groups?.value;
    if (lit && lspan) {
      const v = decodeSecretText(lit.groups!.value!);
      if (awsKey(lit, v))
        return { start: lspan[0], end: lspan[1], value: v, min: 0, literal: true, kind: tokenKind(v) };
    }
  }
  // The shapes below end the line and (but for a prefix cut short) hold a marker: one test rules most lines out.
  const marked = SHAPE_MARKER.test(text);
  return (marked ? afterIdAtEnd(text) : null) ?? shapeAtEnd(text, marked);
}

/**
 * A secret key after its key id (what `NEXT_TO_ID_RE` finds in one line) that the line's end cut: the CLI's
 * `CREDENTIALS <key id> <expiry> <secret>` or `key=ASIA… secret=…` wrapped between them.
 */
const AFTER_ID_AT_END = new RegExp(
  `(?:AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16}${BETWEEN_ID_AND_SECRET}{1,12}(?<value>${B64_NOPAD}{1,39})$`,
  'd',
);

/** A name in camel or Pascal case (`SecretAccessKey`, `bucketName`): the next key, not a piece of a secret. */
const IDENTIFIER = /^[A-Za-z][a-z]+(?:[A-Z][a-z]+)*[A-Z]?$/;

function afterIdAtEnd(text: string): OpenValue | null {
  const m = AFTER_ID_AT_END.exec(text);
  const span = m?.indices?.groups?.value;
  if (!m || !span || !startsToken(text, m.index) || isDocExample(m[0])) return null;
  const value = decodeSecretText(m.groups!.value!);
  // Masked on its line only when it already looks like a piece of a secret key (a word there may be a bucket's name);
  // its rest, on the next line, only when the whole is one.
  const shown =
    value.length >= ID_PIECE_SHOWN &&
    looksRandom(value) &&
    /[a-z]/.test(value) &&
    /[A-Z]/.test(value) &&
    !IDENTIFIER.test(value);
  const open: OpenValue = {
    start: span[0],
    end: span[1],
    value,
    min: 40,
    literal: false,
    kind: 'aws-secret-access-key',
  };
  return shown ? open : { ...open, quiet: true };
}

/**
 * The start of a secret known by its own prefix that runs to the end of the line (a key id, a session or security
 * token, a Google or IMDSv2 token), shorter than the whole, which no shape above matched: a hard wrap cut it there.
 * A quoted-printable soft break (`=`) may follow it.
 */
const SHAPE_AT_END =
  /(?:(?:AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{0,15}|STS\.[A-Za-z0-9]{0,39}|(?:IQoJb3JpZ2luX2Vj|FwoGZXIvYXdz|FQoGZXIvYXdz|AgoJb3JpZ2luX2Vj|AQoDYXdz|CAIS|AQA[A-Z]A)[A-Za-z0-9+/_-]*|ya29\.[A-Za-z0-9._-]*)=?$/;
/** A key id's piece shorter than this at a line's end is not masked there (`ASIA` may be a word); its rest is. */
const ID_PIECE_SHOWN = 8;

/** A key id's or Google token's own prefix, cut by the line's end (`AS`, `STS`, `ya2`). */
const PREFIX_CUT_AT_END = /(?:^|[^A-Za-z0-9.]|=3D)(A|AK|AKI|AS|ASI|AB|ABI|AC|ACC|S|ST|STS|y|ya|ya2|ya29)=?$/;
const ID_PREFIXES = ['AKIA', 'ASIA', 'ABIA', 'ACCA', 'STS.'];
const TOKEN_PREFIX_CUT_AT_END = /(?:^|[^A-Za-z0-9+/])([A-Za-z0-9]{4,15})=?$/;

const SHAPE_MARKER = /A[KS]IA|ABIA|ACCA|STS\.|IQoJ|FwoG|FQoG|AgoJ|AQoD|CAIS|AQA[A-Z]A|ya29\./;

function shapeAtEnd(text: string, marked: boolean): OpenValue | null {
  // A prefix cut short is at most 4 characters, an `=` and `=3D` before it: only the line's last 9 are read.
  const from = Math.max(0, text.length - 9);
  const cut = PREFIX_CUT_AT_END.exec(from === 0 ? text : text.slice(from));
  if (cut) {
    const value = cut[1]!;
    const start = from + cut.index + cut[0].length - value.length - (cut[0].endsWith('=') ? 1 : 0);
    const end = start + value.length;
    // Nothing is masked here (it may be a word); the rest is read as the value's only when the whole has its shape.
    if (value.startsWith('y'))
      return { start, end, value, min: 0, literal: false, kind: 'gcp-access-token', quiet: true, prefixes: ['ya29.'] };
    const kind = value.startsWith('S') ? 'alibaba-sts-access-key-id' : 'aws-access-key-id';
    return { start, end, value, min: 20, literal: false, kind, quiet: true, prefixes: ID_PREFIXES };
  }
  if (!marked) return null;
  // An AWS session token cut inside its own (public) prefix: the prefix is left, the rest is read if it goes on it.
  const tfrom = Math.max(0, text.length - 17);
  const tok = TOKEN_PREFIX_CUT_AT_END.exec(tfrom === 0 ? text : text.slice(tfrom));
  if (tok && AWS_TOKEN_PREFIXES.some((p) => p.length > tok[1]!.length && p.startsWith(tok[1]!))) {
    const start = tfrom + tok.index + tok[0].indexOf(tok[1]!);
    const value = tok[1]!;
    const base = { start, end: start + value.length, value, min: 0, literal: false } as const;
    return { ...base, kind: 'aws-session-token', quiet: true, prefixes: AWS_TOKEN_PREFIXES };
  }
  const m = SHAPE_AT_END.exec(text);
  if (!m || !startsToken(text, m.index)) return null;
  const value = m[0].endsWith('=') && !/^(?:IQoJ|FwoG|FQoG|AgoJ|AQoD|CAIS|AQA)/.test(m[0]) ? m[0].slice(0, -1) : m[0];
  const end = m.index + value.length;
  if (/^(?:AKIA|ASIA|ABIA|ACCA|STS\.)/.test(value)) {
    const kind = value.startsWith('S') ? 'alibaba-sts-access-key-id' : 'aws-access-key-id';
    const quiet = value.length < ID_PIECE_SHOWN;
    return { start: m.index, end, value, min: 20, literal: false, kind, ...(quiet ? { quiet } : {}) };
  }
  return { start: m.index, end, value, min: 0, literal: false, kind: tokenKind(value) };
}

function tokenKind(v: string): SecretKind {
  if (v.startsWith('ya29.') || (v !== '' && 'ya29.'.startsWith(v))) return 'gcp-access-token';
  if (v.startsWith('AQA')) return 'aws-imdsv2-session-token';
  return v.startsWith('CAIS') ? 'alibaba-sts-security-token' : 'aws-session-token';
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
