import {
  blockScalarKey,
  blockScalarKind,
  type DetectState,
  detectLine,
  joinedValueKind,
  looksRandom,
  mayHoldSecret,
  newDetectState,
  type OpenValue,
  openValueAtEnd,
} from './detect.ts';
import { decodeSecretText } from './encoding.ts';
import { SECRET_KINDS, type SecretKind, type SecretMatch } from './kinds.ts';
import { KnownSecrets } from './known.ts';
import {
  base64Rest,
  decodedViews,
  encodedTokens,
  type LayerName,
  mayBeEncoded,
  sourceSpan,
  type View,
} from './layers.ts';
import { mask } from './mask.ts';

/** One span of a line to mask, with the secret it holds. `kind` is absent for a piece of an already known secret. */
export interface MaskSpan {
  start: number;
  end: number;
  value: string;
  kind?: SecretKind;
  /** Encoded text masked unread: the line had more decoded views than the budget (`MAX_VIEWS`). */
  unread?: true;
  /** Layers undone to see it (empty: as written). */
  layers: readonly string[];
}

/**
 * A secret the engine recognised in a stream, for a leak finding: the line it starts on, its kind and value, and its
 * span as written on that line. Besides what `detectLine` finds in a line as written, these are the secrets only the
 * engine sees: through the escapes of a view (percent, JSON, `\xNN`, HTML entities, terminal sequences), a key name
 * cut by a line's end, and a value whose pieces are on several lines (a YAML block scalar, a wrapped or
 * quoted-printable soft-broken value), once joined.
 */
export interface FoundSecret {
  line: number;
  match: SecretMatch;
}

/**
 * Layers whose views give leak findings. Base64 and hex of a whole document are masked, but a line holding one has
 * no secret's marker as written, so a scan would not read it for findings: findings stop where scanning does.
 */
const FINDING_LAYERS = new Set<LayerName>(['terminal', 'percent', 'json', 'hex-escape', 'html']);

/** Secrets of no fixed length: one running to the end of a wrapped line may go on at the start of the next. */
const OPEN_ENDED = new Set<SecretKind>([
  'aws-session-token',
  'aws-imdsv2-session-token',
  'gcp-access-token',
  'alibaba-sts-security-token',
  'alibaba-access-key-secret',
  'gcp-identity-token',
  'azure-managed-identity-token',
  'oci-instance-principal-token',
]);

/** Characters of a line kept for the next one near a credentials document (a key name, quotes and separator). */
const TAIL = 48;

/** True when `c` may continue a secret (base64, base64url, JWT dots). */
function secretChar(c: number): boolean {
  return (
    (c >= 48 && c <= 57) ||
    (c >= 65 && c <= 90) ||
    (c >= 97 && c <= 122) ||
    c === 43 ||
    c === 47 ||
    c === 61 ||
    c === 95 ||
    c === 45 ||
    c === 46
  );
}

/**
 * The one masking engine. Finds secrets by their shape in a line as written and in every decoded view of it
 * (percent, JSON escapes, `\xNN`, HTML entities, base64, hex, composed; see layers.ts), remembers every secret it
 * finds, and masks every later piece of a remembered secret wherever it shows up (a value logged alone, a token cut
 * by a logger's line wrapping). Each masked span is replaced by `mask(secret)`; every other character is kept.
 *
 * Stateful across lines (multi-line documents, known secrets): one Masker per input stream. For strings that are
 * not lines of one stream (the fields of a record), use `maskString`, which shares the known secrets only.
 * @example new Masker().line('{"AccessKeyId":"ASIAQ3EGU7LR2WNPQX7Z"}') // '{"AccessKeyId":"ASIA****QX7Z"}'
 */
export class Masker {
  readonly known: KnownSecrets;
  private readonly state: DetectState = newDetectState();
  /** A known secret that ran to the end of the previous line: its rest may open the next one. */
  private carry: Carry | null = null;
  /**
   * The end of the previous line, kept next to a credentials document: wrapping may cut a key's name (`"SecretAcc` /
   * `essKey":"…"`), and the value on the next line is then recognised only with it.
   */
  private tail: string | null = null;
  /**
   * The same as `carry`, for a secret cut at the end of a decoded view of the line (a document encoded whole, then
   * wrapped, as MIME wraps base64 at 76 characters): its rest opens the same view of the next line.
   */
  private viewCarry: { carry: NonNullable<Masker['carry']>; layers: readonly string[] } | null = null;
  /** The end of the previous line's decoded view that reached the line's end (as `tail`, for a key name cut in two). */
  private viewTail: { text: string; layers: readonly string[] } | null = null;
  /** Layers of the previous line's view that ended inside a private key's body (its BEGIN seen, not its END). */
  private viewPem: readonly string[] | null = null;
  /** A YAML block scalar holding a secret key's value (`SecretAccessKey: |`): its key's indent, what was read of it. */
  private scalar: Scalar | null = null;
  /** What `canSkip` learnt of the block whose lines come next (null: nothing, every test runs). */
  private block: { encoded: boolean; known: boolean; knownSize: number } | null = null;
  /** Secrets recognised for leak findings, when asked for (`takeFound`); null: not collected. */
  private readonly found: FoundSecret[] | null;

  constructor(known: KnownSecrets = new KnownSecrets(), opts: { findings?: boolean } = {}) {
    this.known = known;
    this.found = opts.findings ? [] : null;
  }

  /**
   * The secrets recognised since the last call (with `findings: true`), once each per line and kind. A value whose
   * pieces are on several lines is given when its last piece is read, with the line it starts on.
   */
  takeFound(): FoundSecret[] {
    if (!this.found || this.found.length === 0) return [];
    const seen = new Set<string>();
    const out = this.found.filter((f) => {
      const key = `${f.line}\u0000${f.match.kind}\u0000${f.match.value}`;
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    });
    this.found.length = 0;
    return out;
  }

  /** The end of the stream: a YAML block scalar still open there is whole. */
  end(): void {
    if (this.scalar) this.closeScalar(this.scalar);
    this.scalar = null;
  }

  /**
   * `n` lines of the stream not shown (blank, or too long to read): what a line's end left open is dropped, since the
   * next line shown is not the one that continues it. A YAML block scalar survives (blank lines stay inside it).
   */
  gap(n: number): void {
    if (n <= 0) return;
    this.state.line += n;
    this.carry = null;
    this.tail = null;
    this.viewCarry = null;
    this.viewTail = null;
    this.viewPem = null;
    this.block = null;
  }

  private report(line: number, match: SecretMatch): void {
    this.found?.push({ line, match });
  }

  /** Number of the last line seen (1-based). */
  get lineNo(): number {
    return this.state.line;
  }

  /**
   * True while the next line may hold the rest of something this one left open (a value or key name cut at its end,
   * a YAML block scalar, a field whose value is on the next line): that line must be shown even without a marker.
   */
  get expectsMore(): boolean {
    return (
      this.carry !== null ||
      this.tail !== null ||
      this.scalar !== null ||
      this.viewCarry !== null ||
      this.viewTail !== null ||
      this.viewPem !== null ||
      this.state.namedField?.line === this.state.line ||
      this.state.csvColumn !== undefined
    );
  }

  /** True inside a PEM block, where lines hold key material without any marker. */
  get inBlock(): boolean {
    return this.state.pemLines >= 0;
  }

  /** True when a block of lines can be passed through without looking at each line (then call `skipped`). */
  canSkip(block: string): boolean {
    const encoded = mayBeEncoded(block);
    const known = this.known.size > 0 && this.known.find(block).length > 0;
    // What the whole block cannot hold, none of its lines can: they are then given without those tests.
    this.block = { encoded, known, knownSize: this.known.size };
    if (this.state.pemLines >= 0 || this.carry !== null || this.tail !== null) return false;
    // The line before named a secret's field: its value may open this block.
    if (this.state.namedField?.line === this.state.line) return false;
    // Under a CSV header naming a secret's column, rows hold the secret without any marker.
    if (this.state.csvColumn !== undefined) return false;
    if (this.viewCarry !== null || this.viewTail !== null || this.viewPem !== null) return false;
    if (this.scalar !== null) return false;
    // A hard wrap may cut every marker of a document (`AS` / `IA…`, `Sec` / `retAccessKey`): read with its lines
    // joined, the block shows them again.
    return !encoded && !known && !mayHoldSecret(block) && !mayHoldSecret(joinLines(block));
  }

  /** Account for `n` lines passed through unchanged after `canSkip`. */
  skipped(n: number): void {
    this.state.line += n;
    this.block = null;
  }

  /** True when `text` (a line of the block `canSkip` saw) may hold a piece of a known secret. */
  private mayHoldKnown(stream: boolean): boolean {
    if (this.known.size === 0) return false;
    const b = stream ? this.block : null;
    return b === null || b.known || this.known.size !== b.knownSize;
  }

  /** The secret spans of the next line of the stream, sorted and without overlaps. */
  spans(text: string): MaskSpan[] {
    // A CRLF line's CR is no part of any value: a value cut by wrapping ends before it.
    return this.find(text.endsWith('\r') ? text.slice(0, -1) : text, this.state, true);
  }

  /** The next line of the stream with every secret masked. */
  line(text: string): string {
    return applySpans(text, this.spans(text));
  }

  /** A string outside the stream (a record field, an argv element), each of its lines read on its own. */
  maskString(s: string): string {
    if (this.known.size === 0 && !mayHoldSecret(s) && !mayBeEncoded(s)) return s;
    const state = newDetectState();
    const parts = s.split('\n');
    let changed = false;
    let scalar: Scalar | null = null;
    for (let i = 0; i < parts.length; i++) {
      const p = parts[i]!;
      const spans = this.find(p, state, false);
      scalar = this.blockScalar(p, scalar, spans, null);
      const out = applySpans(p, merge(spans));
      if (out !== p) {
        parts[i] = out;
        changed = true;
      }
    }
    return changed ? parts.join('\n') : s;
  }

  private find(text: string, state: DetectState, stream: boolean): MaskSpan[] {
    const spans: MaskSpan[] = [];
    const line = state.line + 1;
    for (const m of detectLine(text, state)) {
      spans.push({ start: m.start, end: m.end, value: m.value, kind: m.kind, layers: [] });
      this.known.addMatch(m);
      if (stream) this.report(line, m);
    }
    // A quoted-printable soft line break (`=` at a mail line's end) inside a key's name is no part of it.
    // A quoted-printable soft line break was taken off the tail when it was kept.
    const tail = this.tail;
    const before = stream ? (tail ?? '') : '';
    if (stream && tail !== null) {
      const t = tail;
      const joined = { line: line - 1, awsContextUntil: state.awsContextUntil, pemLines: -1 };
      for (const m of detectLine(t + text, joined))
        if (m.end > t.length) {
          const start = Math.max(0, m.start - t.length);
          spans.push({ start, end: m.end - t.length, value: m.value, kind: m.kind, layers: [] });
          this.known.addMatch(m);
          // A value the previous line's end cut is reported by its carry, once joined, on the line it starts on.
          if (m.start >= t.length || !this.carry?.report) this.report(line, { ...m, start, end: m.end - t.length });
        }
    }
    const prevView = stream ? this.viewCarry : null;
    const prevTail = stream ? this.viewTail : null;
    let nextView: Masker['viewCarry'] = null;
    let nextTail: Masker['viewTail'] = null;
    const prevPem = stream ? this.viewPem : null;
    let nextPem: Masker['viewPem'] = null;
    const encoded = (!stream || this.block === null || this.block.encoded) && mayBeEncoded(text);
    // The short last line of a wrapped base64 block passes no cheap test: read it when the block's view is open.
    const rest =
      !encoded && [prevView?.layers, prevTail?.layers, prevPem].some((l) => l?.join() === 'base64')
        ? base64Rest(text)
        : null;
    if (encoded || rest) {
      const pem = state.pemLines;
      const all = rest ? { list: [rest], truncated: false } : decodedViews(text);
      // Decoys that use up the budget must not hide a secret: what was left unread is masked whole.
      if (all.truncated)
        for (const [s, e] of encodedTokens(text))
          spans.push({ start: s, end: e, value: text.slice(s, e), unread: true, layers: [] });
      for (const v of all.list) {
        // Each view is the same line: detection state moves once per line, and PEM blocks are read as written.
        state.line = line - 1;
        state.pemLines = -1;
        const atStart = v.lo![0] === 0;
        const atEnd = v.text.length > 0 && v.hi![v.text.length - 1]! >= text.length - 2;
        // Inside a private key's body that the previous line's view opened: its runs are key material.
        if (prevPem && atStart && sameLayers(prevPem, v.layers)) state.pemLines = 0;
        const found = detectLine(v.text, state);
        if (stream && state.pemLines >= 0 && atEnd && nextPem === null) nextPem = v.layers;
        const findable = stream && v.layers.every((l) => FINDING_LAYERS.has(l));
        for (const m of found) {
          const [s, e] = sourceSpan(v, m.start, m.end);
          spans.push({ start: s, end: e, value: m.value, kind: m.kind, layers: v.layers });
          this.known.addMatch(m);
          if (findable) this.report(line, { ...m, start: s, end: e });
        }
        if (this.known.size > 0)
          for (const p of this.known.find(v.text)) {
            const [s, e] = sourceSpan(v, p.start, p.end);
            spans.push({ start: s, end: e, value: p.secret, layers: v.layers });
          }
        if (stream && v.text.length > 0) {
          if (prevTail && atStart && sameLayers(prevTail.layers, v.layers)) {
            const t = prevTail.text;
            const joined = { line: line - 1, awsContextUntil: state.awsContextUntil, pemLines: -1 };
            for (const m of detectLine(t + v.text, joined))
              if (m.end > t.length) {
                const [s, e] = sourceSpan(v, Math.max(0, m.start - t.length), m.end - t.length);
                spans.push({ start: s, end: e, value: m.value, kind: m.kind, layers: v.layers });
                this.known.addMatch(m);
              }
            if (joined.pemLines >= 0 && atEnd) nextPem ??= v.layers;
          }
          const before = prevTail && atStart && sameLayers(prevTail.layers, v.layers) ? prevTail.text : '';
          if (nextView === null) nextView = this.viewWrap(text, v, found, prevView, before, state, spans);
          if (nextTail === null && v.hi![v.text.length - 1]! >= text.length - 2)
            nextTail = { text: v.text.slice(-TAIL), layers: v.layers };
        }
      }
      state.line = line;
      state.pemLines = pem;
    }
    if (stream) {
      this.viewCarry = nextView;
      this.viewTail = nextTail;
      this.viewPem = nextPem;
    }
    let carry: Carry | null = null;
    // A quoted-printable soft line break at the end is no part of a value going on over it.
    const soft = softBreak(text);
    if (stream && this.carry) carry = this.continued(soft ? text.slice(0, -1) : text, this.carry, spans);
    if (this.known.size > 0)
      for (const p of this.mayHoldKnown(stream) ? this.known.find(text) : []) {
        spans.push({ start: p.start, end: p.end, value: p.secret, layers: [] });
        // A piece that runs to the end of the line while the secret goes on: the line was wrapped inside it.
        if (p.end === text.length && p.at + (p.end - p.start) < p.secret.length)
          carry = { secret: p.secret, at: p.at + (p.end - p.start), open: false };
      }
    if (stream) this.carry = carry;
    if (stream) {
      this.scalar = this.blockScalar(text, this.scalar, spans, state);
      const kept = state.line <= state.awsContextUntil || softBreakInName(text) || nameCutAtEnd(text);
      // The end of the stream as joined so far: a short line's tail keeps the end of the line before it too.
      this.tail = kept ? joinedEnd(before, text, soft) : null;
      this.wrapCarry(text, spans);
      // Read as written first: a line's last `=` may be a key's separator (`secret_key=`) as well as a soft break.
      if (!this.carry && !this.openCarry(text, before, spans, state) && soft)
        this.openCarry(text.slice(0, -1), before, spans, state);
      // A value cut at this line's end (a key id) may be what names the value after it on the next (its secret key).
      if (this.carry && this.tail === null) this.tail = joinedEnd(before, text, soft);
      let jwt = this.carry || state.jwtLine !== state.line ? -1 : text.lastIndexOf('eyJ');
      // The claims start with `eyJ` too: the JWT starts at its header's.
      if (jwt > 0 && text.charCodeAt(jwt - 1) === 46) jwt = text.lastIndexOf('eyJ', jwt - 2);
      if (jwt >= 0 && text.length - jwt <= JWT_CUT_MAX) {
        // A JWT cut inside its header or claims (no signature yet on this line): its signature is on the next.
        const cut = JWT_CUT.exec(text.slice(Math.max(0, jwt - 1)));
        if (cut) this.carry = { secret: cut[1]!, at: cut[1]!.length, open: true };
      }
    }
    return merge(spans);
  }

  /**
   * The rest of a secret cut by line wrapping, at the start of this line: the known rest of a known secret, or, after
   * a value whose end was not seen (`open`), the run of secret characters the line starts with (escapes included, so
   * a cut inside `%2F` or `\u002F` goes on). The run may follow blanks (an indented continuation, or a key alone at
   * the end of the previous line) when it is long enough to be the value's rest, and a quote when a pretty-printer
   * split the value into string literals, one a line.
   */
  private continued(text: string, c: Carry, spans: MaskSpan[]): Carry | null {
    let k = 0;
    if (c.open) {
      let i = c.literal || c.secret === '' || /^[ \t>]/.test(text) ? LEAD.exec(text)![0].length : 0;
      if (c.literal && !/["']/.test(text[i] ?? '')) return null;
      // A quote opening the value (after blanks, or right at the start when nothing of the value was seen yet).
      if ((i > 0 || c.secret === '') && /["']/.test(text[i] ?? '')) i++;
      k = secretRunEnd(text, i);
      // The rest of a token ends the line, or a quote, comma, bracket, blank or escape closes it (not a timestamp's
      // colon).
      if (k === i || (k < text.length && !CLOSES.test(text[k]!))) return null;
      // A wrapped line that goes on past this one (`k` at a long line's end) may hold only a piece of the rest: a
      // line of 64 or more, or one exactly as wide as the line the value was cut at (a hard wrap's middle line).
      const long = k === text.length && text.length >= 64;
      const middle = k === text.length && c.width !== undefined && text.length === c.width;
      // After blanks, only a run as long as the value's rest is read as it (not the first word of an indented line).
      if (i > 0 && !c.literal && !middle && k - i < Math.max(16, (c.min ?? 0) - c.secret.length)) return null;
      const whole = c.secret + text.slice(i, k);
      if (c.prefixes && !c.prefixes.some((p) => whole.startsWith(p) || p.startsWith(whole))) return null;
      // A middle line shorter than the whole value is taken as it is; past its length, the whole's shape decides.
      const taken = long || (middle && (!c.min || whole.length < c.min));
      if (!c.literal && !taken && !restShaped(c, text.slice(i, k), whole)) return null;
      // A token found whole at a long line's end has no known length: a word opening a sentence is not its rest.
      if (!c.literal && PROSE_WORD.test(text.slice(i, k)) && PROSE_GOES_ON.test(text.slice(k))) return null;
      // The rest's mask shows nothing the first part's did not (or, when that part was short, the whole's ends).
      spans.push({ start: i, end: k, value: c.secret.length >= 16 ? c.secret : whole, layers: [] });
      this.known.add(whole);
      const more: Carry = {
        ...(c.report ? { report: c.report } : {}),
        ...(c.min ? { min: c.min } : {}),
        secret: whole,
        at: whole.length,
        open: true,
      };
      if (SPLIT_GOES_ON.test(text.slice(k))) return { ...more, literal: true };
      if (long) return more;
      if (middle) return { ...more, width: c.width! };
      if (c.report) this.reportJoined(c.report, decodeSecretText(whole));
      return null;
    }
    while (k < text.length && c.at + k < c.secret.length && text.charCodeAt(k) === c.secret.charCodeAt(c.at + k)) k++;
    if (k > 0 && (k >= 4 || c.at + k === c.secret.length)) {
      spans.push({ start: 0, end: k, value: c.secret, layers: [] });
      if (k === text.length && c.at + k < c.secret.length) return { ...c, at: c.at + k };
    }
    return null;
  }

  /**
   * A secret key's value as a YAML block scalar (`SecretAccessKey: |`, `Token: >-`, the value on the lines under
   * it): the line goes on the block `open` holds, or opens one. What the block is once this line is read is returned.
   */
  private blockScalar(
    text: string,
    open: Scalar | null,
    spans: MaskSpan[],
    /** The stream's state (its value is then reported when whole), or null for a string outside the stream. */
    state: DetectState | null,
  ): Scalar | null {
    const s = open && this.inScalar(text, open, spans);
    if (open && s === null && state) this.closeScalar(open);
    // The value's first piece is the line a finding names.
    if (s && state && s.line === undefined && s.value !== '') s.line = state.line;
    const key = s === null ? blockScalarKey(text) : null;
    if (key === null) return s;
    const indent = LEAD_BLANKS.exec(text)![0].length;
    if (!state) return { indent, value: '', shown: '' };
    return { indent, value: '', shown: '', key, awsContext: state.line <= state.awsContextUntil };
  }

  /** A block scalar's value is whole: reported when its key and shape say which secret it is. */
  private closeScalar(s: Scalar): void {
    if (s.key === undefined || s.line === undefined || s.value === '') return;
    const value = decodeSecretText(s.value);
    const kind = blockScalarKind(s.key, value, s.awsContext ?? false);
    if (!kind) return;
    const k = SECRET_KINDS[kind];
    this.report(s.line, { kind, provider: k.provider, live: k.live, start: s.indent, end: s.indent, value });
  }

  /** A value joined over lines (`Carry.report`) is whole: reported when it has the shape its key said. */
  private reportJoined(r: NonNullable<Carry['report']>, value: string): void {
    const kind = joinedValueKind(r.kind, value);
    if (!kind) return;
    const k = SECRET_KINDS[kind];
    // As for one found in one piece: an AWS key id or secret key opens the context of its document's `Token`.
    if (k.provider === 'aws') this.state.awsContextUntil = Math.max(this.state.awsContextUntil, this.state.line + 12);
    this.report(r.line, { kind, provider: k.provider, live: k.live, start: r.start, end: r.start, value });
  }

  /**
   * A line of the block: indented deeper than its key and nothing but secret characters (the value, or a piece of it
   * when folded over lines), masked; a blank line stays inside the block. Anything else ends it (null). The value
   * read so far is remembered as a known secret.
   */
  private inScalar(text: string, s: Scalar, spans: MaskSpan[]): Scalar | null {
    const lead = LEAD_BLANKS.exec(text)![0].length;
    if (lead === text.length) return s;
    let end = text.length;
    while (end > lead && (text[end - 1] === ' ' || text[end - 1] === '\t')) end--;
    if (lead <= s.indent || secretRunEnd(text, lead) < end) return null;
    const value = s.value + text.slice(lead, end);
    // Every piece's mask shows the same ends, of the value's first 16 characters or more, never each piece's own
    // (a token folded over many lines would show four more of its characters a line).
    const shown = s.shown.length >= 16 ? s.shown : value;
    spans.push({ start: lead, end, value: shown, layers: [] });
    if (value.length >= 12) this.known.add(decodeSecretText(value));
    return { ...s, value, shown };
  }

  /**
   * Wrapping inside an encoded document: the rest of a secret cut at the end of the previous line's view opens this
   * line's view with the same layers; a secret this view cuts at its end goes on in the next line's.
   */
  private viewWrap(
    text: string,
    v: View,
    found: readonly SecretMatch[],
    prev: Masker['viewCarry'],
    before: string,
    state: DetectState,
    spans: MaskSpan[],
  ): Masker['viewCarry'] {
    const hi = v.hi![v.text.length - 1]!;
    if (prev && v.lo![0] === 0 && sameLayers(prev.layers, v.layers)) {
      const rest: MaskSpan[] = [];
      this.continued(v.text, prev.carry, rest);
      for (const r of rest) {
        const [s, e] = sourceSpan(v, r.start, r.end);
        spans.push({ ...r, start: s, end: e, layers: v.layers });
        // The whole view is the secret's middle (a long token over several wrapped lines): it goes on.
        if (r.end === v.text.length)
          return { carry: { secret: prev.carry.secret + v.text, at: 0, open: true }, layers: v.layers };
      }
    }
    // Base64 padding may follow the last decoded character.
    if (hi < text.length - 2) return null;
    // With the end of the previous line's view in front: the key may be there and its value start here.
    const open = openValueAtEnd(before + v.text, state);
    if (open) {
      const start = Math.max(0, open.start - before.length);
      const end = open.end - before.length;
      if (start < end && !open.quiet) {
        const [s, e] = sourceSpan(v, start, end);
        spans.push({ start: s, end: e, value: open.value, layers: v.layers });
      }
      return { carry: carryOf(open), layers: v.layers };
    }
    for (const m of found)
      if (m.end === v.text.length && OPEN_ENDED.has(m.kind))
        return { carry: { secret: m.value, at: m.value.length, open: true }, layers: v.layers };
    return null;
  }

  /**
   * A secret key's value cut short by the end of the line (a logger wrapped it): what is here is masked, and the
   * run of secret characters that opens the next line is its rest.
   */
  private openCarry(text: string, before: string, spans: MaskSpan[], state: DetectState): boolean {
    const open = openValueAtEnd(before + text, state);
    if (!open) return false;
    const start = Math.max(0, open.start - before.length);
    const end = open.end - before.length;
    // A secret found there already (a token's shape) is reported as such; only a value no shape matched is joined.
    const foundHere = spans.some(
      (s) => s.kind !== undefined && s.layers.length === 0 && s.end > start && s.start < end,
    );
    if (start < end && !open.quiet) spans.push({ start, end, value: open.value, layers: [] });
    this.carry = carryOf(open, text.length);
    if (!foundHere) this.carry.report = { kind: open.kind, line: state.line, start };
    return true;
  }

  /** A secret found by its shape right at the end of a long line may be cut by wrapping: remember where it stops. */
  private wrapCarry(text: string, spans: MaskSpan[]): void {
    if (this.carry) return;
    for (const s of spans) {
      if (s.end !== text.length || s.layers.length > 0) continue;
      // A short line ends where its writer chose, unless the token is shorter than any whole one of its kind, or a
      // hard wrap at the line's width cut it (then only a next line of that width, or a shaped rest, goes on it).
      const gcpCut = s.kind === 'gcp-access-token' && s.value.length < GCP_TOKEN_MIN;
      if (text.length < MIN_WRAP || (text.length < 64 && !gcpCut && s.kind === undefined)) continue;
      const written = text.slice(s.start, s.end);
      if (s.kind && OPEN_ENDED.has(s.kind) && written === s.value && secretChar(text.charCodeAt(text.length - 1))) {
        this.carry = { secret: s.value, at: s.value.length, open: true };
        if (text.length < 64) this.carry.width = text.length;
      }
    }
  }
}

/** A YAML block scalar holding a secret key's value. */
interface Scalar {
  /** The key's indent: the block's lines are indented deeper. */
  indent: number;
  /** The value read so far (the pieces of a folded one joined). */
  value: string;
  /** What every piece's mask is made of. */
  shown: string;
  /** In a stream: the key's name, the line of the value's first piece, and whether an AWS document was around. */
  key?: string;
  line?: number;
  awsContext?: boolean;
}

/** A secret whose end a line's end may have cut. */
interface Carry {
  /** The secret, or as much of it as was seen. */
  secret: string;
  /** How much of `secret` the lines so far held (the rest is looked for at the next line's start). */
  at: number;
  /** The secret's end was not seen: the next line's leading run of secret characters is its rest. */
  open: boolean;
  /** How many characters the whole value has at least (an AWS secret key's 40), when known. */
  min?: number;
  /** The value goes on inside the next line's string literal (a pretty-printer split it). */
  literal?: boolean;
  /** A key's value no shape matched on its line: reported, once whole, as the secret its key names. */
  report?: { kind: OpenValue['kind']; line: number; start: number };
  /** Prefixes one of which the whole value starts with (`OpenValue.prefixes`). */
  prefixes?: readonly string[];
  /**
   * The length of the line the value was cut at: a hard wrap (a terminal, `fold`, a logger's fixed width) makes every
   * line of the value but its last this long, so a next line as long and made only of the value's characters is
   * its middle, and the value goes on after it.
   */
  width?: number;
}

/**
 * The narrowest hard wrap whose middle lines are read as a value's: a line of 16 secret characters or more is no
 * word of prose (few words are that long), while a narrower one could be a word or a short identifier on its own
 * line. At narrower widths a value cut into pieces of fewer than 16 characters a line is not joined (a limit).
 */
const MIN_WRAP = 16;

function carryOf(open: OpenValue, width?: number): Carry {
  const c: Carry = { secret: open.value, at: open.value.length, open: true, min: open.min, literal: open.literal };
  if (width !== undefined && width >= MIN_WRAP) c.width = width;
  if (open.prefixes) c.prefixes = open.prefixes;
  return c;
}

/**
 * True when `run`, read as the rest of the value `c` holds the start of, makes a whole shaped like that secret: as
 * long as the secret is (an AWS secret key's 40 characters), random (mixed classes, many distinct characters), and an
 * AWS or STS key id's shape for a key id. A key alone at the end of a line (`Config key SecretAccessKey:`) has its
 * value on the next only when that value is the whole secret: never the first word of a sentence.
 */
function restShaped(c: Carry, run: string, whole: string): boolean {
  const min = c.min ?? 0;
  if (c.secret === '') return run.length >= Math.max(16, min) && looksRandom(decodeSecretText(run));
  // Escapes make `whole` longer than the value it writes: the length test is lenient in masking's favour.
  if (whole.length < min) return false;
  if (min === 20) return KEY_ID_WHOLE.test(whole);
  return whole.length < 16 || looksRandom(decodeSecretText(whole));
}

/**
 * A word of prose (`Please`, `then`) followed by another: a random rest of a token is that only by chance, and then
 * too short to matter (one of 12 characters or more is all letters of one case once in 10^4).
 */
const PROSE_WORD = /^[A-Z]?[a-z]{2,}$/;
const PROSE_GOES_ON = /^[ \t]+[A-Za-z]/;

/** The names of secret keys, lower case without separators, whose pieces a soft line break may part. */
const KEY_NAMES = [
  'secretaccesskey',
  'awssecretaccesskey',
  'secretkey',
  'accesskeysecret',
  'sessiontoken',
  'awssessiontoken',
  'securitytoken',
  'accesskeyid',
  'awsaccesskeyid',
  'accesstoken',
];
const SOFT_BREAK_AFTER_WORD = /([A-Za-z][A-Za-z_-]{1,30})=$/;

/**
 * True when `line` ends with a quoted-printable soft line break: an `=` after the start of a secret key's name (below),
 * or closing a line as long as quoted-printable makes them (76 characters, or up to 3 fewer where an `=XX` escape
 * would have been cut).
 */
function softBreak(line: string): boolean {
  if (line.charCodeAt(line.length - 1) !== 61) return false;
  return (line.length >= 73 && line.length <= 76) || softBreakInName(line);
}

/**
 * True when `line` ends with a quoted-printable soft line break (`=`) right after the start of a secret key's name
 * (`"SecretAcc=`): the name goes on at the start of the next line. A whole name before `=` is a key and its separator.
 */
function softBreakInName(line: string): boolean {
  if (line.charCodeAt(line.length - 1) !== 61) return false;
  const m = SOFT_BREAK_AFTER_WORD.exec(line);
  if (!m) return false;
  const word = m[1]!.toLowerCase().replace(/[_-]/g, '');
  return KEY_NAMES.some((k) => k.length > word.length && k.startsWith(word));
}

/** The end of the stream as joined so far (`before`, then the line without a soft break): a short line's tail keeps
 * the end of the line before it too. */
function joinedEnd(before: string, text: string, soft: boolean): string {
  return (before + (soft ? text.slice(0, -1) : text)).slice(-TAIL);
}

function isLetter(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
}

/**
 * True when a line as wide as a hard wrap's ends with a secret key's name or the start of one (`"SecretAcc`,
 * `export AWS_SESSION`): a wrap may have cut the name, and its rest, the separator and the value open the next line.
 */
function nameCutAtEnd(line: string): boolean {
  if (line.length < MIN_WRAP) return false;
  // The last word, read backwards (this runs on every line read): after an optional `=` and quote, letters, `_`
  // and `-`, starting with a letter after a character that is no letter or digit.
  let e = line.length;
  if (line.charCodeAt(e - 1) === 61) e--;
  const q = line.charCodeAt(e - 1);
  if (q === 34 || q === 39) e--;
  let b = e;
  while (b > 0 && e - b < 31) {
    const c = line.charCodeAt(b - 1);
    if (isLetter(c) || c === 95 || c === 45) b--;
    else break;
  }
  while (b < e && !isLetter(line.charCodeAt(b))) b++;
  if (b === e) return false;
  const before = b > 0 ? line.charCodeAt(b - 1) : 32;
  if (isLetter(before) || (before >= 48 && before <= 57)) return false;
  const word = line.slice(b, e).toLowerCase().replace(/[_-]/g, '');
  return word !== '' && KEY_NAMES.some((k) => k.startsWith(word));
}

/** `block` with its line ends (and quoted-printable soft breaks before them) taken out. */
function joinLines(block: string): string {
  return block.indexOf('\n') < 0 ? block : block.replace(/=?\r?\n/g, '');
}

/** A whole AWS or Alibaba STS key id (the shape `OPEN_KEY_ID_RE` starts). */
const KEY_ID_WHOLE = /^(?:(?:AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16}|STS\.[A-Za-z0-9]{16,40})$/;

/**
 * What may stand before a value's rest on the next line: blanks, mail quoting (`> `, wrapped base64 in a quoted
 * message), and a `+` joining string literals.
 */
const LEAD = /^(?:[ \t]*>)*[ \t]*(?:\+[ \t]*)?/;
const LEAD_BLANKS = /^[ \t]*/;
/** What may close a value's rest: a quote, comma, bracket, blank, CR or the start of an escaped one. */
const CLOSES = /["',;}\]) \t\r%\\&<]/;
/** A string literal closed at the end of a line, to be joined to the next (`'…'`, `'…' +`). */
const SPLIT_GOES_ON = /^["'][ \t]*\+?[ \t]*$/;
/** A JWT's header and its dot at a line's end: the line's end cut it before its signature. A cut inside the header is
 * not carried: base64 of any JSON document starts `eyJ` too, and carrying it masked the next line's first word. */
const JWT_CUT = /(?:^|[^A-Za-z0-9_.-])(eyJ[A-Za-z0-9_-]{16,}\.[A-Za-z0-9_-]*)$/;
/** How long a JWT's header and claims may be. */
const JWT_CUT_MAX = 4096;
/** Google access tokens are longer than this; a shorter one at a line's end was cut there. */
const GCP_TOKEN_MIN = 100;
/** One escaped base64 character (`%2F`, `%252B`, `\/`, `\u002F`, `%3D`), or the rest of one cut by a line's end. */
const ESCAPED_CHAR = /^(?:%2[BbFf]|%3[Dd]|%252[BbFf]|%253[Dd]|\\{1,7}\/|\\{1,7}u00(?:2[BbFf]|3[Dd]))/;

/** The end of the run of secret characters (escaped ones included) that starts at `i`. */
function secretRunEnd(text: string, i: number): number {
  let k = i;
  while (k < text.length) {
    if (secretChar(text.charCodeAt(k))) k++;
    else {
      const e = ESCAPED_CHAR.exec(text.slice(k, k + 16));
      if (!e) break;
      k += e[0].length;
    }
  }
  return k;
}

function sameLayers(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** Sort spans and merge overlapping ones (the first secret names the merged span). */
function merge(spans: MaskSpan[]): MaskSpan[] {
  if (spans.length <= 1) return spans;
  spans.sort((a, b) => a.start - b.start || b.end - a.end);
  const out: MaskSpan[] = [spans[0]!];
  for (let i = 1; i < spans.length; i++) {
    const s = spans[i]!;
    const last = out[out.length - 1]!;
    if (s.start < last.end) {
      if (s.end > last.end) out[out.length - 1] = { ...last, end: s.end };
    } else out.push(s);
  }
  return out;
}

/** `text` with every span replaced by the mask of its secret. */
export function applySpans(text: string, spans: readonly MaskSpan[]): string {
  if (spans.length === 0) return text;
  let out = '';
  let at = 0;
  for (const s of spans) {
    out += text.slice(at, s.start) + mask(s.value);
    at = s.end;
  }
  return out + text.slice(at);
}

/**
 * A string with every secret masked, read on its own (no state from other strings).
 * @example maskText('GET /x?k=ASIAQ3EGU7LR2WNPQX7Z') // 'GET /x?k=ASIA****QX7Z'
 */
export function maskText(s: string, masker: Masker = new Masker()): string {
  return masker.maskString(s);
}

/**
 * A copy of a record with every secret in any string masked, keys included. Records quote what they saw (a raw
 * request target, a header, a body, a command line), which may hold a credential: every writer passes its records
 * through this before they leave the process. Unchanged records are returned as they are.
 * @example maskRecord({ target: { raw: '/x?k=ASIAQ3EGU7LR2WNPQX7Z' } }) // { target: { raw: '/x?k=ASIA****QX7Z' } }
 */
export function maskRecord<T>(value: T, masker: Masker = new Masker()): T {
  if (typeof value === 'object' && value !== null && MASKED.has(value)) return value;
  const out = walk(value, 0, masker) as T;
  if (typeof out === 'object' && out !== null) MASKED.add(out);
  return out;
}

/**
 * Records `maskRecord` returned: passing one again costs nothing (a scan masks its findings where they are made, and
 * every sink masks what it is given). Records are not changed after masking.
 */
const MASKED = new WeakSet<object>();

function walk(v: unknown, depth: number, m: Masker): unknown {
  if (typeof v === 'string') return m.maskString(v);
  if (depth > 32 || v === null || typeof v !== 'object') return v;
  if (Array.isArray(v)) {
    let changed = false;
    const out = v.map((x) => {
      const y = walk(x, depth + 1, m);
      if (y !== x) changed = true;
      return y;
    });
    return changed ? out : v;
  }
  let changed = false;
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
    const y = walk(x, depth + 1, m);
    const key = m.maskString(k);
    if (y !== x || key !== k) changed = true;
    out[key] = y;
  }
  return changed ? out : v;
}
